# SPDX-License-Identifier: Apache-2.0
"""Connection options shared by every module of remediate.azure."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  endpoint:
    description: Azure Resource Manager endpoint (an https origin). Sovereign clouds and the lab change it.
    type: str
    default: https://management.azure.com
  auth:
    description:
      - How to get a token. C(default) is azure-identity's DefaultAzureCredential (service principal from the
        AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET environment, workload identity, managed identity,
        Azure CLI login...).
    type: str
    choices: [default, service_principal, managed_identity, cli]
    default: default
  authority:
    description: Microsoft Entra authority host (https origin); default the public cloud's.
    type: str
  audience:
    description: Token audience; the scope asked for is C(<audience>/.default). Default the endpoint.
    type: str
  tenant_id:
    description: Tenant (directory) id, for C(service_principal) (and C(cli) to pick a tenant).
    type: str
  client_id:
    description: Application (client) id for C(service_principal), or a user-assigned managed identity.
    type: str
  client_secret:
    description: Client secret for C(service_principal). Never logged.
    type: str
  ca_bundle:
    description: PEM file of the certificate authorities to trust for TLS (default the system store).
    type: path
  disable_instance_discovery:
    description: Skip Entra instance discovery; only for a private authority MSAL cannot discover.
    type: bool
    default: false
  retry_total:
    description: Retries of the SDK's retry policy (429 honouring Retry-After, 408, 5xx, connection errors).
    type: int
    default: 10
  polling_interval:
    description: Seconds between long-running-operation polls when ARM gives no Retry-After.
    type: int
"""

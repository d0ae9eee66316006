# SPDX-License-Identifier: Apache-2.0
"""Azure Resource Manager access through the Azure SDK for Python: settings, credential, clients, errors.

No Ansible import here: the orchestrator (orchestrator/azure/) uses the same code outside a module. The SDK does
the HTTP work: retries (429 with Retry-After, 5xx, connection errors), long-running-operation polling and token
handling; this file only builds its objects from validated settings and turns its exceptions into one error type
whose message never holds a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

PUBLIC_ENDPOINT = "https://management.azure.com"
AUTH_KINDS = ("default", "service_principal", "managed_identity", "cli")
GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
RG = r"[-\w._()]{1,90}"
VM_ID_RE = re.compile(rf"^/subscriptions/(?P<sub>{GUID})/resourceGroups/(?P<rg>{RG})/providers/"
                      r"Microsoft\.Compute/virtualMachines/(?P<vm>[A-Za-z0-9][-\w.]{0,63})/?$", re.I)
VAULT_ID_RE = re.compile(rf"^/subscriptions/(?P<sub>{GUID})/resourceGroups/(?P<rg>{RG})/providers/"
                         r"Microsoft\.RecoveryServices/vaults/(?P<vault>[A-Za-z][-A-Za-z0-9]{1,49})/?$", re.I)
LOCK_ID_RE = re.compile(rf"^/subscriptions/(?P<sub>{GUID})/resourceGroups/(?P<rg>{RG})(?P<resource>/providers/"
                        r"(?!Microsoft\.Authorization/)[\w.]+/[\w.]+/[-\w.]+)?/providers/Microsoft\.Authorization/"
                        r"locks/(?P<name>[^/<>%&:\\?+]{1,260})$", re.I)
JOB_ID_RE = re.compile(rf"^{GUID}$")


class ArmError(Exception):
    """A failed Azure call, as one line an operator can act on. `kind`: auth | not_found | throttled | server |
    client | network | config."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.code = code

    def as_dict(self) -> dict:
        return {"kind": self.kind, "status": self.status, "code": self.code, "message": str(self)}


@dataclass(frozen=True)
class VmId:
    subscription: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.Compute/virtualMachines/{self.name}")


@dataclass(frozen=True)
class VaultId:
    subscription: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.RecoveryServices/vaults/{self.name}")


def parse_vm_id(value: object) -> VmId:
    m = VM_ID_RE.fullmatch(str(value or "").strip())
    if not isinstance(value, str) or not m:
        raise ArmError("config", f"not a virtual machine resource id: {str(value)[:160]!r} (expected /subscriptions/"
                                 "<guid>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>)")
    return VmId(m["sub"], m["rg"], m["vm"])


def parse_vault_id(value: object) -> VaultId:
    m = VAULT_ID_RE.fullmatch(str(value or "").strip())
    if not isinstance(value, str) or not m:
        raise ArmError("config", f"not a Recovery Services vault id: {str(value)[:160]!r} (expected /subscriptions/"
                                 "<guid>/resourceGroups/<rg>/providers/Microsoft.RecoveryServices/vaults/<name>)")
    return VaultId(m["sub"], m["rg"], m["vault"])


def parse_job_id(value: object) -> str:
    """A backup job id is a GUID (an alert's extendedInfo.jobId, the last segment of .../backupJobs/<id>)."""
    text = str(value or "").strip().rstrip("/").rsplit("/", 1)[-1]
    if not isinstance(value, str) or not JOB_ID_RE.fullmatch(text):
        raise ArmError("config", f"not a backup job id: {str(value)[:80]!r} (expected a GUID)")
    return text


def _https_origin(value: str, what: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.query \
            or parts.fragment or parts.path not in ("", "/"):
        raise ArmError("config", f"{what} must be an https origin like https://management.azure.com: "
                                 f"{value[:120]!r}")
    return f"https://{parts.netloc}"


@dataclass(frozen=True)
class Settings:
    """Where and as whom to call ARM. Defaults are the public cloud with DefaultAzureCredential (service principal
    from AZURE_* variables, workload or managed identity, Azure CLI login...)."""

    endpoint: str = PUBLIC_ENDPOINT
    auth: str = "default"
    authority: str | None = None  # Entra ID authority host (default: the public cloud's, per azure-identity)
    audience: str | None = None  # token audience (default: the endpoint)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    ca_bundle: str | None = None  # PEM bundle to verify TLS with (None: the system / certifi store)
    disable_instance_discovery: bool = False  # only for an authority MSAL cannot discover (a private one)
    retry_total: int = 10  # azure-core RetryPolicy
    polling_interval: int | None = None  # seconds between long-running-operation polls when ARM gives none

    def validated(self) -> Settings:
        endpoint = _https_origin(self.endpoint or PUBLIC_ENDPOINT, "the ARM endpoint")
        authority = _https_origin(self.authority, "the authority") if self.authority else None
        audience = _https_origin(self.audience, "the audience") if self.audience else None
        if self.auth not in AUTH_KINDS:
            raise ArmError("config", f"auth must be one of {', '.join(AUTH_KINDS)}: {self.auth!r}")
        if self.auth == "service_principal":
            missing = [n for n in ("tenant_id", "client_id", "client_secret") if not getattr(self, n)]
            if missing:
                raise ArmError("config", f"auth service_principal needs {', '.join(missing)}")
        if self.tenant_id and not re.fullmatch(rf"{GUID}|[A-Za-z0-9.-]{{1,253}}", self.tenant_id):
            raise ArmError("config", "tenant_id must be a GUID or a domain name")
        if not 0 <= int(self.retry_total) <= 20:
            raise ArmError("config", "retry_total must be between 0 and 20")
        return Settings(endpoint, self.auth, authority, audience, self.tenant_id, self.client_id,
                        self.client_secret, self.ca_bundle, bool(self.disable_instance_discovery),
                        int(self.retry_total), self.polling_interval)

    @property
    def scope(self) -> str:
        return (self.audience or self.endpoint).rstrip("/") + "/.default"

    def transport_kwargs(self) -> dict:
        # No redirects: every request stays on the configured endpoint / authority.
        kw: dict = {"retry_total": self.retry_total, "permit_redirects": False}
        if self.ca_bundle:
            kw["connection_verify"] = self.ca_bundle
        return kw


def credential(settings: Settings):
    """The azure-identity credential for the settings (never logs or returns the secret)."""
    from azure import identity

    kw = settings.transport_kwargs()
    if settings.authority:
        kw["authority"] = settings.authority
    if settings.disable_instance_discovery:
        kw["disable_instance_discovery"] = True
    if settings.auth == "service_principal":
        return identity.ClientSecretCredential(settings.tenant_id, settings.client_id, settings.client_secret, **kw)
    if settings.auth == "managed_identity":
        return identity.ManagedIdentityCredential(client_id=settings.client_id, **settings.transport_kwargs())
    if settings.auth == "cli":
        return identity.AzureCliCredential(tenant_id=settings.tenant_id or "")
    return identity.DefaultAzureCredential(**kw)


def client(kind: str, settings: Settings, subscription: str, cred=None):
    """A management client of `kind` (compute | resources | locks | backup) bound to the configured endpoint."""
    if kind == "compute":
        from azure.mgmt.compute import ComputeManagementClient as cls
    elif kind == "resources":
        from azure.mgmt.resource.resources import ResourceManagementClient as cls
    elif kind == "locks":
        from azure.mgmt.resource.locks import ManagementLockClient as cls
    elif kind == "backup":
        from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient as cls
    else:
        raise ArmError("config", f"unknown client kind {kind!r}")
    kw = settings.transport_kwargs()
    if settings.polling_interval is not None:
        kw["polling_interval"] = settings.polling_interval
    return cls(cred or credential(settings), subscription, base_url=settings.endpoint,
               credential_scopes=[settings.scope], **kw)


def _first_line(text: object, limit: int = 400) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[:limit] + "…"


def arm_error(exc: BaseException) -> ArmError:
    """One ArmError for any exception the SDK or azure-identity raises (no traceback, no secret)."""
    from azure.core import exceptions as ex

    if isinstance(exc, ArmError):
        return exc
    try:
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover - azure-identity is a dependency
        CredentialUnavailableError = ()  # noqa: N806
    if isinstance(exc, CredentialUnavailableError):
        return ArmError("auth", f"no Azure credential available: {_first_line(exc)}")
    if isinstance(exc, ex.ClientAuthenticationError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        code = getattr(getattr(exc, "error", None), "code", None)
        return ArmError("auth", f"authentication rejected{f' ({status} {code})' if status else ''}: "
                                f"{_first_line(getattr(exc, 'message', exc))}", status=status, code=code)
    if isinstance(exc, ex.HttpResponseError):
        status = exc.status_code
        code = getattr(exc.error, "code", None) if exc.error else None
        message = getattr(exc.error, "message", None) if exc.error else None
        kind = ("not_found" if status == 404 else "throttled" if status == 429
                else "server" if status and status >= 500 else "auth" if status in (401, 403) else "client")
        return ArmError(kind, f"ARM answered {status}{f' {code}' if code else ''}: "
                              f"{_first_line(message or exc.reason or exc)}", status=status, code=code)
    if isinstance(exc, ex.ServiceRequestError | ex.ServiceResponseError):
        return ArmError("network", f"cannot reach Azure: {_first_line(exc)}")
    if isinstance(exc, ex.AzureError):
        return ArmError("client", _first_line(exc))
    if isinstance(exc, ValueError):
        return ArmError("config", _first_line(exc))
    raise exc


def raw(model) -> dict:
    """The JSON ARM sent for an SDK model (what the service said, whatever the model's declared types)."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    serialize = getattr(model, "serialize", None)
    if callable(serialize):  # msrest-style model (azure-mgmt-resource-locks): REST key names
        return serialize(keep_readonly=True)
    return model.as_dict(exclude_readonly=False)  # typespec-style model: the JSON as received

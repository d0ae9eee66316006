# SPDX-License-Identifier: Apache-2.0
"""What every module of this collection shares: the connection options and one way to fail.

The playbooks fill the options from inventory variables once, with
`module_defaults: {group/remediate.azure.arm: {...}}` (see playbooks/azure/). Failures are one line
(`msg`) plus `azure_error` {kind, status, code, message}; never a traceback, never a secret.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from .arm import AUTH_KINDS, PUBLIC_ENDPOINT, ArmError, Settings, arm_error

CONNECTION_ARGS = {
    "endpoint": {"type": "str", "default": PUBLIC_ENDPOINT},
    "auth": {"type": "str", "default": "default", "choices": list(AUTH_KINDS)},
    "authority": {"type": "str"},
    "audience": {"type": "str"},
    "tenant_id": {"type": "str"},
    "client_id": {"type": "str"},
    "client_secret": {"type": "str", "no_log": True},
    "ca_bundle": {"type": "path"},
    "disable_instance_discovery": {"type": "bool", "default": False},
    "retry_total": {"type": "int", "default": 10},
    "polling_interval": {"type": "int"},
}


def new_module(argument_spec: dict, **kwargs) -> AnsibleModule:
    return AnsibleModule(argument_spec={**CONNECTION_ARGS, **argument_spec}, **kwargs)


def settings(module: AnsibleModule) -> Settings:
    p = module.params
    return Settings(endpoint=p["endpoint"], auth=p["auth"], authority=p["authority"], audience=p["audience"],
                    tenant_id=p["tenant_id"], client_id=p["client_id"], client_secret=p["client_secret"],
                    ca_bundle=p["ca_bundle"], disable_instance_discovery=p["disable_instance_discovery"],
                    retry_total=p["retry_total"], polling_interval=p["polling_interval"]).validated()


def fail(module: AnsibleModule, exc: BaseException, doing: str, **result) -> None:
    err = exc if isinstance(exc, ArmError) else arm_error(exc)
    module.fail_json(msg=f"{doing}: {err}", azure_error=err.as_dict(), **result)


def run(module: AnsibleModule, doing: str, body) -> None:
    """Call body(settings) -> result dict and exit with it, or fail with one clear line."""
    try:
        result = body(settings(module))
    except Exception as exc:  # noqa: BLE001 - every error is reported, none is a traceback
        try:
            fail(module, exc, doing)
        except Exception:  # noqa: BLE001 - not an Azure error: still one line, with its type
            module.fail_json(msg=f"{doing}: {type(exc).__name__}: {exc}"[:600])
        return
    module.exit_json(**result)

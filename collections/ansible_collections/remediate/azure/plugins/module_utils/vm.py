# SPDX-License-Identifier: Apache-2.0
"""The VM as Azure sees it: existence, power and provisioning state, guest agent status, extensions.

Reads GET .../virtualMachines/{vm}?$expand=instanceView and GET .../virtualMachines/{vm}/extensions; deletes an
extension with the SDK's long-running operation (DELETE answers 202 + Azure-AsyncOperation, the poller follows it).
"""

from __future__ import annotations

from .arm import ArmError, Settings, VmId, arm_error, client, raw

BACKUP_PUBLISHER = "Microsoft.Azure.RecoveryServices"
BACKUP_TYPES = ("VMSnapshot", "VMSnapshotLinux")  # Windows / Linux backup extension types


def _status(statuses: list[dict], prefix: str) -> str | None:
    for s in statuses or []:
        code = str(s.get("code") or "")
        if code.startswith(prefix + "/"):
            return code.split("/", 1)[1]
    return None


def _extension(ext: dict) -> dict:
    props = ext.get("properties") or {}
    return {"name": ext.get("name"), "id": ext.get("id"), "publisher": props.get("publisher"),
            "type": props.get("type"), "type_handler_version": props.get("typeHandlerVersion"),
            "provisioning_state": props.get("provisioningState")}


def is_backup_extension(ext: dict) -> bool:
    return (str(ext.get("publisher") or "").casefold() == BACKUP_PUBLISHER.casefold()
            and str(ext.get("type") or "").casefold() in {t.casefold() for t in BACKUP_TYPES})


def vm_info(settings: Settings, vm: VmId, cred=None) -> dict:
    """{exists, id, location, os_type, provisioning_state, power_state, agent: {status, ready, version, message},
    extensions: [...], backup_extension: {...} | None}. A VM that ARM does not know (404) is exists=false."""
    compute = client("compute", settings, vm.subscription, cred)
    try:
        data = raw(compute.virtual_machines.get(vm.resource_group, vm.name, expand="instanceView"))
    except Exception as exc:  # noqa: BLE001 - every SDK error becomes an ArmError
        err = arm_error(exc)
        if err.kind == "not_found":
            return {"exists": False, "id": vm.id, "not_found": err.as_dict(), "extensions": [],
                    "backup_extension": None, "agent": {"ready": False, "status": None}}
        raise err from None
    props = data.get("properties") or {}
    view = props.get("instanceView") or {}
    agent = view.get("vmAgent") or {}
    agent_status = next(iter(agent.get("statuses") or []), {})
    try:
        extensions = [_extension(raw(e)) for e in compute.virtual_machine_extensions.list(vm.resource_group, vm.name)
                      .value or []]
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None
    views = {str(e.get("name")).casefold(): e for e in view.get("extensions") or []}
    for ext in extensions:
        ev = views.get(str(ext["name"]).casefold()) or {}
        first = next(iter(ev.get("statuses") or []), {})
        ext["status"] = {"code": first.get("code"), "display_status": first.get("displayStatus"),
                         "message": first.get("message")} if first else None
    backup = [e for e in extensions if is_backup_extension(e)]
    os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    return {
        "exists": True, "id": data.get("id") or vm.id, "name": data.get("name") or vm.name,
        "location": data.get("location"), "os_type": os_type,
        "provisioning_state": props.get("provisioningState"),
        "power_state": _status(view.get("statuses") or [], "PowerState"),
        "agent": {"status": agent_status.get("displayStatus"), "ready": agent_status.get("displayStatus") == "Ready",
                  "code": agent_status.get("code"), "message": agent_status.get("message"),
                  "version": agent.get("vmAgentVersion")},
        "extensions": extensions,
        "backup_extension": backup[0] if backup else None,
    }


def delete_extension(settings: Settings, vm: VmId, name: str, timeout: int, cred=None) -> None:
    """DELETE the extension and wait (bounded) for the long-running operation to finish."""
    compute = client("compute", settings, vm.subscription, cred)
    try:
        poller = compute.virtual_machine_extensions.begin_delete(vm.resource_group, vm.name, name)
        poller.result(timeout=timeout)
        if not poller.done():
            raise ArmError("timeout", f"deleting extension {name} did not finish within {timeout}s (status "
                                      f"{poller.status()}); it may still complete: check the VM's extensions")
    except ArmError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None

"""The Azure side of the scenario's hosts, validated (a typo fails loudly) and turned into the lab's ARM world.

A host gets a VM in the lab's ARM endpoint when it has an `azure:` mapping or `platform: azure` (a VM known only
to the control plane). Fields are listed in lab/azure/README.md.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

LAB_SUBSCRIPTION = "00000000-0000-4000-8000-00000000a2b1"
LAB_TENANT = "00000000-0000-4000-8000-0000000071e7"
BACKUP_PUBLISHER = "Microsoft.Azure.RecoveryServices"

AZURE_FIELDS = {"subscription", "resource_group", "vm_name", "location", "os_type", "exists", "resource_group_exists",
                "power_state", "provisioning_state", "agent", "extensions", "restore_point_groups", "backup",
                "lro_seconds", "faults"}
AGENT_FIELDS = {"status", "version", "message"}
EXTENSION_FIELDS = {"name", "publisher", "type", "version", "provisioning_state", "delete_outcome"}
GROUP_FIELDS = {"name", "locks", "collections"}
LOCK_FIELDS = {"name", "level", "notes", "resource"}
COLLECTION_FIELDS = {"name", "restore_points"}
BACKUP_FIELDS = {"vault", "protected", "policy", "jobs", "next_backup", "operation_seconds"}
VAULT_FIELDS = {"name", "resource_group", "subscription"}
JOB_FIELDS = {"id", "status", "operation", "error", "start_time", "end_time"}
ERROR_FIELDS = {"code", "title", "string", "recommendations"}
OUTCOME_FIELDS = {"status", "seconds", "error"}
FAULT_FIELDS = {"op", "status", "count", "retry_after", "code", "message"}
OPERATIONS = {"any", "token", "vm.get", "vm.instance_view", "extensions.list", "extension.get", "extension.delete",
              "compute.operation", "resource_groups.list", "locks.list", "lock.get", "lock.delete", "rpc.list",
              "rpc.get", "backup.status", "backup.trigger", "backup.operation", "job.get"}
FAULT_STATUSES = {401, 403, 429, 500, 502, 503, 504}
JOB_STATUSES = {"InProgress", "Completed", "CompletedWithWarnings", "Failed", "Cancelled"}
NAME_RE = re.compile(r"^[A-Za-z0-9][-\w.()]{0,89}$")


class SpecError(ValueError):
    pass


def _check(where: str, data: object, fields: set[str]) -> dict:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping")
    unknown = sorted(str(k) for k in set(data) - fields)
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)} (see lab/azure/README.md)")
    return data


def _name(where: str, value: object) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise SpecError(f"{where}: {value!r} is not a valid Azure name")
    return value


def _error(where: str, data: object) -> dict | None:
    if data is None:
        return None
    err = _check(where, data, ERROR_FIELDS)
    return {"errorCode": err.get("code"), "errorTitle": err.get("title"), "errorString": err.get("string"),
            "recommendations": list(err.get("recommendations") or [])}


def _outcomes(where: str, data: object) -> list[dict]:
    items = data if isinstance(data, list) else [data if data is not None else {"status": "Completed"}]
    out = []
    for i, item in enumerate(items):
        o = _check(f"{where}[{i}]", item, OUTCOME_FIELDS)
        status = o.get("status", "Completed")
        if status not in JOB_STATUSES - {"InProgress"}:
            raise SpecError(f"{where}[{i}].status: one of Completed, CompletedWithWarnings, Failed, Cancelled")
        out.append({"status": status, "seconds": float(o.get("seconds", 1)),
                    "error": _error(f"{where}[{i}].error", o.get("error"))})
    return out


def _faults(where: str, data: object) -> list[dict]:
    out = []
    for i, item in enumerate(data or []):
        f = _check(f"{where}[{i}]", item, FAULT_FIELDS)
        if f.get("op", "any") not in OPERATIONS:
            raise SpecError(f"{where}[{i}].op: one of {', '.join(sorted(OPERATIONS))}")
        if f.get("status") not in FAULT_STATUSES:
            raise SpecError(f"{where}[{i}].status: one of {sorted(FAULT_STATUSES)}")
        out.append({"op": f.get("op", "any"), "status": int(f["status"]), "count": int(f.get("count", 1)),
                    "retry_after": f.get("retry_after"), "code": f.get("code"), "message": f.get("message"),
                    "fired": 0})
    return out


def vm_spec(host: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One host's VM, normalized; raises SpecError naming the host and the field."""
    where = f"azure lab host {host}: azure"
    az = _check(where, spec.get("azure") or {}, AZURE_FIELDS)
    platform = spec.get("platform")
    os_type = az.get("os_type") or ("Windows" if platform == "windows" else "Linux")
    if os_type not in ("Windows", "Linux"):
        raise SpecError(f"{where}.os_type: Windows or Linux")
    subscription = str(az.get("subscription") or LAB_SUBSCRIPTION)
    try:
        uuid.UUID(subscription)
    except ValueError:
        raise SpecError(f"{where}.subscription: {subscription!r} is not a GUID") from None
    rg = _name(f"{where}.resource_group", az.get("resource_group", "rg-lab"))
    vm = _name(f"{where}.vm_name", az.get("vm_name", host))
    location = str(az.get("location", "westeurope"))
    if not re.fullmatch(r"[a-z0-9]{2,40}", location):
        raise SpecError(f"{where}.location: lower-case region name like westeurope")
    agent = _check(f"{where}.agent", az.get("agent") or {}, AGENT_FIELDS)
    default_ext = [{"name": "VMSnapshot" if os_type == "Windows" else "VMSnapshotLinux",
                    "publisher": BACKUP_PUBLISHER, "type": "VMSnapshot" if os_type == "Windows" else "VMSnapshotLinux",
                    "version": "1.0", "provisioning_state": "Succeeded"}]
    extensions = []
    for i, item in enumerate(az["extensions"] if "extensions" in az else default_ext):
        e = _check(f"{where}.extensions[{i}]", item, EXTENSION_FIELDS)
        if e.get("delete_outcome", "succeeded") not in ("succeeded", "failed"):
            raise SpecError(f"{where}.extensions[{i}].delete_outcome: succeeded or failed")
        extensions.append({"name": _name(f"{where}.extensions[{i}].name", e.get("name")),
                           "publisher": str(e.get("publisher", BACKUP_PUBLISHER)), "type": str(e.get("type", "")),
                           "version": str(e.get("version", "1.0")),
                           "provisioning_state": str(e.get("provisioning_state", "Succeeded")),
                           "delete_outcome": e.get("delete_outcome", "succeeded")})
    groups = []
    for i, item in enumerate(az.get("restore_point_groups") or []):
        g = _check(f"{where}.restore_point_groups[{i}]", item, GROUP_FIELDS)
        locks = []
        for j, lk in enumerate(g.get("locks") or []):
            lock = _check(f"{where}.restore_point_groups[{i}].locks[{j}]", lk, LOCK_FIELDS)
            if lock.get("level", "CanNotDelete") not in ("CanNotDelete", "ReadOnly"):
                raise SpecError(f"{where}.restore_point_groups[{i}].locks[{j}].level: CanNotDelete or ReadOnly")
            locks.append({"name": _name(f"{where}...locks[{j}].name", lock.get("name")),
                          "level": lock.get("level", "CanNotDelete"), "notes": lock.get("notes"),
                          "resource": lock.get("resource")})
        collections = []
        for j, c in enumerate(g.get("collections") or []):
            col = _check(f"{where}.restore_point_groups[{i}].collections[{j}]", c, COLLECTION_FIELDS)
            collections.append({"name": _name(f"{where}...collections[{j}].name", col.get("name")),
                                "restore_points": int(col.get("restore_points", 0))})
        groups.append({"name": _name(f"{where}.restore_point_groups[{i}].name", g.get("name")), "locks": locks,
                       "collections": collections})
    backup = None
    if az.get("backup") is not None:
        b = _check(f"{where}.backup", az["backup"], BACKUP_FIELDS)
        v = _check(f"{where}.backup.vault", b.get("vault") or {}, VAULT_FIELDS)
        jobs = []
        for i, item in enumerate(b.get("jobs") or []):
            j = _check(f"{where}.backup.jobs[{i}]", item, JOB_FIELDS)
            try:
                job_id = str(uuid.UUID(str(j.get("id"))))
            except ValueError:
                raise SpecError(f"{where}.backup.jobs[{i}].id: a GUID") from None
            if j.get("status", "Failed") not in JOB_STATUSES:
                raise SpecError(f"{where}.backup.jobs[{i}].status: one of {', '.join(sorted(JOB_STATUSES))}")
            jobs.append({"id": job_id, "status": j.get("status", "Failed"), "operation": j.get("operation", "Backup"),
                         "error": _error(f"{where}.backup.jobs[{i}].error", j.get("error")),
                         "start_time": j.get("start_time", "2026-01-05T01:00:00Z"),
                         "end_time": j.get("end_time", "2026-01-05T01:20:00Z")})
        backup = {"vault": {"name": _name(f"{where}.backup.vault.name", v.get("name", "vault-lab")),
                            "resource_group": _name(f"{where}.backup.vault.resource_group",
                                                    v.get("resource_group", "rg-backup")),
                            "subscription": str(v.get("subscription") or subscription)},
                  "protected": bool(b.get("protected", True)), "policy": str(b.get("policy", "DefaultPolicy")),
                  "jobs": jobs, "next_backup": _outcomes(f"{where}.backup.next_backup", b.get("next_backup")),
                  "operation_seconds": float(b.get("operation_seconds", 0))}
    return {
        "host": host, "subscription": subscription, "resource_group": rg, "name": vm, "location": location,
        "os_type": os_type, "exists": bool(az.get("exists", True)),
        "resource_group_exists": bool(az.get("resource_group_exists", True)),
        "power_state": str(az.get("power_state", "running")),
        "provisioning_state": str(az.get("provisioning_state", "Succeeded")),
        "agent": {"status": str(agent.get("status", "Ready")), "version": str(agent.get("version", "2.7.41491.1102")),
                  "message": agent.get("message")},
        "extensions": extensions, "restore_point_groups": groups, "backup": backup,
        "lro_seconds": float(az.get("lro_seconds", 0)), "faults": _faults(f"{where}.faults", az.get("faults")),
    }


def wants_azure(spec: dict[str, Any]) -> bool:
    return spec.get("platform") == "azure" or spec.get("azure") is not None


def vm_id(vm: dict) -> str:
    return (f"/subscriptions/{vm['subscription']}/resourceGroups/{vm['resource_group']}/providers/"
            f"Microsoft.Compute/virtualMachines/{vm['name']}")

"""The lab's Azure: the state behind the ARM endpoint, and what each simulated operation does to it.

Resources are JSON shaped like ARM's (the fields the SDK and the runbooks read). Long-running deletes and backup
jobs advance with the clock (`lro_seconds`, `next_backup[].seconds`). Every change is saved to the state file so
that `lab status` and the tests see it from any process.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.azure.spec import LAB_TENANT, vm_id


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ArmFault(Exception):
    """An ARM error answer: status, error code and message (ARM's error body), extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(kind: str, name: str, rg: str) -> ArmFault:
    return ArmFault(404, "ResourceNotFound", f"The Resource '{kind}/{name}' under resource group '{rg}' was not "
                                             "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")


class World:
    def __init__(self, vms: list[dict], state_file: Path | None = None, client_secret: str | None = None) -> None:
        self.lock = threading.RLock()
        self.state_file = state_file
        self.tenant = LAB_TENANT
        self.client_id = str(uuid.uuid4())
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.tokens: set[str] = set()
        self.vms = {v["host"]: copy.deepcopy(v) for v in vms}
        self.groups: dict[str, dict] = {}
        for vm in self.vms.values():
            for g in vm["restore_point_groups"]:
                group = self.groups.setdefault(g["name"].casefold(), {
                    "name": g["name"], "subscription": vm["subscription"], "location": vm["location"],
                    "owners": [], "locks": {}, "collections": {}})
                group["owners"].append(vm["host"])
                for lk in g["locks"]:
                    group["locks"][lk["name"].casefold()] = dict(lk)
                for c in g["collections"]:
                    group["collections"][c["name"].casefold()] = dict(c) | {"source": vm["host"]}
        self.compute_ops: dict[str, dict] = {}
        self.backup_ops: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        for vm in self.vms.values():
            for job in (vm["backup"] or {}).get("jobs", []):
                self.jobs[job["id"]] = dict(job) | {"host": vm["host"], "ready_at": 0.0}
        self.requests: list[dict] = []
        self.save()

    # -- lookups ------------------------------------------------------------------------------------------------
    def find_vm(self, sub: str, rg: str, name: str) -> dict | None:
        for vm in self.vms.values():
            if (vm["subscription"].casefold(), vm["resource_group"].casefold(), vm["name"].casefold()) == (
                    sub.casefold(), rg.casefold(), name.casefold()):
                return vm
        return None

    def require_vm(self, sub: str, rg: str, name: str) -> dict:
        if not any(v["resource_group"].casefold() == rg.casefold() and v["resource_group_exists"]
                   for v in self.vms.values()):
            raise ArmFault(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        vm = self.find_vm(sub, rg, name)
        if vm is None or not vm["exists"]:
            raise not_found("Microsoft.Compute/virtualMachines", name, rg)
        return vm

    def vm_by_id(self, resource_id: str) -> dict | None:
        for vm in self.vms.values():
            if vm_id(vm).casefold() == resource_id.rstrip("/").casefold():
                return vm
        return None

    def vault_host(self, sub: str, rg: str, vault: str) -> list[dict]:
        return [vm for vm in self.vms.values() if vm["backup"] and (vm["backup"]["vault"]["subscription"].casefold(),
                vm["backup"]["vault"]["resource_group"].casefold(), vm["backup"]["vault"]["name"].casefold()) == (
                sub.casefold(), rg.casefold(), vault.casefold())]

    def require_vault(self, sub: str, rg: str, vault: str) -> list[dict]:
        vms = self.vault_host(sub, rg, vault)
        if not vms:
            raise not_found("Microsoft.RecoveryServices/vaults", vault, rg)
        return vms

    # -- resources as ARM shows them ------------------------------------------------------------------------------
    def extension_json(self, vm: dict, ext: dict) -> dict:
        return {"name": ext["name"], "id": f"{vm_id(vm)}/extensions/{ext['name']}",
                "type": "Microsoft.Compute/virtualMachines/extensions", "location": vm["location"],
                "properties": {"publisher": ext["publisher"], "type": ext["type"],
                               "typeHandlerVersion": ext["version"], "autoUpgradeMinorVersion": True,
                               "provisioningState": ext["provisioning_state"]}}

    def instance_view(self, vm: dict) -> dict:
        now = iso()
        view: dict[str, Any] = {
            "computerName": vm["name"], "osName": vm["os_type"],
            "statuses": [{"code": f"ProvisioningState/{vm['provisioning_state'].lower()}", "level": "Info",
                          "displayStatus": f"Provisioning {vm['provisioning_state'].lower()}", "time": now},
                         {"code": f"PowerState/{vm['power_state']}", "level": "Info",
                          "displayStatus": f"VM {vm['power_state']}"}],
            "extensions": [{"name": e["name"], "type": f"{e['publisher']}.{e['type']}", "typeHandlerVersion":
                            e["version"], "statuses": [{"code": f"ProvisioningState/{e['provisioning_state'].lower()}",
                                                        "level": "Info" if e["provisioning_state"] == "Succeeded"
                                                        else "Error", "displayStatus":
                                                        f"Provisioning {e['provisioning_state'].lower()}"}]}
                           for e in vm["extensions"]],
        }
        if vm["power_state"] == "running":
            ready = vm["agent"]["status"] == "Ready"
            view["vmAgent"] = {"vmAgentVersion": vm["agent"]["version"] if ready else "Unknown", "statuses": [{
                "code": "ProvisioningState/succeeded" if ready else "ProvisioningState/Unavailable",
                "level": "Info" if ready else "Warning", "displayStatus": vm["agent"]["status"],
                "message": vm["agent"]["message"] or ("Guest Agent is running" if ready else
                                                      "VM status blob is found but not yet populated."),
                "time": now}]}
        return view

    def vm_json(self, vm: dict, expand: str | None) -> dict:
        data = {"name": vm["name"], "id": vm_id(vm), "type": "Microsoft.Compute/virtualMachines",
                "location": vm["location"],
                "properties": {"vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, vm_id(vm))),
                               "provisioningState": vm["provisioning_state"],
                               "storageProfile": {"osDisk": {"osType": vm["os_type"], "name": f"{vm['name']}_OsDisk",
                                                             "createOption": "FromImage"}}},
                "resources": [self.extension_json(vm, e) for e in vm["extensions"]]}
        if (expand or "").casefold() == "instanceview":
            data["properties"]["instanceView"] = self.instance_view(vm)
        return data

    def lock_json(self, group: dict, lock: dict) -> dict:
        scope = f"/subscriptions/{group['subscription']}/resourceGroups/{group['name']}"
        if lock.get("resource"):
            scope += f"/providers/Microsoft.Compute/restorePointCollections/{lock['resource']}"
        return {"id": f"{scope}/providers/Microsoft.Authorization/locks/{lock['name']}",
                "type": "Microsoft.Authorization/locks", "name": lock["name"],
                "properties": {"level": lock["level"], **({"notes": lock["notes"]} if lock.get("notes") else {})}}

    def rpc_json(self, group: dict, col: dict, expand: str | None) -> dict:
        vm = self.vms[col["source"]]
        rid = (f"/subscriptions/{group['subscription']}/resourceGroups/{group['name']}/providers/"
               f"Microsoft.Compute/restorePointCollections/{col['name']}")
        data = {"name": col["name"], "id": rid, "type": "Microsoft.Compute/restorePointCollections",
                "location": group["location"],
                "properties": {"source": {"id": vm_id(vm), "location": vm["location"]},
                               "restorePointCollectionId": str(uuid.uuid5(uuid.NAMESPACE_URL, rid)),
                               "provisioningState": "Succeeded"}}
        if (expand or "").casefold() == "restorepoints":
            data["properties"]["restorePoints"] = [
                {"name": f"{i:04d}", "id": f"{rid}/restorePoints/{i:04d}",
                 "properties": {"provisioningState": "Succeeded", "consistencyMode": "ApplicationConsistent"}}
                for i in range(col["restore_points"])]
        return data

    # -- long-running work ------------------------------------------------------------------------------------
    def advance(self) -> None:
        """Finish the operations and jobs whose time has come."""
        now = time.monotonic()
        changed = False
        for op in self.compute_ops.values():
            if op["status"] == "InProgress" and now >= op["ready_at"]:
                vm = self.vms[op["host"]]
                ext = next((e for e in vm["extensions"] if e["name"].casefold() == op["extension"].casefold()), None)
                if ext is not None and ext["delete_outcome"] == "failed":
                    op["status"] = "Failed"
                    ext["provisioning_state"] = "Failed"
                    op["error"] = {"code": "VMExtensionProvisioningError", "message": f"VM has reported a failure "
                                   f"when processing extension '{ext['name']}' (lab scenario: delete_outcome failed)."}
                else:
                    op["status"] = "Succeeded"
                    vm["extensions"] = [e for e in vm["extensions"] if e is not ext]
                op["end_time"] = iso()
                changed = True
        for op in self.backup_ops.values():
            if op["status"] == "InProgress" and now >= op["ready_at"]:
                op["status"], op["end_time"] = "Succeeded", iso()
                changed = True
        for job in self.jobs.values():
            if job["status"] == "InProgress" and job.get("outcome") and now >= job["ready_at"]:
                job["status"] = job["outcome"]["status"]
                job["error"] = job["outcome"]["error"] if job["status"] == "Failed" else None
                job["end_time"] = iso()
                changed = True
        if changed:
            self.save()

    def start_extension_delete(self, vm: dict, ext: dict) -> str:
        op_id = str(uuid.uuid4())
        ext["provisioning_state"] = "Deleting"
        self.compute_ops[op_id] = {"id": op_id, "host": vm["host"], "extension": ext["name"], "status": "InProgress",
                                   "start_time": iso(), "ready_at": time.monotonic() + vm["lro_seconds"]}
        self.save()
        return op_id

    def start_backup(self, vm: dict) -> str:
        b = vm["backup"]
        outcomes = b["next_backup"]
        done = sum(1 for j in self.jobs.values() if j["host"] == vm["host"] and j.get("outcome"))
        outcome = outcomes[min(done, len(outcomes) - 1)]
        job_id = str(uuid.uuid4())
        now = time.monotonic()
        self.jobs[job_id] = {"id": job_id, "host": vm["host"], "status": "InProgress", "operation": "Backup",
                             "error": None, "start_time": iso(), "end_time": None, "outcome": outcome,
                             "ready_at": now + b["operation_seconds"] + outcome["seconds"]}
        op_id = str(uuid.uuid4())
        self.backup_ops[op_id] = {"id": op_id, "host": vm["host"], "job": job_id, "status": "InProgress",
                                  "start_time": iso(), "ready_at": now + b["operation_seconds"]}
        self.save()
        return op_id

    def job_json(self, vm: dict, job: dict) -> dict:
        v = vm["backup"]["vault"]
        vault = (f"/subscriptions/{v['subscription']}/resourceGroups/{v['resource_group']}/providers/"
                 f"Microsoft.RecoveryServices/vaults/{v['name']}")
        props: dict[str, Any] = {"jobType": "AzureIaaSVMJob", "entityFriendlyName": vm["name"],
                                 "backupManagementType": "AzureIaasVM", "operation": job["operation"],
                                 "status": job["status"], "startTime": job["start_time"],
                                 "activityId": str(uuid.uuid5(uuid.NAMESPACE_URL, job["id"])),
                                 "errorDetails": [job["error"]] if job.get("error") else []}
        if job.get("end_time"):
            props["endTime"] = job["end_time"]
        return {"id": f"{vault}/backupJobs/{job['id']}", "name": job["id"],
                "type": "Microsoft.RecoveryServices/vaults/backupJobs", "properties": props}

    # -- persistence -----------------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            hosts = {}
            for host, vm in self.vms.items():
                hosts[host] = {
                    "resource_id": vm_id(vm), "exists": vm["exists"], "location": vm["location"],
                    "agent": vm["agent"]["status"], "power_state": vm["power_state"],
                    "extensions": [{k: e[k] for k in ("name", "publisher", "type", "provisioning_state")}
                                   for e in vm["extensions"]],
                    "restore_point_groups": [
                        {"name": g["name"], "locks": sorted(lk["name"] for lk in g["locks"].values()),
                         "collections": {c["name"]: c["restore_points"] for c in g["collections"].values()
                                         if c["source"] == host}}
                        for g in self.groups.values() if host in g["owners"]],
                    "backup_jobs": [{k: j.get(k) for k in ("id", "status", "operation", "error")}
                                    for j in self.jobs.values() if j["host"] == host],
                }
            return {"hosts": hosts, "requests": len(self.requests)}

    def save(self) -> None:
        if self.state_file is None:
            return
        tmp = self.state_file.with_name(f".{self.state_file.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.snapshot(), fh, indent=1, sort_keys=True)
        os.replace(tmp, self.state_file)

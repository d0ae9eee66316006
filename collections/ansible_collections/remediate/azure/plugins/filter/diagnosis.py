# SPDX-License-Identifier: Apache-2.0
"""Filters that turn what the remediate.azure modules read into the runbooks' diagnosis
(`remediate_diagnosis`: healthy, summary, findings, and the evidence), one per control-plane runbook.

- vm_gone_diagnosis(vm): 320001 ResourceNotFound / 400094 BCMV2VMNotFound;
- vm_state_diagnosis(vm, expect): the VM's state (vm-not-in-desirable-state, vm-provisioning-state-failed), or
  only its existence (expect `exists`);
- backup_extension_diagnosis(vm): ExtensionStuckInDeletionState;
- restore_point_diagnosis(vm, restore_points): UserErrorRpCollectionLimitReached;
- backup_result(backup_now result | error text): the `remediate_backup` of playbooks/azure/verify_backup.yml.
"""

from __future__ import annotations

AGENT_STEP = "check-guest-agent-and-retry"  # runbooks/backup-extension-stuck.yml: the manual step on the agent


def _vm_line(vm: dict) -> str:
    return f"VM {vm.get('name') or str(vm.get('id', '')).rsplit('/', 1)[-1]}"


def vm_gone_diagnosis(vm: dict) -> dict:
    if vm.get("exists"):
        return {"healthy": True, "vm_exists": True, "findings": [],
                "summary": f"{_vm_line(vm)} exists ({vm.get('location')}, {vm.get('power_state') or 'unknown'}): "
                           "the VM was not deleted (or was re-created); the backup can find it"}
    err = vm.get("not_found") or {}
    return {"healthy": False, "vm_exists": False,
            "findings": [{"kind": "vm_not_found", "id": vm.get("id"), "status": err.get("status"),
                          "code": err.get("code")}],
            "summary": f"the VM {vm.get('id')} does not exist (ARM answered {err.get('status')} {err.get('code')}): "
                       "re-create it with the same name and resource group, or stop its protection"}


STABLE_POWER_STATES = ("running", "stopped", "deallocated")


def vm_state_diagnosis(vm: dict, expect: str = "desirable") -> dict:
    """expect `exists`: healthy when ARM knows the VM (vm_gone_diagnosis). expect `desirable` (the default): the VM
    also allows a backup: provisioning Succeeded, power state Running / Stopped / Deallocated, guest agent Ready
    when running, no extension in state Failed."""
    if expect == "exists" or not vm.get("exists"):
        return vm_gone_diagnosis(vm)
    if expect != "desirable":
        raise ValueError(f"vm_state_expect must be exists or desirable, not {expect!r}")
    findings = []
    if vm.get("provisioning_state") != "Succeeded":
        findings.append({"kind": "provisioning_state", "value": vm.get("provisioning_state")})
    if vm.get("power_state") not in STABLE_POWER_STATES:
        findings.append({"kind": "power_state", "value": vm.get("power_state")})
    agent = vm.get("agent") or {}
    if vm.get("power_state") == "running" and not agent.get("ready"):
        findings.append({"kind": "agent_not_ready", "status": agent.get("status"), "message": agent.get("message")})
    for ext in vm.get("extensions") or []:
        if ext.get("provisioning_state") == "Failed":
            findings.append({"kind": "extension_failed", "name": ext.get("name"), "type": ext.get("type")})
    state = (f"provisioning {vm.get('provisioning_state')}, {vm.get('power_state') or 'power state unknown'}, "
             f"agent {agent.get('status') or 'not reporting'}")
    failed = [f["name"] for f in findings if f["kind"] == "extension_failed"]
    return {"healthy": not findings, "vm_exists": True, "findings": findings,
            "summary": f"{_vm_line(vm)}: {state}" + (f"; failed extensions: {', '.join(failed)}" if failed else "")
            + ("" if findings else ": a backup can run")}


def backup_extension_diagnosis(vm: dict) -> dict:
    """Unhealthy when the VM's backup extension is in any state but Succeeded, or when the guest agent is not
    Ready (then the manual step on the agent comes first: without it the extension cannot be reinstalled)."""
    if not vm.get("exists"):
        gone = vm_gone_diagnosis(vm)
        return gone | {"manual_first": AGENT_STEP, "extension": None, "agent": None,
                       "summary": gone["summary"] + " (see remediate explain ResourceNotFound)"}
    agent = vm.get("agent") or {}
    ext = vm.get("backup_extension")
    findings = []
    if not agent.get("ready"):
        findings.append({"kind": "agent_not_ready", "status": agent.get("status"), "message": agent.get("message"),
                         "power_state": vm.get("power_state")})
    if ext and ext.get("provisioning_state") != "Succeeded":
        findings.append({"kind": "extension_state", "name": ext.get("name"), "type": ext.get("type"),
                         "provisioning_state": ext.get("provisioning_state"), "id": ext.get("id")})
    parts = []
    if ext:
        parts.append(f"backup extension {ext.get('name')} ({ext.get('publisher')}.{ext.get('type')}) is "
                     f"{ext.get('provisioning_state')}")
    else:
        parts.append("no backup extension on the VM (the next backup installs it)")
    parts.append(f"guest agent {agent.get('status') or 'not reporting'}"
                 + ("" if agent.get("ready") else f" (VM {vm.get('power_state') or 'state unknown'}): the extension "
                                                  "cannot be reinstalled until the agent is Ready"))
    return {"healthy": not findings, "findings": findings, "summary": f"{_vm_line(vm)}: " + "; ".join(parts),
            "extension": ext, "agent": agent, "power_state": vm.get("power_state"),
            "manual_first": None if agent.get("ready") else AGENT_STEP}


def restore_point_diagnosis(vm: dict, rp: dict) -> dict:
    """Unhealthy when a lock applies to a restore point group of the VM's region, or when a collection of the VM
    holds the limit of instant restore points. Each lock finding carries the exact remediation."""
    findings = []
    for lock in rp.get("locks") or []:
        removable = (lock.get("scope") or {}).get("kind") == "resource_group"
        findings.append({
            "kind": "lock", "id": lock.get("id"), "name": lock.get("name"), "level": lock.get("level"),
            "notes": lock.get("notes"), "group": lock.get("group"), "removable": removable,
            "remediation": (f"remove the lock {lock.get('name')} ({lock.get('level')}) from resource group "
                            f"{lock.get('group')}: az lock delete --ids '{lock.get('id')}' (or Azure portal > "
                            f"Resource groups > {lock.get('group')} > Locks > Delete); Microsoft advises not to "
                            "lock the resource group created by Azure Backup")
                           if removable else
                           (f"the lock {lock.get('name')} is set on a resource inside {lock.get('group')} "
                            f"({lock.get('id')}): remove it by hand (az lock delete --ids '{lock.get('id')}')"),
        })
    for col in rp.get("at_limit") or []:
        findings.append({"kind": "restore_point_limit", "name": col.get("name"), "group": col.get("group"),
                         "restore_points": col.get("restore_points"), "limit": rp.get("limit")})
    groups = [g.get("name") for g in rp.get("groups") or []]
    if not groups:
        summary = (f"no resource group matches {rp.get('pattern')} in {vm.get('location')}: nothing there blocks the "
                   "restore point cleanup")
    else:
        locks = [f"{f['name']} ({f['level']}) on {f['group']}" for f in findings if f["kind"] == "lock"]
        full = [f"{f['name']} has {f['restore_points']}/{f['limit']}" for f in findings
                if f["kind"] == "restore_point_limit"]
        summary = (f"restore point groups {', '.join(groups)}: "
                   + (f"locks {', '.join(locks)} block the cleanup" if locks else "no lock")
                   + (f"; {'; '.join(full)} instant restore points" if full else "; below the limit"))
    return {"healthy": not findings, "summary": summary, "findings": findings, "groups": rp.get("groups") or [],
            "location": vm.get("location")}


def backup_result(result: dict | None, error: str | None = None) -> dict:
    """`remediate_backup` {status, job_id, error_code, error_message, summary} from backup_now's `backup`, or from
    the error that kept the module from asking (status unavailable)."""
    if error or not result:
        return {"status": "unavailable", "job_id": None, "error_code": None, "error_message": error or "no result",
                "summary": f"backup verification unavailable: {error or 'no result'}"}
    status = result.get("status")
    if status in ("would-trigger", "triggered"):
        status = "unavailable"
        message = "check mode: no backup was triggered" if result.get("status") == "would-trigger" else \
            "the backup was triggered but not followed"
    else:
        message = result.get("error_message")
    out = {"status": status, "job_id": result.get("job_id"), "error_code": result.get("error_code"),
           "error_message": message, "vault_id": result.get("vault_id"), "item": result.get("item")}
    what = f"backup job {out['job_id']}" if out["job_id"] else "backup"
    out["summary"] = {
        "succeeded": f"{what} completed: the backup works again",
        "failed": f"{what} failed: {out['error_code'] or ''} {message or ''}".strip(),
        "timeout": f"{what} did not finish in time: {message}",
    }.get(status, f"backup verification unavailable: {message}")
    return out


class FilterModule:
    def filters(self) -> dict:
        return {"vm_gone_diagnosis": vm_gone_diagnosis, "vm_state_diagnosis": vm_state_diagnosis,
                "backup_extension_diagnosis": backup_extension_diagnosis,
                "restore_point_diagnosis": restore_point_diagnosis, "backup_result": backup_result}

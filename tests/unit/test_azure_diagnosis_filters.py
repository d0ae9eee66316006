"""The remediate.azure diagnosis filters: what each control-plane runbook calls healthy (pure functions)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "collections") not in sys.path:
    sys.path.append(str(ROOT / "collections"))

from ansible_collections.remediate.azure.plugins.filter import diagnosis as d  # noqa: E402

EXT = {"name": "VMSnapshot", "publisher": "Microsoft.Azure.RecoveryServices", "type": "VMSnapshot",
       "provisioning_state": "Failed", "id": "/x/extensions/VMSnapshot"}
READY = {"status": "Ready", "ready": True}


def vm(**kw) -> dict:
    return {"exists": True, "name": "vm1", "id": "/subscriptions/s/.../vm1", "location": "westeurope",
            "power_state": "running", "agent": READY, "backup_extension": EXT} | kw


def test_extension_in_a_bad_state_is_unhealthy_and_absent_is_healthy() -> None:
    bad = d.backup_extension_diagnosis(vm())
    assert bad["healthy"] is False and bad["manual_first"] is None
    assert bad["findings"] == [{"kind": "extension_state", "name": "VMSnapshot", "type": "VMSnapshot",
                                "provisioning_state": "Failed", "id": "/x/extensions/VMSnapshot"}]
    assert d.backup_extension_diagnosis(vm(backup_extension=None))["healthy"] is True
    ok = d.backup_extension_diagnosis(vm(backup_extension=EXT | {"provisioning_state": "Succeeded"}))
    assert ok["healthy"] is True


def test_an_agent_that_is_not_ready_puts_the_manual_step_first() -> None:
    diag = d.backup_extension_diagnosis(vm(agent={"status": "Not Ready", "ready": False}))
    assert diag["healthy"] is False and diag["manual_first"] == "check-guest-agent-and-retry"
    assert "cannot be reinstalled until the agent is Ready" in diag["summary"]


def test_vm_gone() -> None:
    gone = d.vm_gone_diagnosis({"exists": False, "id": "/vm1",
                                "not_found": {"status": 404, "code": "ResourceNotFound"}})
    assert gone["healthy"] is False and gone["findings"][0]["kind"] == "vm_not_found"
    assert "re-create it" in gone["summary"] and "stop its protection" in gone["summary"]
    assert d.vm_gone_diagnosis(vm())["healthy"] is True


def test_locks_name_their_exact_remediation() -> None:
    lock = {"id": "/subscriptions/s/resourceGroups/AzureBackupRG_westeurope_1/providers/Microsoft.Authorization/"
                  "locks/k",
            "name": "k", "level": "CanNotDelete", "group": "AzureBackupRG_westeurope_1",
            "scope": {"kind": "resource_group"}}
    rp = {"groups": [{"name": "AzureBackupRG_westeurope_1"}], "locks": [lock], "at_limit": [], "limit": 18}
    diag = d.restore_point_diagnosis(vm(), rp)
    assert diag["healthy"] is False
    assert f"az lock delete --ids '{lock['id']}'" in diag["findings"][0]["remediation"]
    assert "k (CanNotDelete) on AzureBackupRG_westeurope_1" in diag["summary"]
    assert d.restore_point_diagnosis(vm(), rp | {"locks": []})["healthy"] is True
    full = d.restore_point_diagnosis(vm(), rp | {"locks": [], "at_limit": [{"name": "c", "restore_points": 18}]})
    assert full["healthy"] is False and full["findings"][0]["kind"] == "restore_point_limit"


def test_backup_result_statuses() -> None:
    ok = d.backup_result({"status": "succeeded", "job_id": "j"})
    assert ok["status"] == "succeeded" and ok["summary"] == "backup job j completed: the backup works again"
    failed = d.backup_result({"status": "failed", "job_id": "j", "error_code": "E", "error_message": "m"})
    assert (failed["status"], failed["error_code"], failed["error_message"]) == ("failed", "E", "m")
    assert d.backup_result({"status": "would-trigger"})["status"] == "unavailable"
    err = d.backup_result(None, "authentication rejected")
    assert err["status"] == "unavailable" and err["error_message"] == "authentication rejected"


def test_vm_state_desirable_for_a_backup() -> None:
    good = vm(provisioning_state="Succeeded", extensions=[EXT | {"provisioning_state": "Succeeded"}])
    assert d.vm_state_diagnosis(good)["healthy"] is True
    assert d.vm_state_diagnosis(good | {"power_state": "deallocated", "agent": {}})["healthy"] is True
    bad = d.vm_state_diagnosis(good | {"provisioning_state": "Failed", "power_state": "starting",
                                       "extensions": [EXT]})
    assert [f["kind"] for f in bad["findings"]] == ["provisioning_state", "power_state", "extension_failed"]
    assert d.vm_state_diagnosis(good, "exists")["healthy"] is True
    assert d.vm_state_diagnosis({"exists": False, "id": "/vm1"})["healthy"] is False

"""The lab's ARM endpoint driven by the real Azure SDK through the remediate.azure module_utils.

What is asserted is the SDK's real behaviour against the endpoint: TLS verified against the lab CA, the
service-principal token flow, retries of 429 (Retry-After) and 500 by azure-core's RetryPolicy, the
long-running-operation poller following Azure-AsyncOperation, and errors turned into one ArmError line.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

import pytest

# importable: conftest.py put the project's collections/ on sys.path
from ansible_collections.remediate.azure.plugins.module_utils import arm, backup, restore_points, vm

STUCK = {"platform": "windows", "azure": {
    "resource_group": "rg-app", "lro_seconds": 0,
    "extensions": [
        {"name": "VMSnapshot", "publisher": "Microsoft.Azure.RecoveryServices", "type": "VMSnapshot",
         "provisioning_state": "Failed"},
        {"name": "Monitoring", "publisher": "Microsoft.EnterpriseCloud.Monitoring", "type": "MicrosoftMonitoringAgent"},
    ]}}


def test_every_request_goes_to_the_configured_loopback_endpoint(arm_lab) -> None:
    lab = arm_lab({"vm1": STUCK})
    info = vm.vm_info(lab.settings(), lab.vm("vm1"))
    assert info["backup_extension"]["provisioning_state"] == "Failed"
    assert lab.endpoint.origin.startswith("https://127.0.0.1:")
    hosts = {r["host_header"] for r in lab.requests()}
    assert hosts == {lab.endpoint.origin.removeprefix("https://")}
    # the token came from the lab's authority (client credentials), then ARM was called with it
    assert [r["op"] for r in lab.requests()][:2] == ["token", "token"]
    assert {r["op"] for r in lab.requests()} >= {"vm.get", "extensions.list"}


def test_tls_is_verified_against_the_lab_ca_and_plain_http_is_refused(arm_lab) -> None:
    lab = arm_lab({"vm1": STUCK})
    with pytest.raises(arm.ArmError) as err:  # the system store does not trust the lab CA
        vm.vm_info(lab.settings(ca_bundle=None), lab.vm("vm1"))
    assert err.value.kind in ("network", "auth") and "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    with pytest.raises(arm.ArmError, match="https origin"):
        lab.settings(endpoint=lab.endpoint.origin.replace("https://", "http://"))
    ctx = ssl.create_default_context(cafile=str(lab.ca))
    with pytest.raises(urllib.error.HTTPError) as http:  # no bearer token: 401 like ARM
        urllib.request.urlopen(f"{lab.endpoint.origin}{lab.vm('vm1').id}?api-version=2024-03-01", context=ctx)
    assert http.value.code == 401
    assert json.loads(http.value.read())["error"]["code"] == "InvalidAuthenticationToken"


def test_a_wrong_client_secret_is_an_authentication_error(arm_lab) -> None:
    lab = arm_lab({"vm1": STUCK})
    with pytest.raises(arm.ArmError) as err:
        vm.vm_info(lab.settings(client_secret="not-the-secret"), lab.vm("vm1"))
    assert err.value.kind == "auth"
    assert "AADSTS7000215" in str(err.value) and "not-the-secret" not in str(err.value)


def test_anything_not_simulated_answers_501_naming_it(arm_lab) -> None:
    lab = arm_lab({"vm1": STUCK})
    compute = arm.client("compute", lab.settings(), lab.vm("vm1").subscription)
    with pytest.raises(Exception) as err:
        compute.virtual_machines.begin_power_off("rg-app", "vm1").result()
    e = arm.arm_error(err.value)
    assert e.status == 501 and e.code == "LabNotSimulated"
    assert "POST /subscriptions/" in str(e) and "/virtualMachines/vm1/powerOff" in str(e)


def test_throttling_is_retried_after_retry_after(arm_lab) -> None:
    spec = {"platform": "azure", "azure": {"faults": [{"op": "vm.get", "status": 429, "retry_after": 1, "count": 2}]}}
    lab = arm_lab({"vm1": spec})
    started = time.monotonic()
    info = vm.vm_info(lab.settings(), lab.vm("vm1"))
    assert info["exists"] is True
    assert [r["status"] for r in lab.requests("vm.get")] == [429, 429, 200]
    assert time.monotonic() - started >= 2  # azure-core honoured Retry-After: 1 twice


def test_a_transient_500_is_retried_and_a_persistent_one_reported(arm_lab) -> None:
    spec = {"platform": "azure", "azure": {"faults": [{"op": "extensions.list", "status": 500, "count": 1}]}}
    lab = arm_lab({"vm1": spec, "vm2": {"platform": "azure", "azure": {
        "faults": [{"op": "vm.get", "status": 500, "count": 0}]}}})
    assert vm.vm_info(lab.settings(), lab.vm("vm1"))["exists"]
    assert [r["status"] for r in lab.requests("extensions.list")] == [500, 200]
    with pytest.raises(arm.ArmError) as err:
        vm.vm_info(lab.settings(retry_total=1), lab.vm("vm2"))
    assert err.value.kind == "server" and err.value.status == 500
    assert [r["status"] for r in lab.requests("vm.get") if r["vm"] == "vm2"] == [500, 500]


def test_an_expired_token_is_reported_as_401_not_a_traceback(arm_lab) -> None:
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {"faults": [{"op": "any", "status": 401, "count": 0}]}}})
    with pytest.raises(arm.ArmError) as err:
        vm.vm_info(lab.settings(), lab.vm("vm1"))
    assert err.value.kind == "auth" and err.value.status == 401
    assert "ExpiredAuthenticationToken" in str(err.value)


def test_a_vm_that_is_gone_is_a_404_with_the_arm_code(arm_lab) -> None:
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {"exists": False}}})
    info = vm.vm_info(lab.settings(), lab.vm("vm1"))
    assert info["exists"] is False
    assert info["not_found"]["status"] == 404 and info["not_found"]["code"] == "ResourceNotFound"


def test_extension_delete_is_a_long_running_operation_followed_to_its_end(arm_lab) -> None:
    slow = STUCK | {"azure": STUCK["azure"] | {"lro_seconds": 2}}
    lab = arm_lab({"vm1": slow})
    started = time.monotonic()
    vm.delete_extension(lab.settings(), lab.vm("vm1"), "VMSnapshot", timeout=60)
    assert time.monotonic() - started >= 2
    ops = [r["op"] for r in lab.requests()]
    assert "extension.delete" in ops and ops.count("compute.operation") >= 2  # polled while InProgress
    names = [e["name"] for e in lab.world.vms["vm1"]["extensions"]]
    assert names == ["Monitoring"]  # only the backup extension went


def test_a_failed_delete_operation_is_reported(arm_lab) -> None:
    ext = dict(STUCK["azure"]["extensions"][0], delete_outcome="failed")
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {"extensions": [ext]}}})
    with pytest.raises(arm.ArmError) as err:
        vm.delete_extension(lab.settings(), lab.vm("vm1"), "VMSnapshot", timeout=30)
    assert "VMExtensionProvisioningError" in str(err.value) or "Failed" in str(err.value)


def test_locks_and_restore_point_collections_of_the_region(arm_lab) -> None:
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {"location": "westeurope", "restore_point_groups": [
        {"name": "AzureBackupRG_westeurope_1",
         "locks": [{"name": "keep", "notes": "do not touch"}, {"name": "rpc-lock", "resource": "AzureBackup_vm1_1"}],
         "collections": [{"name": "AzureBackup_vm1_1", "restore_points": 18}]},
        {"name": "AzureBackupRG_northeurope_1", "locks": [{"name": "other-region"}]}]}}})
    info = restore_points.restore_point_info(lab.settings(), lab.vm("vm1"), "westeurope")
    assert [g["name"] for g in info["groups"]] == ["AzureBackupRG_westeurope_1"]
    assert sorted(lk["name"] for lk in info["locks"]) == ["keep", "rpc-lock"]
    assert [lk["name"] for lk in info["removable_locks"]] == ["keep"]
    assert info["at_limit"][0]["restore_points"] == 18
    restore_points.delete_lock(lab.settings(), info["removable_locks"][0]["id"])
    with pytest.raises(arm.ArmError, match="only a lock set on a resource group"):
        restore_points.delete_lock(lab.settings(), next(lk["id"] for lk in info["locks"] if lk["name"] == "rpc-lock"))
    after = restore_points.restore_point_info(lab.settings(), lab.vm("vm1"), "westeurope")
    assert [lk["name"] for lk in after["locks"]] == ["rpc-lock"]


@pytest.mark.parametrize("outcome", ["Completed", "Failed"])
def test_on_demand_backup_followed_to_its_job(arm_lab, outcome: str) -> None:
    error = {"code": "UserErrorGuestAgentStatusUnavailable", "string": "VM Agent unable to communicate"}
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {"backup": {
        "vault": {"name": "vault-app", "resource_group": "rg-backup"},
        "next_backup": {"status": outcome, "seconds": 1, **({"error": error} if outcome == "Failed" else {})}}}}})
    status = backup.backup_status(lab.settings(), lab.vm("vm1"), "westeurope")
    assert status["protected"] and status["item"] == "vm;iaasvmcontainerv2;rg-lab;vm1"
    vault = backup.vault_of(status, None)
    op = backup.trigger(lab.settings(), vault, status, retain_days=30)
    result = backup.follow(lab.settings(), vault, op, timeout=30, interval=0.5)
    assert result["status"] == ("succeeded" if outcome == "Completed" else "failed")
    if outcome == "Failed":
        assert result["error_code"] == "UserErrorGuestAgentStatusUnavailable"
        assert result["error_message"] == "VM Agent unable to communicate"
    assert lab.world.jobs[result["job_id"]]["status"] == outcome


def test_following_a_backup_is_bounded(arm_lab) -> None:
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {"backup": {"next_backup": {"seconds": 600}}}}})
    status = backup.backup_status(lab.settings(), lab.vm("vm1"), "westeurope")
    vault = backup.vault_of(status, None)
    op = backup.trigger(lab.settings(), vault, status, retain_days=1)
    result = backup.follow(lab.settings(), vault, op, timeout=2, interval=0.5)
    assert result["status"] == "timeout" and result["job_id"]


def test_a_vm_without_protection_has_no_vault(arm_lab) -> None:
    lab = arm_lab({"vm1": {"platform": "azure", "azure": {}}})
    status = backup.backup_status(lab.settings(), lab.vm("vm1"), "westeurope")
    assert status["protected"] is False and status["status"] == "NotProtected"
    with pytest.raises(arm.ArmError, match="names no vault"):
        backup.vault_of(status, None)


def test_ids_are_validated_before_anything_is_sent() -> None:
    for bad in ("", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
                "https://evil.example/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                "Microsoft.Compute/virtualMachines/vm", None, 42):
        with pytest.raises(arm.ArmError, match="not a virtual machine resource id"):
            arm.parse_vm_id(bad)
    for bad in ("1234", "../x", "11111111-2222-3333-4444-55555555555g"):
        with pytest.raises(arm.ArmError, match="not a backup job id"):
            arm.parse_job_id(bad)
    for endpoint in ("http://management.azure.com", "https://management.azure.com/x", "https://u:p@h", "ftp://h"):
        with pytest.raises(arm.ArmError, match="https origin"):
            arm.Settings(endpoint=endpoint).validated()
    with pytest.raises(arm.ArmError, match="needs tenant_id, client_id, client_secret"):
        arm.Settings(auth="service_principal").validated()


def test_stopping_the_endpoint_ends_its_keep_alive_connections(arm_lab) -> None:
    import threading

    def handler_threads() -> list:  # socketserver.ThreadingMixIn runs each connection in process_request_thread
        return [t for t in threading.enumerate()
                if getattr(getattr(t, "_target", None), "__name__", "") == "process_request_thread"]

    lab = arm_lab({"vm1": STUCK})
    vm.vm_info(lab.settings(), lab.vm("vm1"))
    assert handler_threads()  # the SDK keeps its connection open
    lab.endpoint.stop()
    deadline = time.monotonic() + 5
    while handler_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not handler_threads()


def test_an_unknown_scenario_field_fails_lab_up_naming_it(tmp_path) -> None:
    from lab import manager
    from orchestrator.errors import UsageError

    scenario = tmp_path / "s.yml"
    scenario.write_text("hosts:\n  vm1:\n    platform: azure\n    azure:\n      faults:\n"
                        "        - {on: vm.get, status: 429}\n")  # YAML 1.1 reads `on` as true: the field is `op`
    with pytest.raises(UsageError, match=r"azure.faults\[0\]: unknown field\(s\) True"):
        manager.up(tmp_path / "lab", scenario)
    scenario.write_text("hosts:\n  vm1:\n    platform: azure\n    azure: {extension: []}\n")
    with pytest.raises(UsageError, match=r"unknown field\(s\) extension"):
        manager.up(tmp_path / "lab", scenario)
    assert not (tmp_path / "lab" / "azure" / "azure-lab.pid").exists()

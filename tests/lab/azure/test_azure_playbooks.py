"""The playbooks under playbooks/azure/ run by real ansible-playbook against a lab started like `remediate lab up`
(the ARM endpoint as its own process, the generated inventory). Check mode deletes nothing; the backup
verification never fails the play; errors are one line, never a traceback; the lab-only secret never shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import manager
from lab.azure import requests as lab_requests
from orchestrator.ansible_run import run_playbook
from orchestrator.paths import project_dir

pytestmark = pytest.mark.lab
SCENARIOS = Path(__file__).resolve().parents[3] / "lab" / "scenarios"


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    """Start a scenario once per module; every lab is stopped at the end."""
    started: dict[str, Path] = {}

    def start(scenario: str) -> Path:
        if scenario not in started:
            workdir = tmp_path_factory.mktemp(scenario.removesuffix(".yml")) / "lab"
            manager.up(workdir, SCENARIOS / scenario)
            started[scenario] = workdir
        return started[scenario]

    yield start
    for workdir in started.values():
        manager.down(workdir)


def play(workdir: Path, playbook: str, host: str, *, check: bool = False, extravars: dict | None = None):
    """Run a playbook like the engine does; returns (PlaybookRun, {fact: value} set on the host, stdout)."""
    facts: dict = {}
    seq = len(list(workdir.parent.glob("runs/*")))
    data_dir = workdir.parent / "runs" / f"{playbook.replace('/', '_')}-{host}-{seq}"
    run = run_playbook(project_dir() / "playbooks" / playbook, inventory=workdir / "inventory.yml", limit=[host],
                       data_dir=data_dir, check=check, extravars=extravars, timeout=300)
    for event in run.artifacts.joinpath("job_events").glob("*.json"):
        res = (json.loads(event.read_text()).get("event_data") or {}).get("res") or {}
        if isinstance(res, dict) and isinstance(res.get("ansible_facts"), dict):
            facts |= res["ansible_facts"]
    stdout = (run.artifacts / "stdout").read_text()
    return run, facts, stdout


def azure_state(workdir: Path, host: str) -> dict:
    return manager.status(workdir)["hosts"][host]["azure"]


def test_lab_inventory_points_every_host_at_the_loopback_endpoint(labs) -> None:
    import yaml

    workdir = labs("azure-extension-stuck.yml")
    inv = yaml.safe_load((workdir / "inventory.yml").read_text())
    hosts = {**inv["all"]["children"]["windows"]["hosts"], **inv["all"]["children"]["azure"]["hosts"]}
    for name, hv in hosts.items():
        assert hv["azure_arm_endpoint"].startswith("https://127.0.0.1:"), name
        assert hv["azure_arm_authority"] == hv["azure_arm_endpoint"]
        assert Path(hv["azure_arm_ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert hosts["vm1"]["ansible_connection"] == "winrm"  # the guest's own connection stays for guest runbooks
    assert (workdir / "inventory.yml").stat().st_mode & 0o077 == 0


def test_diagnose_overrides_the_winrm_connection_and_check_mode_deletes_nothing(labs) -> None:
    workdir = labs("azure-extension-stuck.yml")
    run, facts, stdout = play(workdir, "azure/backup_extension_diagnose.yml", "vm1", check=True)
    assert run.ok(), run.failed
    diag = facts["remediate_diagnosis"]
    assert diag["healthy"] is False and diag["extension"]["provisioning_state"] == "Failed"
    run, _, _ = play(workdir, "azure/remove_backup_extension.yml", "vm1", check=True)
    assert run.ok(), run.failed
    changed = [t for t in run.tasks if t.changed]
    assert [t.task for t in changed] == ["Delete the backup extension (DELETE .../extensions/{name}, long-running "
                                         "operation)"]
    assert changed[0].changes == ["extension: VMSnapshot → (removed)", "provisioning_state: Failed → (removed)"]
    assert [e["name"] for e in azure_state(workdir, "vm1")["extensions"]] == ["VMSnapshot", "MicrosoftMonitoringAgent"]
    assert not any(r["op"] == "extension.delete" for r in lab_requests(workdir / "azure"))


def test_an_agent_that_is_not_ready_keeps_the_extension(labs) -> None:
    workdir = labs("azure-extension-stuck.yml")
    _, facts, _ = play(workdir, "azure/backup_extension_diagnose.yml", "vm2", check=True)
    assert facts["remediate_diagnosis"]["manual_first"] == "check-guest-agent-and-retry"
    run, _, stdout = play(workdir, "azure/remove_backup_extension.yml", "vm2")
    assert run.ok() and not run.changed, run.failed
    assert "the guest agent is Not Ready: the extension could not be reinstalled, so nothing is deleted" in " ".join(
        stdout.split())
    assert [e["provisioning_state"] for e in azure_state(workdir, "vm2")["extensions"]] == ["Failed"]
    assert not any(r["op"] == "extension.delete" and r["vm"] == "vm2" for r in lab_requests(workdir / "azure"))


@pytest.mark.parametrize(("host", "status"), [("vm1", "succeeded"), ("vm3", "failed"), ("vm2", "unavailable")])
def test_verify_backup_records_the_job_outcome_and_never_fails_the_play(labs, host: str, status: str) -> None:
    workdir = labs("azure-extension-stuck.yml")
    run, facts, _ = play(workdir, "azure/verify_backup.yml", host, extravars={"verify_backup_timeout": 60})
    assert run.status == "successful" and not run.failed
    result = facts["remediate_backup"]
    assert result["status"] == status
    assert set(result) >= {"status", "job_id", "error_code", "error_message", "summary"}
    if status == "failed":
        assert result["error_code"] == "UserErrorGuestAgentStatusUnavailable"
        assert result["error_message"] == "VM Agent unable to communicate with Azure Backup"
        assert [j["status"] for j in azure_state(workdir, host)["backup_jobs"]] == ["Failed"]
    if status == "unavailable":
        assert "not protected" in result["error_message"]


def test_locks_found_are_reported_with_the_remediation_then_removed_on_apply(labs) -> None:
    workdir = labs("azure-rp-limit.yml")
    run, facts, _ = play(workdir, "azure/rp_collection_diagnose.yml", "vm1", check=True)
    diag = facts["remediate_diagnosis"]
    assert diag["healthy"] is False
    locks = {f["name"]: f for f in diag["findings"] if f["kind"] == "lock"}
    assert set(locks) == {"keep-backups", "rpc-lock"}  # the other region's group is not the VM's
    assert locks["keep-backups"]["remediation"].startswith("remove the lock keep-backups (CanNotDelete) from "
                                                           "resource group AzureBackupRG_westeurope_1: az lock delete")
    assert [f["restore_points"] for f in diag["findings"] if f["kind"] == "restore_point_limit"] == [18]
    plan, _, _ = play(workdir, "azure/rp_resource_group_lock_remove.yml", "vm1", check=True)
    assert [t.item for t in plan.tasks if t.changed] == [locks["keep-backups"]["id"]]  # the plan names the lock
    assert azure_state(workdir, "vm1")["restore_point_groups"][0]["locks"] == ["keep-backups", "rpc-lock"]
    apply, _, _ = play(workdir, "azure/rp_resource_group_lock_remove.yml", "vm1")
    assert apply.ok(), apply.failed
    state = {g["name"]: g["locks"] for g in azure_state(workdir, "vm1")["restore_point_groups"]}
    assert state == {"AzureBackupRG_westeurope_1": ["rpc-lock"], "AzureBackupRG_northeurope_1": ["other-region"]}
    _, facts, _ = play(workdir, "azure/rp_collection_diagnose.yml", "vm2", check=True)
    assert facts["remediate_diagnosis"]["healthy"] is True


def test_vm_gone_is_confirmed_by_a_404(labs) -> None:
    workdir = labs("azure-vm-gone.yml")
    expect = {"vm_state_expect": "exists"}  # runbooks/vm-no-longer-exists.yml vars
    _, facts, _ = play(workdir, "azure/vm_state_diagnose.yml", "vm1", check=True, extravars=expect)
    assert facts["remediate_diagnosis"]["healthy"] is False
    finding = facts["remediate_diagnosis"]["findings"][0]
    assert (finding["kind"], finding["status"], finding["code"]) == ("vm_not_found", 404, "ResourceNotFound")
    assert finding["id"].endswith("/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1")
    _, facts, _ = play(workdir, "azure/vm_state_diagnose.yml", "vm2", check=True, extravars=expect)
    assert facts["remediate_diagnosis"]["healthy"] is True


def test_throttling_500_and_a_slow_operation_still_remove_the_extension(labs) -> None:
    workdir = labs("azure-faults.yml")
    run, _, _ = play(workdir, "azure/remove_backup_extension.yml", "vm1")
    assert run.ok(), run.failed
    assert azure_state(workdir, "vm1")["extensions"] == []
    seen = [(r["op"], r["status"]) for r in lab_requests(workdir / "azure") if r["vm"] == "vm1"]
    assert seen[:3] == [("vm.get", 429), ("vm.get", 429), ("vm.get", 200)]
    assert ("extension.delete", 500) in seen and ("extension.delete", 202) in seen


@pytest.mark.parametrize(("host", "expected"), [("vm2", "ARM answered 500 InternalServerError"),
                                                ("vm3", "authentication rejected (401 ExpiredAuthenticationToken)")])
def test_persistent_errors_are_one_line_without_traceback_or_secret(labs, host: str, expected: str) -> None:
    workdir = labs("azure-faults.yml")
    run, _, stdout = play(workdir, "azure/backup_extension_diagnose.yml", host, check=True)
    problems = {**run.failed, **run.unreachable}  # a refused credential is reported like an unreachable host
    assert list(problems) == [host] and expected in problems[host]
    assert (host in run.unreachable) == (host == "vm3")
    assert "Traceback" not in stdout and "Traceback" not in problems[host]
    import yaml

    secret = yaml.safe_load((workdir / "inventory.yml").read_text())["all"]["children"]["azure"]["hosts"][host][
        "azure_client_secret"]
    leaked = [p for p in run.artifacts.rglob("*") if p.is_file() and secret in p.read_text(errors="replace")]
    assert not leaked


def test_no_request_ever_left_loopback(labs) -> None:
    for scenario in ("azure-extension-stuck.yml", "azure-rp-limit.yml", "azure-vm-gone.yml", "azure-faults.yml"):
        workdir = labs(scenario)
        endpoint = json.loads((workdir / "azure" / "azure-endpoint.json").read_text())["origin"]
        assert endpoint.startswith("https://127.0.0.1:")
        hosts = {r["host_header"] for r in lab_requests(workdir / "azure")}
        assert hosts <= {endpoint.removeprefix("https://")}, hosts

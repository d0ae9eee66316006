"""End to end through the real `remediate` against the lab's local ARM endpoint (lab/azure, HTTPS on loopback).

The endpoint's own record (lab status, requests.jsonl) is the ground truth: a dry-run sends no DELETE, an apply
deletes exactly the backup extension, every request went to the configured loopback endpoint.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml

from lab.azure import requests as lab_requests

from .conftest import start_lab, stop_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def stuck_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "azure-extension-stuck.yml")
    yield r
    stop_lab(r)


def azure(r, host: str) -> dict:
    status = r("lab", "status")
    assert status.rc == 0, status.stderr
    return status.json["hosts"][host]["azure"]


def requests_of(r, host: str) -> list[dict]:
    return [q for q in lab_requests(r.lab_dir / "azure") if q["vm"] == host]


def secret_of(r, host: str) -> str:
    inv = yaml.safe_load((r.lab_dir / "inventory.yml").read_text())
    for group in inv["all"]["children"].values():
        if host in group["hosts"]:
            return group["hosts"][host]["azure_client_secret"]
    raise AssertionError(host)


def test_extension_stuck_dry_run_then_approval_then_rerun(stuck_lab) -> None:
    r = stuck_lab
    dry = r("--code", "ExtensionStuckInDeletionState", "--host", "vm1", "--dry-run", "--json")
    assert dry.rc == 0, dry.stderr
    assert dry.json["status"] == "planned" and dry.json["plan_id"]
    step = next(s for s in dry.json["steps"] if s["phase"] == "plan")
    assert step["risk"] == "high"
    deleting = [t for t in step["tasks"] if t["changed"]]
    assert [t["changes"] for t in deleting] == [["extension: VMSnapshot → (removed)",
                                                 "provisioning_state: Failed → (removed)"]]
    # the endpoint's state: nothing deleted, no DELETE ever sent
    assert [e["name"] for e in azure(r, "vm1")["extensions"]] == ["VMSnapshot", "MicrosoftMonitoringAgent"]
    assert not [q for q in requests_of(r, "vm1") if q["method"] == "DELETE"]

    # high risk: no terminal and no --yes → approval required, still nothing deleted
    held = r("--code", "ExtensionStuckInDeletionState", "--host", "vm1", "--json")
    assert held.rc == 5 and held.json["status"] == "approval-required", held.stderr
    assert not [q for q in requests_of(r, "vm1") if q["method"] == "DELETE"]

    applied = r("--approve", held.json["plan_id"], "--json")
    assert applied.rc == 0, applied.stderr
    assert applied.json["status"] == "fixed"
    assert "no backup extension on the VM" in applied.json["verification"]["vm1"]["summary"]
    assert [e["name"] for e in azure(r, "vm1")["extensions"]] == ["MicrosoftMonitoringAgent"]
    deletes = [q for q in requests_of(r, "vm1") if q["method"] == "DELETE"]
    assert [(q["op"], q["status"]) for q in deletes] == [("extension.delete", 202)]
    assert deletes[0]["path"].endswith("/virtualMachines/vm1/extensions/VMSnapshot")

    again = r("--code", "ExtensionStuckInDeletionState", "--host", "vm1", "--json")
    assert again.rc == 0 and again.json["status"] == "no-change", again.stderr

    history = r("history", "--host", "vm1", "--json")
    assert [q["status"] for q in history.json["requests"]][:3] == ["no-change", "fixed", "approval-required"]

    secret = secret_of(r, "vm1")
    for out in (dry, held, applied, again, history):
        assert secret not in out.stdout and secret not in out.stderr
    with sqlite3.connect(r.home / "remediate.db") as conn:  # the store (orchestrator/store.py)
        dump = "\n".join(conn.iterdump())
    assert "ExtensionStuckInDeletionState" in dump and secret not in dump
    leaked = [p for p in (r.home / "runs").rglob("*") if p.is_file() and secret in p.read_text(errors="replace")]
    assert not leaked


def test_an_agent_that_is_not_ready_deletes_nothing_and_ends_on_the_agent_guidance(stuck_lab) -> None:
    r = stuck_lab
    res = r("--code", "ExtensionStuckInDeletionState", "--host", "vm2", "--yes", "--json")
    assert res.rc == 4 and res.json["status"] == "manual", res.stderr
    assert [g["id"] for g in res.json["guidance"]] == ["check-guest-agent-and-retry"]
    assert "guest agent Not Ready" in json.dumps(res.json)
    assert "Traceback" not in res.stderr
    assert [e["provisioning_state"] for e in azure(r, "vm2")["extensions"]] == ["Failed"]
    assert not [q for q in requests_of(r, "vm2") if q["method"] == "DELETE"]


def test_every_request_went_to_the_configured_loopback_endpoint(stuck_lab) -> None:
    r = stuck_lab
    inv = yaml.safe_load((r.lab_dir / "inventory.yml").read_text())
    endpoints = {hv["azure_arm_endpoint"] for g in inv["all"]["children"].values() for hv in g["hosts"].values()}
    assert len(endpoints) == 1
    endpoint = endpoints.pop()
    assert endpoint.startswith("https://127.0.0.1:")
    seen = lab_requests(r.lab_dir / "azure")
    assert seen and {q["host_header"] for q in seen} == {endpoint.removeprefix("https://")}


def test_codes_show_no_pending_step_among_the_azure_runbooks(stuck_lab) -> None:
    r = stuck_lab
    for code in ("ExtensionStuckInDeletionState", "UserErrorRpCollectionLimitReached", "ResourceNotFound"):
        res = r("explain", code, "--json")
        assert res.rc == 0, res.stderr
        assert not [s["id"] for s in res.json["ladder"] if s["pending_playbook"]], code
    codes = r("codes")
    assert codes.rc == 0
    for line in codes.stdout.splitlines():
        if any(c in line for c in ("ExtensionStuckInDeletionState", "UserErrorRpCollectionLimitReached",
                                   "ResourceNotFound", "BCMV2VMNotFound")):
            assert "not yet automated" not in line


@pytest.mark.parametrize("host, expected", [("vm1", "succeeded"), ("vm3", "failed")])
def test_verify_backup_shows_in_the_json_and_history(stuck_lab, host: str, expected: str) -> None:
    r = stuck_lab
    if "--verify-backup" not in r("--help").stdout:
        pytest.skip("remediate --verify-backup is wired by the engine (orchestrator/engine.py, cli.py)")
    res = r("--code", "ExtensionStuckInDeletionState", "--host", host, "--yes", "--verify-backup", "--json")
    assert res.json["backup_verification"][host]["status"] == expected, res.stderr
    history = r("history", "--host", host, "--json")
    assert expected in json.dumps(history.json["requests"][0])


def test_faults_are_retried_or_reported_never_a_traceback(tmp_path_factory) -> None:
    r = start_lab(tmp_path_factory, "azure-faults.yml")
    try:
        ok = r("--code", "ExtensionStuckInDeletionState", "--host", "vm1", "--yes", "--json")
        assert ok.rc == 0 and ok.json["status"] == "fixed", ok.stderr
        statuses = [(q["op"], q["status"]) for q in requests_of(r, "vm1")]
        assert ("vm.get", 429) in statuses and ("extension.delete", 500) in statuses
        assert azure(r, "vm1")["extensions"] == []
        for host, expected, rc, status in (
                ("vm2", "ARM answered 500", 1, "failed"),
                # credentials refused, like a host refusing them: exit 6 (DESIGN: authentication rejected)
                ("vm3", "authentication rejected (401 ExpiredAuthenticationToken)", 6, "unreachable")):
            res = r("--code", "ExtensionStuckInDeletionState", "--host", host, "--yes", "--json")
            assert res.rc == rc and res.json["status"] == status, res.stderr
            assert expected in json.dumps(res.json)
            assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    finally:
        stop_lab(r)


def test_vm_gone_and_lock_found(tmp_path_factory) -> None:
    r = start_lab(tmp_path_factory, "azure-vm-gone.yml")
    try:
        gone = r("--code", "400094", "--host", "vm1", "--json")
        assert gone.rc == 4 and gone.json["status"] == "manual", gone.stderr
        text = json.dumps(gone.json)
        assert "does not exist (ARM answered 404 ResourceNotFound)" in text
        assert "recreate-vm" in text and "stop-protection" in text
        there = r("--code", "ResourceNotFound", "--host", "vm2", "--json")
        assert there.rc == 0 and there.json["status"] == "no-change", there.stderr
    finally:
        stop_lab(r)
    r = start_lab(tmp_path_factory, "azure-rp-limit.yml")
    try:
        plan = r("--code", "UserErrorRpCollectionLimitReached", "--host", "vm1", "--dry-run", "--json")
        assert plan.rc == 0 and plan.json["status"] == "planned", plan.stderr
        step = next(s for s in plan.json["steps"] if s["phase"] == "plan")
        named = [t["item"] for t in step["tasks"] if t["changed"]]
        assert len(named) == 1 and named[0].endswith(
            "/resourceGroups/AzureBackupRG_westeurope_1/providers/Microsoft.Authorization/locks/keep-backups")
        assert azure(r, "vm1")["restore_point_groups"][0]["locks"] == ["keep-backups", "rpc-lock"]
    finally:
        stop_lab(r)

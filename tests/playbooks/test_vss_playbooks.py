"""ExtensionFailedVssWriterInBadState playbooks, run by real ansible-playbook against the Windows lab.

Check mode (reports changed, lab untouched), apply (exactly the failing writers' services restarted), rerun
(nothing changed), persistent failure, French host, malformed output, unmapped writer, bcdr registry step.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from .windows_lab import PLAYBOOKS, ROOT, Run, ansible_lint, scenario

DIAGNOSE = PLAYBOOKS / "vss_writers_diagnose.yml"
RESTART = PLAYBOOKS / "vss_restart_failing_writers.yml"
REGISTRY = PLAYBOOKS / "bcdr_agent_registry.yml"
BCDR_KEY = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
SNAPSHOT_WITHOUT_THREADS = json.dumps({"bcdr_registry_values": {"SnapshotWithoutThreads": "True"}})

pytestmark = pytest.mark.lab


def restarted_items(run: Run) -> list[tuple[str, bool]]:
    return run.items("Restart the service of each failing writer")


def writer_states(state: dict[str, Any]) -> dict[str, int]:
    return {w["name"]: w["state"] for w in state["vss_writers"]}


def untouched(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["service_restarts"] == before["service_restarts"]
    assert after.get("service_actions") == before.get("service_actions")
    assert writer_states(after) == writer_states(before)
    assert {n: s["state"] for n, s in after["services"].items()} == \
        {n: s["state"] for n, s in before["services"].items()}


def test_diagnose_default_in_check_mode(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-default.yml"))
    before = windows.state()
    run = windows.run(DIAGNOSE, "--check", "--diff")
    assert run.rc == 0, run.stderr
    assert run.stats()["changed"] == 0
    diagnosis = run.diagnosis
    assert diagnosis["healthy"] is False
    assert [(f["writer"], f["state"], f["service"]) for f in diagnosis["findings"]] == [
        ("SqlServerWriter", 7, "SQLWriter"), ("WMI Writer", 9, "Winmgmt")]
    assert diagnosis["restart_plan"]["services"] == ["SQLWriter", "Winmgmt"]
    assert len(diagnosis["writers"]) == 8 and sum(w["stable"] for w in diagnosis["writers"]) == 6
    # only the 12290 "timed out while holding writes" event, not the idle-timeout or SQL events
    assert [(e["provider"], e["id"]) for e in diagnosis["iops_evidence"]] == [("VSS", 12290)]
    assert "\n" not in diagnosis["summary"] and "SqlServerWriter" in diagnosis["summary"]
    assert run.task("Show the diagnosis")["msg"] == diagnosis["summary"]
    untouched(before, windows.state())


def test_restart_check_apply_rerun(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-default.yml"))
    before = windows.state()

    check = windows.run(RESTART, "--check", "--diff")
    assert check.rc == 0, check.stderr
    assert restarted_items(check) == [("SQLWriter (SqlServerWriter)", True), ("Winmgmt (WMI Writer)", True)]
    assert check.task("List the VSS writers again after the restarts").get("skipped") is True
    untouched(before, windows.state())

    apply = windows.run(RESTART)
    assert apply.rc == 0, apply.stderr
    assert restarted_items(apply) == [("SQLWriter (SqlServerWriter)", True), ("Winmgmt (WMI Writer)", True)]
    after = windows.state()
    assert after["service_restarts"] == ["SQLWriter", "Winmgmt"]  # exactly these, each once
    touched = {a["service"] for a in after["service_actions"]}
    assert touched == {"SQLWriter", "Winmgmt"}  # CryptSvc, VSS, BITS (healthy writers) untouched
    assert set(writer_states(after).values()) == {1}
    outcome = apply.task("Record the writers after the restarts")["ansible_facts"]["vss_restart_outcome"]
    assert outcome["still_failing"] == [] and outcome["restarted"] == ["SQLWriter", "Winmgmt"]

    rerun = windows.run(RESTART)
    assert rerun.rc == 0, rerun.stderr
    assert rerun.stats()["changed"] == 0
    assert restarted_items(rerun) == []
    untouched(after, windows.state())

    verify = windows.run(DIAGNOSE)
    assert verify.rc == 0 and verify.diagnosis["healthy"] is True
    assert verify.diagnosis["findings"] == []


def test_persistent_failure_survives_step_1(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-persistent.yml"))
    run = windows.run(RESTART)
    assert run.rc == 0, run.stderr
    assert restarted_items(run) == [("SQLWriter (SqlServerWriter)", True)]
    state = windows.state()
    assert state["service_restarts"] == ["SQLWriter"]
    assert writer_states(state)["SqlServerWriter"] == 7
    outcome = run.task("Record the writers after the restarts")["ansible_facts"]["vss_restart_outcome"]
    assert outcome["still_failing"] == ["SqlServerWriter"]
    assert "still not stable: SqlServerWriter" in run.task("Report the writers after the restarts")["msg"]

    verify = windows.run(DIAGNOSE)
    assert verify.rc == 0
    assert verify.diagnosis["healthy"] is False
    assert [f["writer"] for f in verify.diagnosis["findings"]] == ["SqlServerWriter"]
    assert len(verify.diagnosis["iops_evidence"]) == 1


def test_french_host(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-french.yml"))
    diagnose = windows.run(DIAGNOSE, "--check")
    assert diagnose.rc == 0, diagnose.stderr
    diagnosis = diagnose.diagnosis
    assert [w["name"] for w in diagnosis["writers"]] == ["System Writer", "SqlServerWriter", "ASR Writer",
                                                        "Registry Writer", "WMI Writer"]
    failing = {f["writer"]: f for f in diagnosis["findings"]}
    assert set(failing) == {"SqlServerWriter", "WMI Writer"}
    assert failing["SqlServerWriter"]["last_error"] == "Délai d'attente dépassé"
    assert failing["SqlServerWriter"]["state_label"] == "failed at prepare backup"
    assert len(diagnosis["iops_evidence"]) == 1  # French event message recognised

    apply = windows.run(RESTART)
    assert apply.rc == 0, apply.stderr
    assert windows.state()["service_restarts"] == ["SQLWriter", "Winmgmt"]
    assert set(writer_states(windows.state()).values()) == {1}


def test_healthy_host_restarts_nothing(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-healthy.yml"))
    before = windows.state()
    diagnose = windows.run(DIAGNOSE)
    assert diagnose.rc == 0 and diagnose.diagnosis["healthy"] is True
    assert diagnose.diagnosis["iops_evidence"] == []
    no_events = windows.run(DIAGNOSE, "-e", json.dumps({"vss_iops_event_sources": []}))
    assert no_events.rc == 0 and no_events.diagnosis["healthy"] is True
    restart = windows.run(RESTART)
    assert restart.rc == 0 and restart.stats()["changed"] == 0
    assert restarted_items(restart) == []
    nothing = restart.task("Report that no writer needs a restart")["msg"]
    assert nothing == "All VSS writers are stable; nothing to restart."
    untouched(before, windows.state())


def test_malformed_vssadmin_output_fails_before_any_restart(make_lab: Any) -> None:
    hosts = copy.deepcopy(scenario("vss-default.yml"))
    hosts["vm1"]["command_outputs"] = {"vssadmin list writers": (
        "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n"
        "(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\n"
        "Writer name: 'SqlServerWriter'\r\n   Writer Id: {a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}\r\n"
        "   Writer Instance Id: {de3b2861-77f6-43f8-8619-64dc9ea2fbcf}\r\n   State: Failed\r\n"
        "   Last error: Timed out\r\n\r\n")}
    windows = make_lab(hosts)
    before = windows.state()
    run = windows.run(RESTART)
    assert run.rc != 0
    failed = run.task("Plan the restarts from the failing writers (fails on malformed output)")
    assert failed["failed"] is True and "no [N] state" in failed["msg"]
    untouched(before, windows.state())
    diagnose = windows.run(DIAGNOSE)
    assert diagnose.rc != 0


def test_unmapped_writer_is_reported_not_guessed(make_lab: Any) -> None:
    hosts = {"vm1": {"platform": "windows", "vss_writers": [
        {"name": "System Writer", "service": "CryptSvc"},
        {"name": "Contoso Backup Writer", "service": "ContosoSvc", "state": 8, "last_error": "Timed out"},
        {"name": "SqlServerWriter", "service": "SQLWriter", "state": 7}]}}
    windows = make_lab(hosts)
    diagnose = windows.run(DIAGNOSE)
    findings = {f["writer"]: f["service"] for f in diagnose.diagnosis["findings"]}
    assert findings == {"Contoso Backup Writer": "no known service", "SqlServerWriter": "SQLWriter"}
    run = windows.run(RESTART)
    assert run.rc == 0, run.stderr
    warning = run.task("Report the failing writers with no known service (not restarted)")["msg"]
    assert "Contoso Backup Writer" in warning
    assert restarted_items(run) == [("SQLWriter (SqlServerWriter)", True)]
    state = windows.state()
    assert state["service_restarts"] == ["SQLWriter"]
    assert writer_states(state)["Contoso Backup Writer"] == 8

    # an operator-supplied mapping entry makes it restartable without editing the maintained file
    extra = json.dumps({"vss_writer_services_extra": {"Contoso Backup Writer": "ContosoSvc"}})
    mapped = windows.run(RESTART, "-e", extra)
    assert mapped.rc == 0 and restarted_items(mapped) == [("ContosoSvc (Contoso Backup Writer)", True)]
    assert windows.state()["service_restarts"] == ["SQLWriter", "ContosoSvc"]


def test_bcdr_registry_check_apply_rerun(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-default.yml"))
    assert BCDR_KEY not in windows.state()["registry"]

    check = windows.run(REGISTRY, "--check", "--diff", "-e", SNAPSHOT_WITHOUT_THREADS)
    assert check.rc == 0, check.stderr
    task = check.task("Set each value (REG_SZ)")
    assert task["changed"] is True and task["results"][0]["diff"]
    assert BCDR_KEY not in windows.state()["registry"]

    apply = windows.run(REGISTRY, "--diff", "-e", SNAPSHOT_WITHOUT_THREADS)
    assert apply.rc == 0 and apply.task("Set each value (REG_SZ)")["changed"] is True
    expected = {"SnapshotWithoutThreads": {"type": "string", "data": "True"}}
    assert windows.state()["registry"][BCDR_KEY] == expected

    rerun = windows.run(REGISTRY, "-e", SNAPSHOT_WITHOUT_THREADS)
    assert rerun.rc == 0 and rerun.stats()["changed"] == 0

    empty = windows.run(REGISTRY)
    assert empty.rc != 0
    assert "bcdr_registry_values must be a non-empty dict" in empty.task("Check the requested values")["msg"]


def test_playbooks_pass_ansible_lint_production() -> None:
    proc = ansible_lint(DIAGNOSE, RESTART, REGISTRY, ROOT / "playbooks/vars/vss_writer_services.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr

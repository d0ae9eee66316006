"""ExtensionFailedVssWriterInBadState playbooks, run by real ansible-playbook against the Windows lab.

Check mode (reports changed, lab untouched), apply (exactly the failing writers' services restarted), rerun
(nothing changed), persistent failure, French host, malformed output, unmapped writer, bcdr registry step.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import lab.windows  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PLAYBOOKS = ROOT / "playbooks" / "windows"
DIAGNOSE = PLAYBOOKS / "vss_writers_diagnose.yml"
RESTART = PLAYBOOKS / "vss_restart_failing_writers.yml"
REGISTRY = PLAYBOOKS / "bcdr_agent_registry.yml"
RUN_TIMEOUT_SEC = 180
BCDR_KEY = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
SNAPSHOT_WITHOUT_THREADS = json.dumps({"bcdr_registry_values": {"SnapshotWithoutThreads": "True"}})

pytestmark = pytest.mark.lab


def scenario(name: str) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "lab" / "scenarios" / name).read_text())["hosts"]


class WindowsLab:
    def __init__(self, workdir: Path, hosts: dict[str, dict[str, Any]]) -> None:
        self.workdir = workdir
        self.state_dir = workdir / "lab"
        hostvars = lab.windows.start(hosts, self.state_dir)
        self.inventory = workdir / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": hostvars}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_HOME": str(workdir / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        self.env = env

    def state(self, host: str = "vm1") -> dict[str, Any]:
        return lab.windows.status(self.state_dir)[host]

    def run(self, playbook: Path, *args: str) -> Run:
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), *args],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)
        try:
            document = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            output = f"{proc.stdout}\n{proc.stderr}"
            raise AssertionError(f"no json output (rc={proc.returncode}):\n{output}") from exc
        return Run(proc.returncode, document, proc.stderr)

    def stop(self) -> None:
        lab.windows.stop(self.state_dir)


class Run:
    def __init__(self, rc: int, document: dict[str, Any], stderr: str) -> None:
        self.rc = rc
        self.document = document
        self.stderr = stderr

    def task(self, name: str, host: str = "vm1") -> dict[str, Any]:
        for play in self.document["plays"]:
            for task in play["tasks"]:
                if task["task"]["name"] == name and host in task["hosts"]:
                    return task["hosts"][host]
        raise AssertionError(f"task {name!r} did not run on {host}")

    def stats(self, host: str = "vm1") -> dict[str, int]:
        return self.document["stats"][host]

    @property
    def diagnosis(self) -> dict[str, Any]:
        return self.task("Record the diagnosis for the orchestrator")["ansible_facts"]["remediate_diagnosis"]

    @property
    def restarted_items(self) -> list[tuple[str, bool]]:
        task = self.task("Restart the service of each failing writer")
        return [(r["item"]["label"], r["changed"]) for r in task.get("results", []) if not r.get("skipped")]


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Any]:
    labs: list[WindowsLab] = []

    def factory(hosts: dict[str, dict[str, Any]]) -> WindowsLab:
        started = WindowsLab(tmp_path / f"lab{len(labs)}", hosts)
        labs.append(started)
        return started

    yield factory
    for started in labs:
        started.stop()


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
    assert check.restarted_items == [("SQLWriter (SqlServerWriter)", True), ("Winmgmt (WMI Writer)", True)]
    assert check.task("List the VSS writers again after the restarts").get("skipped") is True
    untouched(before, windows.state())

    apply = windows.run(RESTART)
    assert apply.rc == 0, apply.stderr
    assert apply.restarted_items == [("SQLWriter (SqlServerWriter)", True), ("Winmgmt (WMI Writer)", True)]
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
    assert rerun.restarted_items == []
    untouched(after, windows.state())

    verify = windows.run(DIAGNOSE)
    assert verify.rc == 0 and verify.diagnosis["healthy"] is True
    assert verify.diagnosis["findings"] == []


def test_persistent_failure_survives_step_1(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-persistent.yml"))
    run = windows.run(RESTART)
    assert run.rc == 0, run.stderr
    assert run.restarted_items == [("SQLWriter (SqlServerWriter)", True)]
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
    assert restart.restarted_items == []
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
    assert run.restarted_items == [("SQLWriter (SqlServerWriter)", True)]
    state = windows.state()
    assert state["service_restarts"] == ["SQLWriter"]
    assert writer_states(state)["Contoso Backup Writer"] == 8

    # an operator-supplied mapping entry makes it restartable without editing the maintained file
    extra = json.dumps({"vss_writer_services_extra": {"Contoso Backup Writer": "ContosoSvc"}})
    mapped = windows.run(RESTART, "-e", extra)
    assert mapped.rc == 0 and mapped.restarted_items == [("ContosoSvc (Contoso Backup Writer)", True)]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "--profile", "production",
         str(DIAGNOSE), str(RESTART), str(REGISTRY), str(ROOT / "playbooks/vars/vss_writer_services.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""The service playbooks, run by real ansible-playbook against the Windows lab (in-process server), several hosts per
run: complus_msdtc_diagnose.yml, restart_service.yml, msdtc_network_service.yml, msdtc_reinstall.yml
(ExtensionSnapshotFailedCOM / ...COM / ...MDTC) and vss_service_diagnose.yml (ExtensionFailedVssServiceInBadState).

The ansible.windows pattern: check mode -> changed and the lab untouched; apply -> the new state and nothing else;
again -> unchanged (or, for the steps that are honestly not idempotent, changed again). The diagnoses after each
step (the verification) run end to end in tests/e2e/test_windows_complus_vss_service.py.
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

from lab.windows.server import SimulatedWindowsServer  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PLAYBOOKS = ROOT / "playbooks" / "windows"
COMPLUS_DIAGNOSE = PLAYBOOKS / "complus_msdtc_diagnose.yml"
RESTART = PLAYBOOKS / "restart_service.yml"
MSDTC_ACCOUNT = PLAYBOOKS / "msdtc_network_service.yml"
MSDTC_REINSTALL = PLAYBOOKS / "msdtc_reinstall.yml"
VSS_DIAGNOSE = PLAYBOOKS / "vss_service_diagnose.yml"
RUN_TIMEOUT_SEC = 240
NETWORK_SERVICE = "NT AUTHORITY\\NETWORK SERVICE"
TOLERANT = json.dumps({"msdtc_allow_start_failure": True})

pytestmark = pytest.mark.lab


def runbook_step_vars(runbook: str, step_id: str) -> str:
    """What the orchestrator gives a step: the runbook's vars, then the step's."""
    doc = yaml.safe_load((ROOT / "runbooks" / runbook).read_text())
    step = next(s for s in doc["ladder"] if s["id"] == step_id)
    return json.dumps(doc["vars"] | step["vars"])


def scenario(name: str) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "lab" / "scenarios" / name).read_text())["hosts"]


class Lab:
    def __init__(self, workdir: Path, hosts: dict[str, dict[str, Any]]) -> None:
        self.server = SimulatedWindowsServer(hosts, workdir=None, password="lab-test-pw")
        self.inventory = workdir / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": self.server.start()}}))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        self.env.update({
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_HOME": str(workdir / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })

    def state(self, host: str) -> dict[str, Any]:
        return self.server.hosts[host].snapshot()

    def services(self, host: str) -> dict[str, tuple[str, str | None, str]]:
        return {n: (s["state"], s["username"], s["start_mode"]) for n, s in self.state(host)["services"].items()}

    def run(self, playbook: Path, *args: str) -> Run:
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), *args],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)
        try:
            return Run(proc.returncode, json.loads(proc.stdout))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"no json output (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from exc


class Run:
    def __init__(self, rc: int, document: dict[str, Any]) -> None:
        self.rc = rc
        self.document = document

    def task(self, name: str, host: str) -> dict[str, Any]:
        for play in self.document["plays"]:
            for task in play["tasks"]:
                if task["task"]["name"] == name and host in task["hosts"]:
                    return task["hosts"][host]
        raise AssertionError(f"task {name!r} did not run on {host}")

    def changed(self, host: str) -> int:
        return self.document["stats"][host]["changed"]

    def failures(self, host: str) -> int:
        return self.document["stats"][host]["failures"]

    def diagnosis(self, host: str) -> dict[str, Any]:
        return self.task("Record the diagnosis for the orchestrator", host)["ansible_facts"]["remediate_diagnosis"]

    def problems(self, host: str) -> list[str]:
        return [f["problem"] for f in self.diagnosis(host)["findings"]]

    def items(self, task: str, host: str) -> list[tuple[str, bool]]:
        results = self.task(task, host).get("results", [])
        return [(r["_ansible_item_label"], r["changed"]) for r in results if "skip_reason" not in r]


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Any]:
    labs: list[Lab] = []

    def factory(hosts: dict[str, dict[str, Any]]) -> Lab:
        workdir = tmp_path / f"lab{len(labs)}"
        workdir.mkdir()
        labs.append(Lab(workdir, hosts))
        return labs[-1]

    yield factory
    for started in labs:
        started.server.stop()


def untouched(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["service_restarts"] == before["service_restarts"]
    assert after.get("service_actions") == before.get("service_actions")
    assert after["services"] == before["services"]
    assert after["vss_writers"] == before["vss_writers"]
    assert not [c for c in after["commands_run"] if c.lower().startswith(("msdtc", "net "))]


# -- COM+ / MSDTC ----------------------------------------------------------------------------------------------------
def test_complus_diagnose_sends_each_host_to_its_step_and_changes_nothing(make_lab: Any) -> None:
    windows = make_lab(scenario("complus-msdtc.yml"))
    hosts = ["com1", "com2", "com3", "com4", "com5"]
    before = {h: windows.state(h) for h in hosts}
    run = windows.run(COMPLUS_DIAGNOSE, "--check")
    assert run.rc == 0
    assert {h: run.problems(h) for h in hosts} == {
        "com1": ["comsysapp-not-running"],
        "com2": ["msdtc-account", "msdtc-not-running"],
        "com3": ["msdtc-not-running"],
        "com4": ["comsysapp-not-running"],
        "com5": ["msdtc-missing"],
    }
    com2 = run.diagnosis("com2")
    assert com2["msdtc"]["username"] == "NT AUTHORITY\\SYSTEM" and com2["msdtc"]["network_service"] is False
    assert "(step 2)" in com2["summary"] and "\n" not in com2["summary"]
    assert run.diagnosis("com5")["summary"] == ("the Distributed Transaction Coordinator service (MSDTC) is not "
                                                 "installed -> msdtc -install (step 3)")
    # the name of S-1-5-20 was read on the host, not guessed
    assert NETWORK_SERVICE.lower() in com2["network_service_names"]
    for host in hosts:
        assert run.changed(host) == 0
        untouched(before[host], windows.state(host))


def test_step_1_starts_comsysapp_only_when_stopped(make_lab: Any) -> None:
    windows = make_lab(scenario("complus-msdtc.yml"))
    step = runbook_step_vars("com-plus-msdtc-error.yml", "start-comsysapp")
    before = {h: windows.state(h) for h in ("com1", "com2", "com4")}

    check = windows.run(RESTART, "--check", "--diff", "-e", step, "--limit", "com1,com2,com4")
    assert check.rc == 0
    assert check.items("Restart or start each service", "com1") == [("COMSysApp (COM+ System Application): start",
                                                                     True)]
    assert check.items("Restart or start each service", "com2") == []  # running: left alone
    assert "COMSysApp" in check.task("Report the services already running (mode start)", "com2")["msg"]
    for host, state in before.items():
        untouched(state, windows.state(host))

    apply = windows.run(RESTART, "-e", step, "--limit", "com1,com2,com4")
    assert apply.rc == 0
    assert windows.services("com1")["COMSysApp"][0] == "running"
    assert windows.state("com1")["service_actions"] == [{"service": "COMSysApp", "action": "start",
                                                          "via": "win_service"}]
    assert windows.state("com2").get("service_actions") is None  # nothing touched where COMSysApp runs
    # com4: COMSysApp does not start; tolerated by the runbook, reported, the verification decides
    assert windows.services("com4")["COMSysApp"][0] == "stopped"
    warning = apply.task("Report the services that are not running after the change", "com4")["msg"]
    assert "not running after the start: COMSysApp" in warning and "cannot be started" in warning

    again = windows.run(RESTART, "-e", step, "--limit", "com1")
    assert again.rc == 0 and again.changed("com1") == 0

    strict = windows.run(RESTART, "-e", json.dumps({"restart_service_names": ["COMSysApp"],
                                                    "restart_service_mode": "start"}), "--limit", "com4")
    assert strict.rc != 0 and strict.failures("com4") == 1
    assert "cannot be started" in strict.task("Restart or start each service", "com4")["results"][0]["msg"]


def test_step_2_network_service_check_apply_again(make_lab: Any) -> None:
    windows = make_lab(scenario("complus-msdtc.yml"))
    limit = ("--limit", "com1,com2,com3,com5")
    before = {h: windows.state(h) for h in ("com1", "com2", "com3", "com5")}

    check = windows.run(MSDTC_ACCOUNT, "--check", "--diff", "-e", TOLERANT, *limit)
    assert check.rc == 0
    account = check.task("Run MSDTC as NT AUTHORITY\\NetworkService", "com2")
    assert account["changed"] is True
    assert (account["diff"]["before"]["username"], account["diff"]["after"]["username"]) == (
        "NT AUTHORITY\\SYSTEM", NETWORK_SERVICE)
    assert check.task("Restart MSDTC after the account change, or start it if it is not running",
                      "com2")["diff"]["after"]["state"] == "restarted"
    assert check.changed("com1") == 0  # healthy MSDTC under its default start name NT AUTHORITY\NetworkService
    assert check.changed("com5") == 0 and "not installed" in check.task(
        "Report that MSDTC is not installed (nothing changed)", "com5")["msg"]
    for host, state in before.items():
        untouched(state, windows.state(host))

    apply = windows.run(MSDTC_ACCOUNT, "--diff", "-e", TOLERANT, *limit)
    assert apply.rc == 0
    assert windows.services("com2")["MSDTC"] == ("running", NETWORK_SERVICE, "auto")
    assert windows.state("com2")["service_restarts"] == ["MSDTC", "COMSysApp"]
    assert {a["service"] for a in windows.state("com2")["service_actions"]} == {"MSDTC", "COMSysApp"}  # not SQL
    # com3: MSDTC does not start: reported, COMSysApp left alone, the play goes on (step 3 is the answer)
    assert windows.services("com3")["MSDTC"][0] == "stopped"
    assert windows.state("com3").get("service_actions") is None
    assert "MSDTC did not start" in apply.task("Report the services after the change", "com3")["msg"]
    assert apply.changed("com1") == 0 and windows.state("com1").get("service_actions") is None

    again = windows.run(MSDTC_ACCOUNT, "-e", TOLERANT, "--limit", "com2")
    assert again.rc == 0 and again.changed("com2") == 0

    strict = windows.run(MSDTC_ACCOUNT, "--limit", "com3")
    assert strict.rc != 0 and strict.failures("com3") == 1


def test_step_3_reinstall_check_runs_nothing_apply_repairs_every_run_reinstalls(make_lab: Any) -> None:
    windows = make_lab(scenario("complus-msdtc.yml"))
    limit = ("--limit", "com3,com5")
    before = {h: windows.state(h) for h in ("com3", "com5")}

    check = windows.run(MSDTC_REINSTALL, "--check", "--diff", "-e", TOLERANT, *limit)
    assert check.rc == 0
    plan = "Reinstall MSDTC (check mode shows the command, runs nothing)"
    assert check.items(plan, "com3") == [("msdtc -uninstall", True), ("msdtc -install", True)]
    assert check.items(plan, "com5") == [("msdtc -install", True)]  # nothing to uninstall
    assert check.task("Reinstall MSDTC", "com3").get("skipped") is True
    for host, state in before.items():
        untouched(state, windows.state(host))

    apply = windows.run(MSDTC_REINSTALL, "--diff", "-e", TOLERANT, *limit)
    assert apply.rc == 0
    assert windows.state("com3")["commands_run"][-2:] == ["msdtc -uninstall", "msdtc -install"]
    assert windows.state("com5")["commands_run"][-1:] == ["msdtc -install"]
    for host in ("com3", "com5"):
        assert windows.services(host)["MSDTC"] == ("running", NETWORK_SERVICE, "auto")
        assert windows.state(host)["service_restarts"] == ["COMSysApp"]
        assert windows.services(host)["MSSQLSERVER"][0] == "running"
    start = apply.task("Start the reinstalled MSDTC", "com3")
    assert (start["diff"]["before"]["start_mode"], start["diff"]["after"]["start_mode"]) == ("manual", "auto")

    again = windows.run(MSDTC_REINSTALL, "-e", TOLERANT, "--limit", "com3")
    assert again.rc == 0 and again.changed("com3") > 0  # idempotent: false, declared in the runbook
    assert windows.state("com3")["commands_run"].count("msdtc -install") == 2


# -- VSS service --------------------------------------------------------------------------------------------------
def test_vss_service_diagnose_every_host_read_only(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-service-bad-state.yml"))
    hosts = ["vss1", "vss2", "vss3", "vss4"]
    before = {h: windows.state(h) for h in hosts}
    run = windows.run(VSS_DIAGNOSE, "--check")
    assert run.rc == 0
    assert {h: run.problems(h) for h in hosts} == {
        "vss1": ["vss-writer-failed"] * 3,
        "vss2": ["vss-writer-failed"] * 2,
        "vss3": ["vss-not-running"] + ["vss-writer-failed"] * 3,
        "vss4": [],
    }
    assert [f["writer"] for f in run.diagnosis("vss1")["findings"]] == ["ASR Writer", "COM+ REGDB Writer",
                                                                        "Registry Writer"]
    assert [e["id"] for e in run.diagnosis("vss1")["events"]] == [12289, 8193]  # errors only, newest first
    vss4 = run.diagnosis("vss4")
    assert vss4["healthy"] is True
    assert [w["name"] for w in vss4["other_failing_writers"]] == ["SqlServerWriter"]
    assert "ExtensionFailedVssWriterInBadState" in vss4["summary"]
    assert "last exit code 1067" in run.diagnosis("vss3")["summary"]
    for host in hosts:
        assert run.changed(host) == 0
        untouched(before[host], windows.state(host))


def test_restart_vss_check_apply_again_restarts_again(make_lab: Any) -> None:
    windows = make_lab(scenario("vss-service-bad-state.yml"))
    step = runbook_step_vars("vss-service-bad-state.yml", "restart-vss-service")
    before = {h: windows.state(h) for h in ("vss1", "vss3")}

    check = windows.run(RESTART, "--check", "--diff", "-e", step, "--limit", "vss1,vss3")
    assert check.rc == 0
    task = check.task("Restart or start each service", "vss1")["results"][0]
    assert task["changed"] is True and task["diff"]["after"]["state"] == "restarted"
    for host, state in before.items():
        untouched(state, windows.state(host))

    apply = windows.run(RESTART, "-e", step, "--limit", "vss1,vss3")
    assert apply.rc == 0
    vss1 = windows.state("vss1")
    assert vss1["service_restarts"] == ["VSS"]
    assert {a["service"] for a in vss1["service_actions"]} == {"VSS"}  # SQLWriter, CryptSvc, ... untouched
    assert {w["state"] for w in vss1["vss_writers"]} == {1}
    # vss3: VSS does not start again; tolerated by the runbook (the reboot guidance follows), counted as a change
    assert windows.services("vss3")["VSS"][0] == "stopped"
    assert apply.items("Restart or start each service", "vss3") == [("VSS (Volume Shadow Copy): restart", True)]
    assert apply.task("Record the outcome", "vss3")["ansible_facts"]["restart_service_outcome"]["not_running"] == [
        "VSS"]

    again = windows.run(RESTART, "-e", step, "--limit", "vss1")
    assert again.rc == 0 and again.changed("vss1") == 1  # a restart restarts again (idempotent: false)
    assert windows.state("vss1")["service_restarts"] == ["VSS", "VSS"]



def test_restart_service_refuses_missing_or_disabled_and_honours_dependents(make_lab: Any) -> None:
    hosts = copy.deepcopy(scenario("vss-service-bad-state.yml"))
    spec = hosts["vss4"]
    spec["services"]["BITS"] = {"start_mode": "disabled", "state": "stopped"}
    spec["services"]["SQLWriter"]["dependencies"] = ["VSS"]
    windows = make_lab({"vss4": spec})
    before = windows.state("vss4")

    refused = windows.run(RESTART, "-e", json.dumps({"restart_service_names": ["VSS", "NoSuchService", "BITS"]}))
    assert refused.rc != 0
    msg = refused.task("Refuse services that do not exist or would not start (nothing touched)", "vss4")["msg"]
    assert "service NoSuchService does not exist" in msg and "BITS" in msg and "Disabled" in msg
    untouched(before, windows.state("vss4"))

    blocked = windows.run(RESTART, "-e", json.dumps({"restart_service_names": "VSS"}))
    assert blocked.rc != 0 and "dependent services" in blocked.task("Restart or start each service",
                                                                    "vss4")["results"][0]["msg"]
    assert windows.services("vss4")["VSS"][0] == "running"  # Stop-Service refused: nothing stopped

    forced = windows.run(RESTART, "-e", json.dumps({"restart_service_names": "VSS",
                                                    "restart_service_force_dependents": True}))
    assert forced.rc == 0
    assert windows.state("vss4")["service_restarts"] == ["VSS", "SQLWriter"]  # the running dependent came back

    bad = windows.run(RESTART, "-e", json.dumps({"restart_service_names": ["VSS*"]}))
    assert bad.rc != 0 and "no wildcards" in bad.task("Check the requested services", "vss4")["msg"]


def test_service_playbooks_pass_ansible_lint_production() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "--profile", "production",
         str(COMPLUS_DIAGNOSE), str(RESTART), str(MSDTC_ACCOUNT), str(MSDTC_REINSTALL), str(VSS_DIAGNOSE)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

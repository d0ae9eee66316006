"""The registry-based Windows fixes, run by real ansible-playbook against the Windows lab (in-process server):
bcdr_agent_registry_diagnose.yml + bcdr_agent_registry.yml (ExtensionFailedTimeoutVMNetworkUnresponsive, with the
SQL Server-only USEVSSCOPYBACKUP step) and dotnet_strong_crypto{_diagnose,}.yml
(ExtensionSnapshotFailedNoSecureNetwork).

The ansible.windows pattern: check mode -> changed and the lab untouched; apply -> the new state and nothing else;
again -> unchanged; and the diagnose agrees with the fix (unhealthy exactly when the fix would change something).
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
BCDR_DIAGNOSE = PLAYBOOKS / "bcdr_agent_registry_diagnose.yml"
BCDR_SET = PLAYBOOKS / "bcdr_agent_registry.yml"
DOTNET_DIAGNOSE = PLAYBOOKS / "dotnet_strong_crypto_diagnose.yml"
DOTNET_SET = PLAYBOOKS / "dotnet_strong_crypto.yml"
RUN_TIMEOUT_SEC = 180

PERSISTENT = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
AGENT = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgent"
NET64 = "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework"
NET32 = "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework"

pytestmark = pytest.mark.lab


def runbook(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "runbooks" / name).read_text())


TIMEOUT_RUNBOOK = runbook("inadequate-vm-resources.yml")
DIAGNOSE_VARS = json.dumps(TIMEOUT_RUNBOOK["vars"])  # what the orchestrator gives the diagnose
STEP_VARS = {s["id"]: json.dumps(TIMEOUT_RUNBOOK["vars"] | s["vars"]) for s in TIMEOUT_RUNBOOK["ladder"]
             if s["kind"] == "automated"}


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

    def registry(self, host: str) -> dict[str, dict[str, Any]]:
        return self.server.hosts[host].snapshot()["registry"]

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

    def diagnosis(self, host: str) -> dict[str, Any]:
        return self.task("Record the diagnosis for the orchestrator", host)["ansible_facts"]["remediate_diagnosis"]

    def problems(self, host: str) -> list[tuple[str | None, str | None, str]]:
        return [(f["key"], f["name"], f["problem"]) for f in self.diagnosis(host)["findings"]]

    def set_items(self, task: str, host: str) -> list[tuple[str, bool]]:
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


def test_bcdr_diagnose_then_both_steps_check_apply_rerun(make_lab: Any) -> None:
    windows = make_lab(scenario("snapshot-timeout-registry.yml"))
    before = {h: windows.registry(h) for h in ("vm1", "vm2")}

    diagnose = windows.run(BCDR_DIAGNOSE, "--check", "-e", DIAGNOSE_VARS)
    assert diagnose.rc == 0 and diagnose.changed("vm1") == diagnose.changed("vm2") == 0
    # vm1: a lower-case name with other data, a REG_DWORD where REG_SZ is expected; SQLWriter alone is no SQL Server
    assert diagnose.problems("vm1") == [(PERSISTENT, "SnapshotMethod", "wrong-data"),
                                        (PERSISTENT, "CalculateSnapshotTimeFromHost", "wrong-type")]
    vm1 = diagnose.diagnosis("vm1")
    assert vm1["healthy"] is False and vm1["findings"][0]["stored_name"] == "snapshotmethod"
    assert vm1["sql_server"]["engines"] == [] and vm1["sql_server"]["sql_writer"] is True
    assert "USEVSSCOPYBACKUP not required" in vm1["summary"] and "\n" not in vm1["summary"]
    # vm2: the key is missing; SQL Server PROD is installed, so USEVSSCOPYBACKUP counts (a REG_DWORD there)
    assert diagnose.problems("vm2") == [(PERSISTENT, "SnapshotMethod", "missing"),
                                        (PERSISTENT, "CalculateSnapshotTimeFromHost", "missing"),
                                        (AGENT, "USEVSSCOPYBACKUP", "wrong-type")]
    assert [e["name"] for e in diagnose.diagnosis("vm2")["sql_server"]["engines"]] == ["MSSQL$PROD"]
    assert diagnose.task("Show the diagnosis", "vm2")["msg"] == diagnose.diagnosis("vm2")["summary"]

    step1, step2 = STEP_VARS["snapshot-through-host"], STEP_VARS["sql-server-vss-copy-backup"]
    check = windows.run(BCDR_SET, "--check", "--diff", "-e", step1)
    assert check.rc == 0 and check.changed("vm1") == check.changed("vm2") == 1
    diff = check.task("Set each value (REG_SZ)", "vm1")["results"][1]["diff"]
    assert diff["before"][PERSISTENT]["CalculateSnapshotTimeFromHost"] == {"type": "DWord", "value": "0x00000001"}
    assert diff["after"][PERSISTENT]["CalculateSnapshotTimeFromHost"] == {"type": "String", "value": "True"}
    assert {h: windows.registry(h) for h in ("vm1", "vm2")} == before  # check mode touched nothing

    apply = windows.run(BCDR_SET, "--diff", "-e", step1)
    assert apply.rc == 0
    vm1_after = windows.registry("vm1")
    assert vm1_after[PERSISTENT] == {  # the stored name is kept; the two other values are untouched
        "snapshotmethod": {"type": "string", "data": "firstHostThenGuest"},
        "CalculateSnapshotTimeFromHost": {"type": "string", "data": "True"},
        "SnapshotWithoutThreads": {"type": "string", "data": "True"},
        "IsCommonProviderInstalled": {"type": "string", "data": "True"},
    }
    assert windows.registry("vm2")[PERSISTENT] == {
        "SnapshotMethod": {"type": "string", "data": "firstHostThenGuest"},
        "CalculateSnapshotTimeFromHost": {"type": "string", "data": "True"},
    }
    verify = windows.run(BCDR_DIAGNOSE, "-e", DIAGNOSE_VARS)
    assert verify.diagnosis("vm1")["healthy"] is True
    assert verify.problems("vm2") == [(AGENT, "USEVSSCOPYBACKUP", "wrong-type")]  # step 1 did not fix vm2

    sql_check = windows.run(BCDR_SET, "--check", "--diff", "-e", step2)
    assert sql_check.rc == 0 and sql_check.changed("vm1") == 0 and sql_check.changed("vm2") == 1
    assert windows.registry("vm2")[AGENT] == before["vm2"][AGENT]
    sql = windows.run(BCDR_SET, "-e", step2)
    assert sql.rc == 0 and sql.changed("vm1") == 0
    assert "No SQL Server database engine" in sql.task("Report that SQL Server is not installed (nothing set)",
                                                        "vm1")["msg"]
    assert sql.set_items("Set each value (REG_SZ)", "vm1") == []
    assert sql.set_items("Set each value (REG_SZ)", "vm2") == [(f"{AGENT}\\USEVSSCOPYBACKUP = TRUE", True)]
    assert windows.registry("vm1")[AGENT] == before["vm1"][AGENT]  # never set without SQL Server
    assert windows.registry("vm2")[AGENT] == {"IsProviderInstalled": {"type": "string", "data": "True"},
                                              "USEVSSCOPYBACKUP": {"type": "string", "data": "TRUE"}}

    settled = {h: windows.registry(h) for h in ("vm1", "vm2")}
    for step in (step1, step2):
        again = windows.run(BCDR_SET, "-e", step)
        assert again.rc == 0 and again.changed("vm1") == again.changed("vm2") == 0
    healthy = windows.run(BCDR_DIAGNOSE, "--check", "-e", DIAGNOSE_VARS)
    assert healthy.diagnosis("vm1")["healthy"] is True and healthy.diagnosis("vm2")["healthy"] is True
    assert {h: windows.registry(h) for h in ("vm1", "vm2")} == settled


def test_bcdr_diagnose_takes_healthy_from_the_vars_of_any_bcdr_step(make_lab: Any) -> None:
    # the VSS runbook's SnapshotWithoutThreads step uses the same set playbook; the diagnose follows its vars
    hosts = {"vm1": scenario("snapshot-timeout-registry.yml")["vm1"], "vss": scenario("vss-default.yml")["vm1"]}
    windows = make_lab(hosts)
    threads = json.dumps({"bcdr_registry_values": {"SnapshotWithoutThreads": True}})  # a YAML true means "True"
    run = windows.run(BCDR_DIAGNOSE, "--check", "-e", threads)
    assert run.rc == 0
    assert run.diagnosis("vm1")["healthy"] is True
    assert run.diagnosis("vss")["summary"] == (
        f'1 registry value(s) to fix: {PERSISTENT}\\SnapshotWithoutThreads is missing (the key does not exist), '
        'expected REG_SZ "True"')
    assert run.task("List the services to find SQL Server", "vss").get("skipped") is True
    assert run.diagnosis("vss")["sql_server"]["checked"] is False

    empty = windows.run(BCDR_DIAGNOSE, "-e", json.dumps({"bcdr_registry_values": {}}))
    assert empty.rc != 0
    assert "at least one" in empty.task("Check the expected values", "vss")["msg"]


def test_dotnet_strong_crypto_check_apply_rerun(make_lab: Any) -> None:
    windows = make_lab(scenario("strong-crypto.yml"))
    before = {h: windows.registry(h) for h in ("tls1", "tls2")}

    diagnose = windows.run(DOTNET_DIAGNOSE, "--check")
    assert diagnose.rc == 0
    assert diagnose.problems("tls1") == [(f"{NET64}\\v2.0.50727", "SchUseStrongCrypto", "missing"),
                                         (f"{NET64}\\v4.0.30319", "SchUseStrongCrypto", "wrong-type"),
                                         (f"{NET32}\\v4.0.30319", "SchUseStrongCrypto", "wrong-data")]
    tls1 = diagnose.diagnosis("tls1")
    assert tls1["versions_absent"] == [f"{NET32}\\v2.0.50727"]
    assert f"not installed (left alone): {NET32}\\v2.0.50727" in tls1["summary"]
    assert diagnose.problems("tls2") == [(None, None, "no-version-key")]

    check = windows.run(DOTNET_SET, "--check", "--diff")
    assert check.rc == 0 and check.changed("tls1") == 1 and check.changed("tls2") == 0
    assert [label for label, changed in check.set_items("Set each value (REG_DWORD) under each installed version",
                                                        "tls1") if changed] == [
        f"{NET64}\\v2.0.50727\\SchUseStrongCrypto = 1 (REG_DWORD)",
        f"{NET64}\\v4.0.30319\\SchUseStrongCrypto = 1 (REG_DWORD)",
        f"{NET32}\\v4.0.30319\\SchUseStrongCrypto = 1 (REG_DWORD)"]
    assert {h: windows.registry(h) for h in ("tls1", "tls2")} == before

    apply = windows.run(DOTNET_SET)
    assert apply.rc == 0
    expected = copy.deepcopy(before["tls1"])
    for key in (f"{NET64}\\v2.0.50727", f"{NET64}\\v4.0.30319", f"{NET32}\\v4.0.30319"):
        expected[key]["SchUseStrongCrypto"] = {"type": "dword", "data": 1}
    assert windows.registry("tls1") == expected  # SystemDefaultTlsVersions, InstallRoot untouched; no 32-bit v2
    assert f"{NET32}\\v2.0.50727" not in windows.registry("tls1")
    assert windows.registry("tls2") == before["tls2"]
    assert "nothing set" in apply.task("Report that no .NET Framework version key exists (nothing set)",
                                       "tls2")["msg"]

    again = windows.run(DOTNET_SET)
    assert again.rc == 0 and again.changed("tls1") == 0 and again.changed("tls2") == 0
    verify = windows.run(DOTNET_DIAGNOSE)
    assert verify.diagnosis("tls1")["healthy"] is True
    assert verify.diagnosis("tls2")["healthy"] is False  # nothing the fix can do: the manual step follows
    assert windows.registry("tls1") == expected


def test_registry_playbooks_pass_ansible_lint_production() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "--profile", "production",
         str(BCDR_DIAGNOSE), str(BCDR_SET), str(DOTNET_DIAGNOSE), str(DOTNET_SET)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Every simulated module through real ansible-playbook and ansible-runner: check, apply, idempotent rerun."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

import lab.windows as lab_windows

from .helpers import VENV_BIN, Lab, ansible_env, task_results

pytestmark = pytest.mark.lab  # runs real ansible-playbook against the simulator

PLAYBOOK = Path(__file__).parent / "playbooks" / "every_module.yml"
CRP_THUMBPRINT = "AB" * 20
VCREDIST = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.0\\vcredist2013_x64.exe"
MUTATING = [
    "disable BITS",
    "MSDTC runs as Network Service",
    "registry value",
    "directory",
    "acl",
    "acl inheritance",
    "remove CRP certificates",
    "add defender exclusion",
    "install the VC++ redistributable",
]


def spec() -> dict[str, dict[str, Any]]:
    return {
        "vm1": {
            "platform": "windows",
            "services": {"MSDTC": {"username": "LocalSystem"}},
            "certificates": [
                {
                    "thumbprint": CRP_THUMBPRINT,
                    "subject": "CN=Windows Azure CRP Certificate Generator",
                    "issuer": "CN=Windows Azure CRP Certificate Generator",
                },
                {"thumbprint": "CD" * 20, "subject": "CN=vm1.contoso.com", "issuer": "CN=Contoso CA"},
            ],
            "files": {VCREDIST: {"type": "file", "size": 7194312}},
            "event_log": [
                {
                    "log": "Application",
                    "provider": "VSS",
                    "id": 12290,
                    "level": "Warning",
                    "time_created": "2026-01-05T02:14:10Z",
                    "message": "The shadow copy provider timed out while holding writes to the volume.",
                }
            ],
        }
    }


def assert_applied(state: dict[str, Any]) -> None:
    assert state["services"]["BITS"]["start_mode"] == "disabled"
    assert state["services"]["MSDTC"]["username"] == "NT AUTHORITY\\NETWORK SERVICE"
    key = state["registry"]["HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"]
    assert key == {"SnapshotWithoutThreads": {"type": "string", "data": "True"}}
    assert state["files"]["C:\\Temp\\lab"]["type"] == "directory"
    machinekeys = state["files"]["C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"]
    # ACL entries hold the SID (NT AUTHORITY\SYSTEM = S-1-5-18), never a spelling of the name
    assert any(r["sid"] == "S-1-5-18" and r["rights"] == "FullControl" for r in machinekeys["acl"])
    assert (
        state["files"]["C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"]["inherit"]
        is False
    )
    assert [c["thumbprint"] for c in state["certificates"]["LocalMachine\\My"]] == ["CD" * 20]
    assert [p["product_id"] for p in state["packages"]] == ["{CF2BEA3C-26EA-32F8-AA9B-331F7E34BA97}"]
    assert state["defender"]["exclusion_paths"] == [
        "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
    ]


def changed_tasks(results: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, result in results.items() if result.get("changed")}


def test_every_module_check_apply_rerun_with_ansible_playbook(make_lab: Any) -> None:
    lab: Lab = make_lab(spec())
    before = lab.state("vm1")

    check = lab.playbook(PLAYBOOK.read_text(), "--check", "--diff")
    assert check["rc"] == 0, check["stats"]
    results = task_results(check, "vm1")
    assert changed_tasks(results) == set(MUTATING)
    assert results["Gathering Facts"]["ansible_facts"]["ansible_os_family"] == "Windows"
    assert results["vssadmin"]["skipped"] is True
    assert "does not support check mode" in results["vssadmin"]["msg"]
    assert results["registry stat"]["exists"] is False
    assert results["registry value"]["diff"]["after"] == {
        "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys": {}
    }
    assert results["disable BITS"]["diff"]["after"]["start_mode"] == "disabled"
    assert lab.state("vm1") == before, "check mode changed the simulated state"

    apply = lab.playbook(PLAYBOOK.read_text(), "--diff")
    assert apply["rc"] == 0, apply["stats"]
    results = task_results(apply, "vm1")
    assert changed_tasks(results) == set(MUTATING)
    assert results["ping"]["ping"] == "hello"
    assert results["service info"]["services"][0]["name"] == "VSS"
    assert results["registry stat"] == results["registry stat"] | {
        "exists": True,
        "type": "REG_SZ",
        "value": "True",
    }
    assert results["agent stat"]["stat"]["exists"] is True
    assert "Writer name: 'System Writer'" in results["vssadmin"]["stdout"]
    assert "shadow copy provider timed out" in results["event log"]["stdout"]
    # win_powershell.ps1 Convert-OutputObject: an enum property comes back as {Type, String, Value}
    assert results["bitlocker"]["output"][0]["ProtectionStatus"] == {
        "Type": "Microsoft.BitLocker.Structures.BitLockerVolumeProtectionStatus",
        "String": "Off",
        "Value": 0,
    }
    assert_applied(lab.state("vm1"))

    rerun = lab.playbook(PLAYBOOK.read_text())
    assert rerun["rc"] == 0
    assert changed_tasks(task_results(rerun, "vm1")) == set()
    assert rerun["stats"]["vm1"]["changed"] == 0


def test_every_module_check_apply_rerun_with_ansible_runner_against_the_daemon(tmp_path: Path) -> None:
    """Same playbook through ansible_runner.run(), against the detached daemon of lab.windows.start()."""
    workdir = tmp_path / "lab"
    hostvars = lab_windows.start(spec(), workdir)
    try:
        assert oct((workdir / lab_windows.CONFIG_FILE).stat().st_mode & 0o777) == "0o600"
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": hostvars}}))
        env = {k: v for k, v in ansible_env(tmp_path).items() if k != "ANSIBLE_STDOUT_CALLBACK"}
        env["PATH"] = f"{VENV_BIN}:{os.environ.get('PATH', '')}"
        before = lab_windows.status(workdir)["vm1"]

        def run(ident: str, cmdline: str | None = None) -> Any:
            private = tmp_path / f"runner-{ident}"
            private.mkdir()
            return ansible_runner.run(
                private_data_dir=str(private),
                playbook=str(PLAYBOOK),
                inventory=str(inventory),
                envvars=env,
                cmdline=cmdline,
                quiet=True,
                timeout=150,
            )

        check = run("check", "--check --diff")
        assert check.status == "successful", check.stdout.read()
        assert set(check.stats["changed"]) == {"vm1"}
        assert lab_windows.status(workdir)["vm1"] == before
        apply = run("apply")
        assert apply.status == "successful"
        changed = {
            e["event_data"]["task"]
            for e in apply.events
            if e["event"] in ("runner_on_ok", "runner_item_on_ok") and e["event_data"]["res"].get("changed")
        }
        assert changed == set(MUTATING)
        assert_applied(lab_windows.status(workdir)["vm1"])
        rerun = run("rerun")
        assert rerun.status == "successful"
        assert rerun.stats["changed"] == {}
    finally:
        lab_windows.stop(workdir)
    assert lab_windows.status(workdir)["vm1"]["defender"]["exclusion_paths"]  # state files outlive the daemon
    assert not (workdir / lab_windows.PID_FILE).exists()
    lab_windows.stop(workdir)  # idempotent

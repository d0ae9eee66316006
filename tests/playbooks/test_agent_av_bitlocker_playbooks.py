"""Antivirus (VMRestorePointInternalError), guest agent and BitLocker playbooks, run by real ansible-playbook
against the Windows lab: check mode (reports changed, lab untouched), apply (exactly the expected change), rerun
(nothing changed); the diagnoses read only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .windows_lab import PLAYBOOKS, ROOT, WindowsLab, ansible_lint, scenario

AV_DIAGNOSE = PLAYBOOKS / "av_exclusions_diagnose.yml"
DEFENDER = PLAYBOOKS / "defender_exclusions.yml"
AGENT_DIAGNOSE = PLAYBOOKS / "guest_agent_diagnose.yml"
AGENT_START = PLAYBOOKS / "guest_agent_restart.yml"
BITLOCKER = PLAYBOOKS / "bitlocker_diagnose.yml"
PLUGINS_PATH = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
LOGS_PATH = "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
ADD_TASK = "Add each missing folder to the Defender exclusions (Add-MpPreference keeps the others)"
START_TASK = "Start each agent service, starting it automatically if it was Manual or Disabled"

pytestmark = pytest.mark.lab


def services(state: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {name: (s["state"], s["start_mode"]) for name, s in state["services"].items()}


def snapshot(windows: WindowsLab, host: str) -> dict[str, Any]:
    """What a step may change: services, their start/stop record, Defender, BitLocker, adapters."""
    state = windows.state(host)
    return {"services": services(state), "actions": state.get("service_actions"), "restarts":
            state["service_restarts"], "defender": state["defender"], "bitlocker": state["bitlocker"],
            "adapters": state["network_adapters"]}


def test_antivirus_diagnose_reads_defender_products_and_crashes(make_lab: Any) -> None:
    windows = make_lab(scenario("antivirus-extension-crash.yml"))
    before = {h: snapshot(windows, h) for h in ("av-defender", "av-thirdparty")}
    run = windows.run(AV_DIAGNOSE, "--check", "--diff")
    assert run.rc == 0, run.stderr
    defender = run.diagnosis_of("av-defender")
    assert defender["healthy"] is False
    assert defender["defender"]["missing"] == [LOGS_PATH]  # the plugin folder is excluded in lower case
    assert [c["time_created"] for c in defender["extension_crashes"]] == ["2026-01-05T02:10:31Z",
                                                                          "2026-01-04T02:10:12Z"]  # not w3wp.exe
    other = run.diagnosis_of("av-thirdparty")
    assert other["healthy"] is False and other["defender"]["running"] is False
    assert [(p["service"], p["product"]) for p in other["other_antivirus"]] == [("CSFalconService",
                                                                                  "CrowdStrike Falcon")]
    # Get-MpPreference is read only where WinDefend runs (it fails when the service is stopped)
    assert run.task("Read the Microsoft Defender exclusion paths (Get-MpPreference)", "av-thirdparty")["skipped"]
    for host in before:
        assert run.stats(host)["changed"] == 0
        assert snapshot(windows, host) == before[host]


def test_defender_exclusions_check_apply_rerun(make_lab: Any) -> None:
    windows = make_lab(scenario("antivirus-extension-crash.yml"))
    before = snapshot(windows, "av-defender")

    check = windows.run(DEFENDER, "--check", "--diff", "-l", "av-defender")
    assert check.rc == 0, check.stderr
    assert check.items(ADD_TASK, "av-defender") == [(LOGS_PATH, True)]  # only the missing folder
    assert snapshot(windows, "av-defender") == before

    apply = windows.run(DEFENDER, "-l", "av-defender")
    assert apply.rc == 0, apply.stderr
    assert apply.items(ADD_TASK, "av-defender") == [(LOGS_PATH, True)]
    after = snapshot(windows, "av-defender")
    # every existing exclusion kept, in place; the lower-case plugin folder is not added a second time
    assert after["defender"]["exclusion_paths"] == [
        "D:\\SQLData", PLUGINS_PATH.lower(), LOGS_PATH]
    assert {k: v for k, v in after.items() if k != "defender"} == {k: v for k, v in before.items() if k != "defender"}

    rerun = windows.run(DEFENDER, "-l", "av-defender")
    assert rerun.rc == 0 and rerun.stats("av-defender")["changed"] == 0
    assert rerun.items(ADD_TASK, "av-defender") == []
    assert snapshot(windows, "av-defender") == after

    verify = windows.run(AV_DIAGNOSE, "-l", "av-defender")
    assert verify.diagnosis_of("av-defender")["healthy"] is True


def test_defender_exclusions_leave_a_host_without_defender_alone(make_lab: Any) -> None:
    windows = make_lab(scenario("antivirus-extension-crash.yml"))
    before = snapshot(windows, "av-thirdparty")
    run = windows.run(DEFENDER, "-l", "av-thirdparty")
    assert run.rc == 0, run.stderr
    assert run.stats("av-thirdparty")["changed"] == 0
    message = run.task("Report that Microsoft Defender is not running (nothing to exclude in it)", "av-thirdparty")
    assert PLUGINS_PATH in message["msg"] and LOGS_PATH in message["msg"]
    assert snapshot(windows, "av-thirdparty") == before
    bad = windows.run(DEFENDER, "-l", "av-thirdparty", "-e", json.dumps({"defender_exclusion_paths": ["C:\\it's"]}))
    assert bad.rc != 0 and "without single quotes" in bad.task("Check the requested folders", "av-thirdparty")["msg"]


def test_guest_agent_diagnose_on_every_fault(make_lab: Any) -> None:
    windows = make_lab(scenario("guest-agent-faults.yml"))
    hosts = ("agent-stopped", "agent-disabled", "agent-old", "agent-dhcp-off", "agent-missing")
    before = {h: snapshot(windows, h) for h in hosts}
    run = windows.run(AGENT_DIAGNOSE, "--check")
    assert run.rc == 0, run.stderr
    problems = {h: [(f["check"], f.get("service") or f.get("adapter"), f.get("problem"))
                    for f in run.diagnosis_of(h)["findings"]] for h in hosts}
    assert problems == {
        "agent-stopped": [("service", "WindowsAzureGuestAgent", "not-running"), ("service", "RdAgent", "not-running"),
                          ("service", "RdAgent", "not-automatic")],
        "agent-disabled": [("service", "WindowsAzureGuestAgent", "not-running"),
                           ("service", "WindowsAzureGuestAgent", "not-automatic")],
        "agent-old": [("version", None, None)],
        "agent-dhcp-off": [("dhcp", "Microsoft Hyper-V Network Adapter (Ethernet 2)", None)],
        "agent-missing": [("service", "WindowsAzureGuestAgent", "not-installed"),
                          ("service", "RdAgent", "not-installed"), ("version", None, None)],
    }
    assert run.diagnosis_of("agent-old")["agent"] | {} == {
        "installed": True, "raw": "2.6.1198.687", "version": "2.6.1198.687", "error": None,
        "min_version": "2.6.1198.718", "up_to_date": False}
    assert "Cannot find path" in run.diagnosis_of("agent-missing")["agent"]["error"]
    no_dhcp = windows.run(AGENT_DIAGNOSE, "-l", "agent-dhcp-off", "-e", '{"guest_agent_check_dhcp": false}')
    assert no_dhcp.diagnosis_of("agent-dhcp-off")["healthy"] is True  # DHCP is reported, never changed
    for host in hosts:
        assert run.stats(host)["changed"] == 0
        assert snapshot(windows, host) == before[host]


def test_guest_agent_start_check_apply_rerun(make_lab: Any) -> None:
    windows = make_lab(scenario("guest-agent-faults.yml"))
    hosts = ("agent-stopped", "agent-disabled", "agent-missing")
    limit = ("-l", ",".join(hosts))
    before = {h: snapshot(windows, h) for h in hosts}

    check = windows.run(AGENT_START, "--check", "--diff", *limit)
    assert check.rc == 0, check.stderr
    assert check.items(START_TASK, "agent-stopped") == [("WindowsAzureGuestAgent (was stopped, auto)", True),
                                                        ("RdAgent (was stopped, manual)", True)]
    assert check.items(START_TASK, "agent-disabled") == [("WindowsAzureGuestAgent (was stopped, disabled)", True),
                                                         ("RdAgent (was started, auto)", False)]
    assert {h: snapshot(windows, h) for h in hosts} == before

    apply = windows.run(AGENT_START, *limit)
    assert apply.rc == 0, apply.stderr
    for host in ("agent-stopped", "agent-disabled"):
        after = snapshot(windows, host)
        assert after["services"]["WindowsAzureGuestAgent"] == ("running", "auto")
        assert after["services"]["RdAgent"] == ("running", "auto")
        changed = {n for n, s in after["services"].items() if s != before[host]["services"][n]}
        assert changed == ({"WindowsAzureGuestAgent", "RdAgent"} if host == "agent-stopped"
                           else {"WindowsAzureGuestAgent"})
        assert {a["service"] for a in after["actions"]} == changed  # started, never restarted
        assert after["restarts"] == []
    missing = apply.task("Report the agent services that are not installed (reinstall the agent by hand)",
                         "agent-missing")
    assert [r["item"] for r in missing["results"]] == ["WindowsAzureGuestAgent", "RdAgent"]
    assert snapshot(windows, "agent-missing") == before["agent-missing"]  # never creates a service

    rerun = windows.run(AGENT_START, *limit)
    assert rerun.rc == 0
    assert all(rerun.stats(h)["changed"] == 0 for h in hosts)


def test_guest_agent_restart_running_on_request(make_lab: Any) -> None:
    windows = make_lab({"vm1": {"platform": "windows"}})
    default = windows.run(AGENT_START)
    assert default.rc == 0 and default.stats()["changed"] == 0
    forced = windows.run(AGENT_START, "-e", '{"guest_agent_restart_running": true}')
    assert forced.rc == 0, forced.stderr
    assert windows.state()["service_restarts"] == ["WindowsAzureGuestAgent", "RdAgent"]


def test_bitlocker_diagnose_reads_and_never_changes_bitlocker(make_lab: Any) -> None:
    windows = make_lab(scenario("bitlocker-locked.yml"))
    before = {h: snapshot(windows, h) for h in ("bl-locked", "bl-clear")}
    for args in (("--check",), ()):
        run = windows.run(BITLOCKER, *args)
        assert run.rc == 0, run.stderr
        locked = run.diagnosis_of("bl-locked")
        assert locked["healthy"] is False
        assert [(f["mount_point"], f["lock_status"], f["volume_status"]) for f in locked["findings"]] == [
            ("D:", "Locked", None), ("E:", "Unlocked", "EncryptionInProgress")]
        assert run.diagnosis_of("bl-clear")["healthy"] is True
    for host in before:
        assert snapshot(windows, host) == before[host]
        commands = windows.state(host)["commands_run"]
        assert commands and all(c.startswith("Get-BitLockerVolume |") for c in commands)


def test_playbooks_pass_ansible_lint_production() -> None:
    proc = ansible_lint(AV_DIAGNOSE, DEFENDER, AGENT_DIAGNOSE, AGENT_START, BITLOCKER,
                        ROOT / "playbooks/vars/antivirus_services.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Antivirus (VMRestorePointInternalError), guest agent (380008 AzureVmOffline, UserErrorGuestAgentStatusUnavailable
and siblings, VmNotInDesirableState) and BitLocker (ExtensionSnapshotBitlockerError) through the real `remediate`
command, real ansible-runner and real WinRM against the simulated Windows hosts: dry-run (plan shown, host
untouched), apply (fault gone, verified, nothing else changed), rerun (no-change), ladders that end in manual
guidance (exit 4).
"""

from __future__ import annotations

import copy

import pytest

from .conftest import ROOT, applied, noop, start_lab, stop_lab

PLUGINS_PATH = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
LOGS_PATH = "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
AV_CODE = "VMRestorePointInternalError"
BITLOCKER_CODE = "ExtensionSnapshotBitlockerError"


def host_state(r, host: str) -> dict:
    res = r("lab", "status", "--json")
    assert res.rc == 0, res.stderr
    return res.json["hosts"][host]


def mutations(state: dict) -> list[str]:
    """Recognised commands that change a host (the reads start with Get- or read a property)."""
    return [c for c in state["commands_run"] if not c.startswith(("Get-", "(Get-"))]


def services(state: dict) -> dict[str, tuple[str, str]]:
    return {name: (s["state"], s["start_mode"]) for name, s in state["services"].items()}


@pytest.fixture(scope="module")
def av_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "antivirus-extension-crash.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def agent_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "guest-agent-faults.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def bitlocker_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "bitlocker-locked.yml")
    yield r
    stop_lab(r)


# -- VMRestorePointInternalError ----------------------------------------------------------------------------------


def test_av_dry_run_plans_only_the_missing_exclusion(av_lab):
    before = host_state(av_lab, "av-defender")
    res = av_lab("--code", AV_CODE, "--host", "av-defender", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned"
    [step] = doc["results"]["av-defender"]["plan"]
    assert (step["id"], step["risk"], step["approval"]) == ("defender-exclusions", "low", "auto")
    assert [t["item"] for t in step["would_change"]] == [LOGS_PATH]  # the plugin folder is already excluded
    diagnosis = doc["diagnosis"]["av-defender"]
    assert diagnosis["healthy"] is False and diagnosis["defender"]["missing"] == [LOGS_PATH]
    assert len(diagnosis["extension_crashes"]) == 2  # IaaSBcdrExtension.exe, not the w3wp.exe crash
    after = host_state(av_lab, "av-defender")
    assert after["defender"] == before["defender"] and services(after) == services(before)
    assert mutations(after) == []


def test_av_apply_adds_the_missing_exclusion_and_keeps_the_others(av_lab):
    before = host_state(av_lab, "av-defender")
    res = av_lab("--code", AV_CODE, "--host", "av-defender", "--json")  # low risk: no approval needed
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert doc["verification"]["av-defender"]["state"] == "healthy"
    assert applied(doc) == [("defender-exclusions", True)]
    after = host_state(av_lab, "av-defender")
    assert after["defender"]["exclusion_paths"] == ["D:\\SQLData", PLUGINS_PATH.lower(), LOGS_PATH]
    assert mutations(after) == [f"Add-MpPreference -ExclusionPath '{LOGS_PATH}'"]
    assert services(after) == services(before) and after["service_restarts"] == []


def test_av_rerun_is_no_change(av_lab):
    before = host_state(av_lab, "av-defender")
    res = av_lab("--code", AV_CODE, "--host", "av-defender", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change"
    after = host_state(av_lab, "av-defender")
    assert after["defender"] == before["defender"] and mutations(after) == mutations(before)


def test_av_other_antivirus_ends_with_manual_guidance_naming_the_folders(av_lab):
    before = host_state(av_lab, "av-thirdparty")
    res = av_lab("--code", AV_CODE, "--host", "av-thirdparty", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    assert applied(doc) == [("defender-exclusions", False)]  # Defender stopped: step 1 has nothing to add
    [guidance] = doc["guidance"]
    assert guidance["id"] == "other-antivirus-and-app-control"
    assert PLUGINS_PATH in guidance["guidance"] and LOGS_PATH in guidance["guidance"]
    findings = doc["verification"]["av-thirdparty"]["diagnosis"]["findings"]
    assert [(f["check"], f.get("product")) for f in findings] == [("other-antivirus", "CrowdStrike Falcon")]
    after = host_state(av_lab, "av-thirdparty")
    assert after["defender"] == before["defender"] and services(after) == services(before)
    assert mutations(after) == []


# -- guest agent --------------------------------------------------------------------------------------------------


def test_agent_dry_run_plans_the_start_and_touches_nothing(agent_lab):
    before = host_state(agent_lab, "agent-stopped")
    res = agent_lab("--code", "UserErrorGuestAgentStatusUnavailable", "--host", "agent-stopped", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned" and doc["plan_id"]
    [step] = doc["results"]["agent-stopped"]["plan"]
    assert (step["id"], step["risk"], step["approval"]) == ("start-windows-guest-agent", "medium", "window")
    assert [t["item"] for t in step["would_change"]] == ["WindowsAzureGuestAgent (was stopped, auto)",
                                                         "RdAgent (was stopped, manual)"]
    assert all(t["diff"] for t in step["would_change"])  # win_service shows the approver what changes
    after = host_state(agent_lab, "agent-stopped")
    assert services(after) == services(before) and after.get("service_actions") == before.get("service_actions")


def test_agent_apply_starts_exactly_the_agent_services(agent_lab):
    before = host_state(agent_lab, "agent-stopped")
    res = agent_lab("--code", "UserErrorGuestAgentStatusUnavailable", "--host", "agent-stopped", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed" and doc["verification"]["agent-stopped"]["state"] == "healthy"
    after = host_state(agent_lab, "agent-stopped")
    expected = copy.deepcopy(services(before))
    expected |= {"WindowsAzureGuestAgent": ("running", "auto"), "RdAgent": ("running", "auto")}
    assert services(after) == expected  # msiserver stays stopped, every other service as it was
    assert [(a["service"], a["action"]) for a in after["service_actions"]] == [
        ("WindowsAzureGuestAgent", "start"), ("RdAgent", "start")]
    assert after["service_restarts"] == []


def test_agent_rerun_is_no_change_for_every_agent_runbook(agent_lab):
    for code in ("UserErrorGuestAgentStatusUnavailable", "UserErrorVmNotInDesirableState"):
        res = agent_lab("--code", code, "--host", "agent-stopped", "--yes", "--json")
        assert res.rc == 0, res.stderr
        assert res.json["status"] == "no-change"
    assert len(host_state(agent_lab, "agent-stopped")["service_actions"]) == 2


def test_380008_disabled_agent_is_set_automatic_and_started(agent_lab):
    before = host_state(agent_lab, "agent-disabled")
    res = agent_lab("--code", "380008", "--host", "agent-disabled", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    assert res.json["code"] == "AzureVmOffline" and res.json["status"] == "fixed"
    after = host_state(agent_lab, "agent-disabled")
    assert services(after) == services(before) | {"WindowsAzureGuestAgent": ("running", "auto")}
    assert [a["service"] for a in after["service_actions"]] == ["WindowsAzureGuestAgent"]  # RdAgent untouched


def test_380008_old_agent_ends_with_the_reinstall_guidance(agent_lab):
    before = host_state(agent_lab, "agent-old")
    res = agent_lab("--code", "380008", "--host", "agent-old", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    # the agent runs: with --yes the idempotent step is applied without a check run, and changes nothing
    assert noop(doc) == [] and applied(doc) == [("start-windows-guest-agent", False)]
    [guidance] = doc["guidance"]
    assert guidance["id"] == "install-agent-and-check-flag" and "2.6.1198.718" in guidance["guidance"]
    agent = doc["diagnosis"]["agent-old"]["agent"]  # nothing applied: nothing to verify
    assert (agent["version"], agent["up_to_date"]) == ("2.6.1198.687", False)
    after = host_state(agent_lab, "agent-old")
    assert services(after) == services(before) and after.get("service_actions") == before.get("service_actions")


def test_dhcp_disabled_is_reported_never_changed(agent_lab):
    before = host_state(agent_lab, "agent-dhcp-off")
    res = agent_lab("--code", "GuestAgentSnapshotTaskStatusError", "--host", "agent-dhcp-off", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["runbook"] == "guest-agent-unresponsive"
    assert [g["id"] for g in doc["guidance"]] == ["reinstall-agent-and-check-network"]
    assert "DHCP" in doc["guidance"][0]["guidance"]
    [finding] = doc["diagnosis"]["agent-dhcp-off"]["findings"]
    assert finding["check"] == "dhcp" and "interface 9" in finding["message"]
    after = host_state(agent_lab, "agent-dhcp-off")
    assert after["network_adapters"] == before["network_adapters"]
    assert services(after) == services(before) and mutations(after) == []


def test_vm_not_in_desirable_state_without_agent_guides_the_install(agent_lab):
    res = agent_lab("--code", "VmNotInDesirableState", "--host", "agent-missing", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert noop(doc) == [] and applied(doc) == [("start-windows-guest-agent", False)]  # never creates a service
    assert [g["id"] for g in doc["guidance"]] == ["wait-for-stable-state", "install-vm-agent"]
    state = host_state(agent_lab, "agent-missing")
    assert "WindowsAzureGuestAgent" not in state["services"] and "RdAgent" not in state["services"]


# -- ExtensionSnapshotBitlockerError ------------------------------------------------------------------------------


def test_bitlocker_locked_drive_is_reported_and_never_touched(bitlocker_lab):
    before = host_state(bitlocker_lab, "bl-locked")
    for extra in (["--dry-run"], ["--yes"]):
        res = bitlocker_lab("--code", BITLOCKER_CODE, "--host", "bl-locked", *extra, "--json", "--lang", "fr")
        assert res.rc == 4, res.stderr + res.stdout
        doc = res.json
        assert doc["status"] == "manual" and applied(doc) == []
        assert [g["id"] for g in doc["guidance"]] == ["turn-off-bitlocker"]
        assert "Désactivez BitLocker pour tous les lecteurs" in doc["guidance"][0]["guidance"]
        findings = doc["diagnosis"]["bl-locked"]["findings"]
        assert [(f["mount_point"], f["lock_status"], f["volume_status"]) for f in findings] == [
            ("D:", "Locked", None), ("E:", "Unlocked", "EncryptionInProgress")]
    after = host_state(bitlocker_lab, "bl-locked")
    assert after["bitlocker"] == before["bitlocker"]
    assert after["commands_run"] and mutations(after) == []  # only Get-BitLockerVolume ran


def test_bitlocker_clear_host_is_no_change(bitlocker_lab):
    res = bitlocker_lab("--code", BITLOCKER_CODE, "--host", "bl-clear", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change"


# -- catalog ------------------------------------------------------------------------------------------------------


def test_codes_and_explain_show_the_windows_steps(av_lab):
    codes = {c["code"]: c for c in av_lab("codes", "--json").json["codes"]}
    expected = {AV_CODE: "antivirus-blocks-backup-extension", "AzureVmOffline": "vm-agent-not-running",
                "UserErrorGuestAgentStatusUnavailable": "guest-agent-unresponsive",
                "GuestAgentSnapshotTaskStatusError": "guest-agent-unresponsive",
                "ExtensionOperationFailedForManagedDisks": "guest-agent-unresponsive",
                "VmNotInDesirableState": "vm-not-in-desirable-state",
                "UserErrorVmNotInDesirableState": "vm-not-in-desirable-state",
                BITLOCKER_CODE: "bitlocker-locked-drive"}
    assert {c: codes[c]["runbook"] for c in expected} == expected
    assert codes[BITLOCKER_CODE]["automated_steps"] == 0
    for code, step_id, risk in ((AV_CODE, "defender-exclusions", "low"),
                                ("380008", "start-windows-guest-agent", "medium"),
                                ("ExtensionOperationFailedForManagedDisks", "start-windows-guest-agent", "medium"),
                                ("VmNotInDesirableState", "start-windows-guest-agent", "medium")):
        doc = av_lab("explain", code, "--lang", "fr", "--json").json
        windows = [s for s in doc["ladder"] if s["platform"] in ("windows",) and s["kind"] == "automated"]
        assert [(s["id"], s["risk"], s["automated"]) for s in windows] == [(step_id, risk, True)]
        assert (ROOT / "playbooks" / windows[0]["playbook"]).is_file()
        assert doc["diagnose"]["windows"].startswith("windows/")
    bitlocker = av_lab("explain", BITLOCKER_CODE, "--lang", "fr", "--json").json
    assert [(s["kind"], s["risk"]) for s in bitlocker["ladder"]] == [("manual", "never")]

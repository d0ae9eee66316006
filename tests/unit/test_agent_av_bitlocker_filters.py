"""The antivirus, guest agent and BitLocker filters (playbooks/filter_plugins/{antivirus,guest_agent,bitlocker}.py),
no Ansible run. Inputs have the shapes the real modules return: win_service_info `services`, win_powershell
`output` / `error` (enums as {Type, String, Value}, win_powershell.ps1 Convert-OutputObject)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "playbooks/filter_plugins"
PLUGINS_PATH = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
LOGS_PATH = "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
REQUIRED = [PLUGINS_PATH, LOGS_PATH]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_filter", PLUGINS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"{name}_filter"] = module
    spec.loader.exec_module(module)
    return module


av = _load("antivirus")
agent = _load("guest_agent")
bitlocker = _load("bitlocker")
AV_SERVICES: dict[str, str] = yaml.safe_load((ROOT / "playbooks/vars/antivirus_services.yml").read_text())[
    "av_services"
]


def service(name: str, state: str = "started", start_mode: str = "auto") -> dict[str, Any]:
    return {"name": name, "display_name": name, "state": state, "start_mode": start_mode}


def enum(type_name: str, name: str, value: int) -> dict[str, Any]:
    return {"Type": f"Microsoft.BitLocker.Structures.{type_name}", "String": name, "Value": value}


# -- antivirus --------------------------------------------------------------------------------------------------


def test_exclusions_compare_case_insensitively_and_ignore_a_trailing_backslash() -> None:
    current = ["D:\\SQLData", PLUGINS_PATH.lower() + "\\"]
    assert av.av_missing_exclusions(current, REQUIRED) == [LOGS_PATH]
    assert av.av_missing_exclusions(REQUIRED, REQUIRED) == []
    assert av.av_missing_exclusions([LOGS_PATH.upper()], REQUIRED + [PLUGINS_PATH.lower()]) == [PLUGINS_PATH]


def test_no_exclusion_at_all_is_nothing_or_a_null() -> None:
    # (Get-MpPreference).ExclusionPath is $null without exclusions: win_powershell output [] or [None]
    assert av.av_exclusion_paths([]) == av.av_exclusion_paths([None]) == av.av_exclusion_paths(None) == []
    assert av.av_missing_exclusions([None], REQUIRED) == REQUIRED
    with pytest.raises(AnsibleFilterError, match="path strings"):
        av.av_exclusion_paths([{"ExclusionPath": ["C:\\A"]}])  # the whole Get-MpPreference object: wrong input


def test_extension_crashes_match_the_executable_name_in_any_language() -> None:
    events = [
        {"TimeCreated": "2026-01-05T02:10:31.0000000Z", "ProviderName": "Application Error", "Id": 1000,
         "LogName": "Application", "Message": "Faulting application name: IaaSBcdrExtension.exe, version: 1.0.0.0"},
        {"TimeCreated": "2026-01-04T02:10:31.0000000Z", "ProviderName": "Application Error", "Id": 1000,
         "LogName": "Application",
         "Message": "Nom de l’application défaillante IaaSBcdrExtension.exe, version : 1.0.0.0"},
        {"TimeCreated": "2026-01-03T02:10:31.0000000Z", "ProviderName": "Application Error", "Id": 1000,
         "LogName": "Application", "Message": "Faulting application name: w3wp.exe, version: 10.0.20348.1"},
        {"TimeCreated": "2026-01-02T02:10:31.0000000Z", "ProviderName": "Application Error", "Id": 1000,
         "LogName": "Application", "Message": "Faulting application name: NotIaaSBcdrExtension.exe.bak"},
    ]
    crashes = av.av_extension_crashes(events)
    assert [c["time_created"] for c in crashes] == ["2026-01-05T02:10:31.0000000Z", "2026-01-04T02:10:31.0000000Z"]
    assert av.av_extension_crashes([]) == [] and av.av_extension_crashes(None) == []


def test_products_are_recognised_by_service_name_patterns() -> None:
    services = [service("WinDefend"), service("CSFalconService"), service("AVP21.3", "stopped"), service("VSS")]
    found = av.av_products(services, AV_SERVICES)
    assert [(p["service"], p["product"], p["running"]) for p in found] == [
        ("CSFalconService", "CrowdStrike Falcon", True),
        ("AVP21.3", "Kaspersky Endpoint Security", False),
    ]
    assert av.av_products([service("csfalconservice")], AV_SERVICES)[0]["product"] == "CrowdStrike Falcon"


def test_diagnosis_defender_missing_one_folder_is_unhealthy_until_excluded() -> None:
    services = [service("WinDefend"), service("VSS")]
    diag = av.av_diagnosis(services, ["D:\\SQLData", PLUGINS_PATH.lower()], [], REQUIRED, AV_SERVICES)
    assert diag["healthy"] is False
    assert [f["check"] for f in diag["findings"]] == ["defender-exclusion"]
    assert diag["defender"]["missing"] == [LOGS_PATH]
    assert "excludes 1 of 2" in diag["summary"]
    fixed = av.av_diagnosis(services, ["D:\\SQLData", PLUGINS_PATH.lower(), LOGS_PATH], [{"time_created": "t"}],
                            REQUIRED, AV_SERVICES)
    # old crashes stay in the log: evidence, not a verdict, once Defender excludes both folders
    assert fixed["healthy"] is True and "crashed 1 time(s)" in fixed["summary"]


def test_diagnosis_other_antivirus_is_unhealthy_and_named() -> None:
    services = [service("WinDefend", "stopped", "manual"), service("CSFalconService")]
    diag = av.av_diagnosis(services, None, [], REQUIRED, AV_SERVICES)
    assert diag["healthy"] is False
    assert diag["defender"] == {"installed": True, "running": False, "state": "stopped", "exclusion_paths": [],
                                "missing": []}
    [finding] = diag["findings"]
    assert finding["check"] == "other-antivirus" and finding["product"] == "CrowdStrike Falcon"
    assert PLUGINS_PATH in finding["message"] and LOGS_PATH in finding["message"]


def test_diagnosis_crash_without_any_known_antivirus_is_unhealthy() -> None:
    quiet = av.av_diagnosis([service("VSS")], None, [], REQUIRED, AV_SERVICES)
    assert quiet["healthy"] is True and "Microsoft Defender is not installed" in quiet["summary"]
    crashed = av.av_diagnosis([service("VSS")], None, [{"time_created": "t"}], REQUIRED, AV_SERVICES)
    assert crashed["healthy"] is False and crashed["findings"][0]["check"] == "extension-crash"
    with pytest.raises(AnsibleFilterError, match="required exclusion paths"):
        av.av_diagnosis([service("VSS")], None, [], [], AV_SERVICES)


# -- guest agent ------------------------------------------------------------------------------------------------

AGENTS = ["WindowsAzureGuestAgent", "RdAgent"]
GOOD_VERSION = {"installed": True, "raw": "2.7.41491.1102", "version": "2.7.41491.1102", "error": None}
ADAPTER = {"Description": "Microsoft Hyper-V Network Adapter", "InterfaceIndex": 6, "DHCPEnabled": True,
           "IPAddress": ["10.0.0.4", "fe80::1"]}


def test_version_is_the_leading_dotted_number_of_the_product_version() -> None:
    assert agent.guest_agent_version(["2.7.41491.1102"], []) == GOOD_VERSION
    assert agent.guest_agent_version(["2.7.41491.1102 (rd_agent_release.230601)"])["version"] == "2.7.41491.1102"
    missing = agent.guest_agent_version([], [{"output": "Get-Item : Cannot find path ...",
                                              "exception": {"message": "Cannot find path 'C:\\x' ..."}}])
    assert missing == {"installed": False, "raw": None, "version": None, "error": "Cannot find path 'C:\\x' ..."}
    assert agent.guest_agent_version(["n/a"])["version"] is None


def test_healthy_agent() -> None:
    diag = agent.guest_agent_diagnosis([service("RdAgent"), service("WindowsAzureGuestAgent", start_mode="delayed")],
                                       GOOD_VERSION, [ADAPTER], AGENTS)
    assert diag["healthy"] is True and diag["findings"] == []
    assert diag["agent"]["up_to_date"] is True and diag["agent"]["min_version"] == "2.6.1198.718"
    assert diag["adapters"][0]["ip_addresses"] == ["10.0.0.4", "fe80::1"]


def test_stopped_manual_and_missing_services() -> None:
    services = [service("WindowsAzureGuestAgent", "stopped", "disabled")]
    diag = agent.guest_agent_diagnosis(services, GOOD_VERSION, [ADAPTER], AGENTS)
    assert [(f["service"], f["problem"]) for f in diag["findings"]] == [
        ("WindowsAzureGuestAgent", "not-running"), ("WindowsAzureGuestAgent", "not-automatic"),
        ("RdAgent", "not-installed")]
    assert diag["services"][1] == {"name": "RdAgent", "installed": False, "state": None, "start_mode": None}


def test_version_comparison_is_numeric() -> None:
    for raw, ok in (("2.6.1198.718", True), ("2.6.1198.687", False), ("2.6.1198.7180", True), ("2.10.0.0", True),
                    ("2.6", False)):
        version = agent.guest_agent_version([raw])
        diag = agent.guest_agent_diagnosis([service(n) for n in AGENTS], version, [], AGENTS)
        assert diag["healthy"] is ok, raw
    old = agent.guest_agent_diagnosis([service(n) for n in AGENTS], agent.guest_agent_version(["2.5.0.1"]), [],
                                      AGENTS)
    assert "older than 2.6.1198.718" in old["findings"][0]["message"]


def test_dhcp_is_checked_only_when_asked() -> None:
    static = dict(ADAPTER, InterfaceIndex=9, DHCPEnabled=False)
    services = [service(n) for n in AGENTS]
    diag = agent.guest_agent_diagnosis(services, GOOD_VERSION, [ADAPTER, static], AGENTS)
    assert [f["check"] for f in diag["findings"]] == ["dhcp"] and "interface 9" in diag["summary"]
    assert agent.guest_agent_diagnosis(services, GOOD_VERSION, [], AGENTS, check_dhcp=False)["healthy"] is True
    with pytest.raises(AnsibleFilterError, match="Win32_NetworkAdapterConfiguration"):
        agent.guest_agent_diagnosis(services, GOOD_VERSION, [{"Dhcp": "Enabled"}], AGENTS)


# -- BitLocker --------------------------------------------------------------------------------------------------


def volume(mount: str, status: str | None, lock: str, protection: str, percent: float | None) -> dict[str, Any]:
    values = {"FullyDecrypted": 0, "FullyEncrypted": 1, "EncryptionInProgress": 2, "DecryptionInProgress": 3}
    return {
        "MountPoint": mount,
        "VolumeStatus": enum("BitLockerVolumeStatus", status, values[status]) if status else None,
        "ProtectionStatus": enum("BitLockerVolumeProtectionStatus", protection,
                                 {"Off": 0, "On": 1, "Unknown": 2}[protection]),
        "LockStatus": enum("BitLockerVolumeLockStatus", lock, {"Unlocked": 0, "Locked": 1}[lock]),
        "EncryptionPercentage": percent,
    }


def test_bitlocker_locked_and_converting_volumes_need_an_operator() -> None:
    output = [
        volume("C:", "FullyEncrypted", "Unlocked", "On", 100.0),
        volume("D:", None, "Locked", "Unknown", None),  # BitLocker.psm1: no conversion status while locked
        volume("E:", "EncryptionInProgress", "Unlocked", "Off", 42.5),
        volume("F:", "DecryptionInProgress", "Unlocked", "Off", 3.0),
    ]
    volumes = bitlocker.bitlocker_volumes(output)
    assert volumes[1] == {"mount_point": "D:", "volume_status": None, "protection_status": "Unknown",
                          "lock_status": "Locked", "encryption_percentage": None}
    diag = bitlocker.bitlocker_diagnosis(volumes)
    assert diag["healthy"] is False
    assert [f["message"] for f in diag["findings"]] == [
        "D: locked by BitLocker (VSS cannot snapshot it)",
        "E: encryption in progress, 42.5% encrypted",
        "F: decryption in progress, 3% encrypted",
    ]


def test_bitlocker_plain_string_names_and_healthy_volumes() -> None:
    output = [{"MountPoint": "C:", "VolumeStatus": "FullyDecrypted", "ProtectionStatus": "Off",
               "LockStatus": "Unlocked", "EncryptionPercentage": 0}]
    diag = bitlocker.bitlocker_diagnosis(bitlocker.bitlocker_volumes(output))
    assert diag["healthy"] is True and diag["summary"].endswith("C: FullyDecrypted (Unlocked)")
    with pytest.raises(AnsibleFilterError, match="Get-BitLockerVolume objects"):
        bitlocker.bitlocker_volumes(["C:"])
    with pytest.raises(AnsibleFilterError, match="without String"):
        bitlocker.bitlocker_volumes([{"MountPoint": "C:", "LockStatus": {"Value": 1}}])

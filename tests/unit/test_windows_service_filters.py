"""The service filters (playbooks/filter_plugins/windows_services.py), no Ansible run: what restart_service.yml may
do, and the diagnoses of ExtensionFailedVssServiceInBadState and the COM+ / MSDTC codes. Inputs are shaped like
ansible.windows.win_service_info results (win_service_info.ps1: a running service is `started`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location(
    "windows_services_filter", ROOT / "playbooks/filter_plugins/windows_services.py"
)
assert _SPEC and _SPEC.loader
svc = importlib.util.module_from_spec(_SPEC)
sys.modules["windows_services_filter"] = svc
_SPEC.loader.exec_module(svc)

HOSTED_BY_VSS = ["ASR Writer", "COM+ REGDB Writer", "Registry Writer", "Shadow Copy Optimization Writer"]


def info(name: str | None, state: str = "started", start_mode: str = "manual", item: str | None = None,
         **extra: Any) -> dict[str, Any]:
    """A win_service_info result by name (None: the service does not exist)."""
    result: dict[str, Any] = {"changed": False, "exists": name is not None, "services": []}
    if name is not None:
        result["services"] = [{"name": name, "display_name": extra.pop("display_name", name), "state": state,
                               "start_mode": start_mode, "username": extra.pop("username", "NT AUTHORITY\\SYSTEM"),
                               "win32_exit_code": extra.pop("win32_exit_code", 0), "dependency_of": [], **extra}]
    if item is not None:
        result["item"] = item
    return result


def loop(*results: dict[str, Any]) -> dict[str, Any]:
    return {"changed": False, "results": list(results)}


# -- restart_service_plan ---------------------------------------------------------------------------------------
def test_restart_mode_restarts_every_service_a_stopped_one_too() -> None:
    plan = svc.restart_service_plan(loop(info("VSS", item="VSS"), info("BITS", "stopped", item="BITS")), "restart")
    assert [(s["name"], s["action"]) for s in plan["to_change"]] == [("VSS", "restart"), ("BITS", "restart")]
    assert plan["problems"] == [] and plan["unchanged"] == []


def test_start_mode_leaves_running_services_alone() -> None:
    plan = svc.restart_service_plan(
        loop(info("COMSysApp", "stopped", item="COMSysApp"), info("MSDTC", item="MSDTC"),
             info("Spooler", "paused", item="Spooler")), "start")
    assert [(s["name"], s["action"]) for s in plan["to_change"]] == [("COMSysApp", "start"), ("Spooler", "start")]
    assert plan["unchanged"] == ["MSDTC"]
    assert plan["to_change"][0]["label"] == "COMSysApp: start"


def test_missing_or_disabled_services_are_problems_before_anything_runs() -> None:
    plan = svc.restart_service_plan(
        loop(info(None, item="NoSuch"), info("VSS", "stopped", "disabled", item="VSS",
                                              display_name="Volume Shadow Copy")), "restart")
    assert plan["problems"][0] == "service NoSuch does not exist on this host"
    assert plan["problems"][1].startswith("VSS (Volume Shadow Copy) has startup type Disabled: it would not start "
                                          "again")
    # a disabled service that runs and need not start is no problem in start mode
    running = svc.restart_service_plan(loop(info("VSS", "started", "disabled", item="VSS")), "start")
    assert running["problems"] == [] and running["unchanged"] == ["VSS"]


def test_restart_plan_refuses_bad_input() -> None:
    with pytest.raises(AnsibleFilterError, match="mode must be one of restart, start"):
        svc.restart_service_plan(loop(info("VSS", item="VSS")), "reload")
    with pytest.raises(AnsibleFilterError, match="win_service_info failed: boom"):
        svc.restart_service_plan(loop({"failed": True, "msg": "boom", "item": "VSS"}), "restart")
    with pytest.raises(AnsibleFilterError, match="expects win_service_info result"):
        svc.restart_service_plan("VSS", "restart")


# -- Network Service spellings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("username", [
    "NT AUTHORITY\\NetworkService",  # the start name Windows setup gives MSDTC (CreateService special name)
    "nt authority\\networkservice", "NetworkService", "S-1-5-20",
    "NT AUTHORITY\\NETWORK SERVICE",  # what win_service writes on an English host (SID translated back)
    "NETWORK SERVICE",
])
def test_network_service_spellings(username: str) -> None:
    assert svc.is_network_service(username, ["NT AUTHORITY\\NETWORK SERVICE"]) is True


def test_a_localised_name_counts_only_when_the_host_says_so() -> None:
    french = "AUTORITE NT\\SERVICE RÉSEAU"
    assert svc.is_network_service(french, french) is True
    assert svc.is_network_service(french, "NT AUTHORITY\\NETWORK SERVICE") is False
    assert svc.is_network_service("NT AUTHORITY\\NetworkService", french) is True


@pytest.mark.parametrize("username", ["NT AUTHORITY\\SYSTEM", "LocalSystem", "NT AUTHORITY\\LOCAL SERVICE",
                                      "CONTOSO\\svc_dtc", "", None])
def test_other_accounts_are_not_network_service(username: str | None) -> None:
    assert svc.is_network_service(username, "NT AUTHORITY\\NETWORK SERVICE") is False


# -- complus_msdtc_diagnosis ---------------------------------------------------------------------------------------
NS = ["NT AUTHORITY\\NETWORK SERVICE"]  # win_powershell output of the S-1-5-20 translation


def msdtc(state: str = "started", username: str = "NT AUTHORITY\\NetworkService", **kw: Any) -> dict[str, Any]:
    return info("MSDTC", state, kw.pop("start_mode", "auto"), username=username,
                display_name="Distributed Transaction Coordinator", **kw)


def comsysapp(state: str = "started", **kw: Any) -> dict[str, Any]:
    return info("COMSysApp", state, kw.pop("start_mode", "manual"), display_name="COM+ System Application", **kw)


def test_complus_healthy() -> None:
    diag = svc.complus_msdtc_diagnosis(comsysapp(), msdtc(), NS)
    assert diag["healthy"] is True and diag["findings"] == []
    assert diag["summary"] == ("COMSysApp (COM+ System Application) running; MSDTC (Distributed Transaction "
                               "Coordinator) running as NT AUTHORITY\\NetworkService")
    assert diag["msdtc"]["network_service"] is True


def test_complus_stopped_comsysapp_is_step_1() -> None:
    diag = svc.complus_msdtc_diagnosis(comsysapp("stopped"), msdtc(), NS)
    assert [f["problem"] for f in diag["findings"]] == ["comsysapp-not-running"]
    assert "(step 1)" in diag["summary"] and "stopped (startup type manual)" in diag["summary"]


def test_complus_msdtc_under_localsystem_is_step_2() -> None:
    diag = svc.complus_msdtc_diagnosis(comsysapp(), msdtc("stopped", "NT AUTHORITY\\SYSTEM", win32_exit_code=1066),
                                       NS)
    assert [f["problem"] for f in diag["findings"]] == ["msdtc-account", "msdtc-not-running"]
    assert diag["findings"][0]["account"] == "NT AUTHORITY\\SYSTEM"
    assert "last exit code 1066" in diag["summary"] and "(step 2)" in diag["summary"]
    assert diag["msdtc"]["network_service"] is False


def test_complus_missing_msdtc_is_step_3_and_missing_comsysapp_is_manual() -> None:
    diag = svc.complus_msdtc_diagnosis(info(None), info(None), NS)
    assert [(f["problem"], f["fix"]) for f in diag["findings"]] == [
        ("comsysapp-missing", "repair Windows (manual): no step of this runbook can recreate it"),
        ("msdtc-missing", "msdtc -install (step 3)")]
    assert diag["msdtc"] == {"name": "MSDTC", "exists": False, "network_service": False}


def test_complus_disabled_services_are_said_as_such() -> None:
    diag = svc.complus_msdtc_diagnosis(comsysapp("stopped", start_mode="disabled"),
                                       msdtc("stopped", start_mode="disabled"), NS)
    assert [f["problem"] for f in diag["findings"]] == ["comsysapp-disabled", "msdtc-disabled"]
    assert diag["healthy"] is False


# -- vss_service_diagnosis -----------------------------------------------------------------------------------------
def writer(name: str, state: int = 1, service: str | None = None, last_error: str = "No error") -> dict[str, Any]:
    return {"name": name, "state": state, "state_label": "stable" if state == 1 else "failed at prepare backup",
            "last_error": last_error, "stable": state == 1, "service": service}


def vss_inputs(writers: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The writers as vss_writers returns them and the failing ones as vss_restart_plan does."""
    failing = [w for w in writers if not w["stable"]]
    return [{k: v for k, v in w.items() if k != "service"} for w in writers], {"failing": failing}


VSSADMIN_OK = {"rc": 0, "stdout": "vssadmin 1.1 ...", "stderr": ""}


def test_vss_healthy_with_other_writers_failing_is_not_this_fault() -> None:
    writers, plan = vss_inputs([writer("ASR Writer", service="VSS"), writer("Registry Writer", service="VSS"),
                                writer("SqlServerWriter", 7, "SQLWriter", "Timed out")])
    diag = svc.vss_service_diagnosis(info("VSS", display_name="Volume Shadow Copy"), VSSADMIN_OK, writers, plan,
                                     HOSTED_BY_VSS)
    assert diag["healthy"] is True and diag["findings"] == []
    assert diag["summary"].startswith("VSS service running; 3 writers listed, the 2 hosted by VSS stable; not this "
                                      "fault: writer(s) of other services not stable: SqlServerWriter (SQLWriter)")
    assert [w["name"] for w in diag["other_failing_writers"]] == ["SqlServerWriter"]


def test_vss_failing_hosted_writers_group_under_one_fix() -> None:
    writers, plan = vss_inputs([writer("ASR Writer", 7, "VSS", "Retryable error"),
                                writer("Registry Writer", 9, "VSS", "Timed out"), writer("System Writer")])
    events = [{"TimeCreated": "2026-01-05T02:14:05Z", "ProviderName": "VSS", "Id": 12289, "LogName": "Application",
               "LevelDisplayName": "Error", "Message": "Volume Shadow Copy Service error:\n  hr = 0x8004230f."}]
    diag = svc.vss_service_diagnosis(info("VSS"), VSSADMIN_OK, writers, plan, HOSTED_BY_VSS, events)
    assert [(f["problem"], f["writer"]) for f in diag["findings"]] == [
        ("vss-writer-failed", "ASR Writer"), ("vss-writer-failed", "Registry Writer")]
    assert diag["summary"].count("-> restart the VSS service (step 1)") == 1
    assert diag["events"][0]["message"] == "Volume Shadow Copy Service error: hr = 0x8004230f."
    assert "1 recent VSS error event(s)" in diag["summary"]


def test_vss_service_states() -> None:
    writers, plan = vss_inputs([writer("ASR Writer", service="VSS")])
    stopped = svc.vss_service_diagnosis(info("VSS", "stopped", win32_exit_code=1067), VSSADMIN_OK, writers, plan,
                                        HOSTED_BY_VSS)
    assert [f["problem"] for f in stopped["findings"]] == ["vss-not-running"]
    assert "last exit code 1067" in stopped["summary"]
    disabled = svc.vss_service_diagnosis(info("VSS", "stopped", "disabled"), VSSADMIN_OK, writers, plan,
                                         HOSTED_BY_VSS)
    assert [f["problem"] for f in disabled["findings"]] == ["vss-disabled"]
    assert "sc config VSS start= demand" in disabled["summary"]
    missing = svc.vss_service_diagnosis(info(None), VSSADMIN_OK, writers, plan, HOSTED_BY_VSS)
    assert [f["problem"] for f in missing["findings"]] == ["vss-missing"]


def test_vssadmin_failure_or_no_writers_is_a_finding() -> None:
    failed = {"rc": 2, "stdout": "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\r\n"
              "(C) Copyright 2001-2013 Microsoft Corp.\r\n\r\nError: A Volume Shadow Copy Service component "
              "encountered an unexpected error.\r\n", "stderr": ""}
    diag = svc.vss_service_diagnosis(info("VSS"), failed, [], {"failing": []}, HOSTED_BY_VSS)
    assert [f["problem"] for f in diag["findings"]] == ["vssadmin-failed"]
    assert diag["vssadmin"]["error"] == ("Error: A Volume Shadow Copy Service component encountered an unexpected "
                                         "error.")
    empty = svc.vss_service_diagnosis(info("VSS"), VSSADMIN_OK, [], {"failing": []}, HOSTED_BY_VSS)
    assert [f["problem"] for f in empty["findings"]] == ["no-writers"]

"""The service fixes through the real `remediate` command against the simulated Windows hosts:
ExtensionSnapshotFailedCOM / ExtensionInstallationFailedCOM / ExtensionInstallationFailedMDTC (COM+ System
Application and MSDTC, lab/scenarios/complus-msdtc.yml) and ExtensionFailedVssServiceInBadState (the VSS service,
lab/scenarios/vss-service-bad-state.yml).

Tests run in file order on one lab per scenario: dry-run (plan shown, state untouched), apply (fault gone,
verified, only the expected services touched; SQL Server and the other writers' services never), rerun
(no-change), and the ladder (a fault step 1 does not fix goes on; step 3 is reached only when steps 1-2 do not fix;
an exhausted ladder exits 4 with the manual guidance).
"""

from __future__ import annotations

import copy

import pytest

from .conftest import applied, hosts, noop, plan_lines, start_lab, stop_lab

COM = "ExtensionSnapshotFailedCOM"
MDTC = "ExtensionInstallationFailedMDTC"
VSS = "ExtensionFailedVssServiceInBadState"
NETWORK_SERVICE = "NT AUTHORITY\\NETWORK SERVICE"


def services(state: dict) -> dict[str, tuple]:
    return {n: (s["state"], s["username"], s["start_mode"]) for n, s in state["services"].items()}


def touched(state: dict) -> set[str]:
    return {a["service"] for a in state.get("service_actions") or []}


def untouched(before: dict, after: dict) -> None:
    """Nothing changed; the diagnose's own reads (vssadmin, Get-WinEvent, the SID translation) are all it ran."""
    assert {k: v for k, v in after.items() if k != "commands_run"} == \
        {k: v for k, v in before.items() if k != "commands_run"}
    assert not [c for c in after["commands_run"] if c.lower().startswith(("msdtc", "net ", "sc "))]


def same_except(before: dict, after: dict, changed: set[str]) -> None:
    """Every service but `changed` as it was; writers, registry and files untouched."""
    old, new = services(before), services(after)
    assert {n: v for n, v in new.items() if n not in changed} == {n: v for n, v in old.items() if n not in changed}
    assert touched(after) - touched(before) <= changed
    for key in ("registry", "files", "defender", "certificates"):
        assert after[key] == before[key], key


# -- COM+ System Application / MSDTC ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def com_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "complus-msdtc.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def com_start(com_lab) -> dict:
    return copy.deepcopy(hosts(com_lab))


def test_codes_and_explain_show_the_com_ladder(com_lab):
    res = com_lab("codes", "--json")
    assert res.rc == 0, res.stderr
    rows = {row["code"]: row for row in res.json["codes"]}
    for code in (COM, "ExtensionInstallationFailedCOM", MDTC):
        assert (rows[code]["steps"], rows[code]["automated_steps"]) == (4, 3)
    assert (rows[VSS]["steps"], rows[VSS]["automated_steps"]) == (2, 1)
    res = com_lab("explain", MDTC, "--lang", "fr", "--json")
    assert res.rc == 0, res.stderr
    ladder = [(s["id"], s["automated"], s["risk"], s["playbook"]) for s in res.json["ladder"]]
    assert ladder == [
        ("start-comsysapp", True, "medium", "windows/restart_service.yml"),
        ("msdtc-network-service", True, "medium", "windows/msdtc_network_service.yml"),
        ("msdtc-reinstall", True, "high", "windows/msdtc_reinstall.yml"),
        ("trigger-backup", False, "never", None),
    ]
    assert res.json["message"].startswith("L’installation de l’extension a échoué")
    assert "net start COMSysApp" in res.json["ladder"][0]["guidance"]
    assert "msdtc -uninstall" in res.json["ladder"][2]["guidance"]


def test_com1_dry_run_plans_the_start_of_comsysapp_and_touches_nothing(com_lab, com_start):
    res = com_lab("--code", COM, "--host", "com1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned"
    assert [f["problem"] for f in doc["diagnosis"]["com1"]["findings"]] == ["comsysapp-not-running"]
    assert doc["results"]["com1"]["plan"][0]["id"] == "start-comsysapp"
    assert plan_lines(doc, "com1") == ["service COMSysApp — state: stopped → running"]
    assert "Plan for com1: step start-comsysapp (risk medium" in res.stderr
    untouched(com_start["com1"], hosts(com_lab)["com1"])


def test_com1_apply_starts_comsysapp_only(com_lab, com_start):
    res = com_lab("--code", COM, "--host", "com1", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed" and doc["verification"]["com1"]["state"] == "healthy"
    assert applied(doc) == [("start-comsysapp", True)]
    after = hosts(com_lab)["com1"]
    assert services(after)["COMSysApp"][0] == "running"
    assert after["service_actions"] == [{"service": "COMSysApp", "action": "start", "via": "win_service"}]
    same_except(com_start["com1"], after, {"COMSysApp"})  # MSDTC and SQL Server untouched


def test_com1_rerun_is_no_change(com_lab):
    before = hosts(com_lab)["com1"]
    res = com_lab("--code", COM, "--host", "com1", "--yes", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change" and applied(res.json) == []
    assert touched(hosts(com_lab)["com1"]) == touched(before)


def test_com2_plan_of_step_2_shows_the_account_change(com_lab, com_start):
    res = com_lab("--code", MDTC, "--host", "com2", "--dry-run", "--step", "2", "--json")
    assert res.rc == 0, res.stderr
    assert plan_lines(res.json, "com2") == [
        f"service MSDTC — username: NT AUTHORITY\\SYSTEM → {NETWORK_SERVICE}",
        "service MSDTC — state: stopped → restarted",
        "service COMSysApp — state: running → restarted",
    ]
    assert res.json["results"]["com2"]["plan"][0]["rollback"].startswith("Set the MSDTC logon account back")
    untouched(com_start["com2"], hosts(com_lab)["com2"])


def test_com2_step_1_does_not_fix_step_2_does_and_step_3_never_runs(com_lab, com_start):
    res = com_lab("--code", MDTC, "--host", "com2", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    # COMSysApp runs: with --yes the idempotent step 1 is applied without a check run, and changes nothing
    assert noop(doc) == []
    assert applied(doc) == [("start-comsysapp", False), ("msdtc-network-service", True)]
    assert "fixed by step 2 (msdtc-network-service)" in doc["results"]["com2"]["message"]
    after = hosts(com_lab)["com2"]
    assert services(after)["MSDTC"] == ("running", NETWORK_SERVICE, "auto")
    assert after["service_restarts"] == ["MSDTC", "COMSysApp"]
    assert not [c for c in after["commands_run"] if c.startswith("msdtc")]
    same_except(com_start["com2"], after, {"MSDTC", "COMSysApp"})


def test_com3_plan_of_step_3_shows_the_commands_and_runs_nothing(com_lab, com_start):
    res = com_lab("--code", MDTC, "--host", "com3", "--dry-run", "--step", "3", "--json")
    assert res.rc == 0, res.stderr
    step = res.json["results"]["com3"]["plan"][0]
    assert (step["id"], step["risk"], step["approval"], step["idempotent"]) == ("msdtc-reinstall", "high", "always",
                                                                                 False)
    assert plan_lines(res.json, "com3") == [
        "runs: msdtc -uninstall", "runs: msdtc -install", "service MSDTC — state: stopped → running",
        "service COMSysApp — state: running → restarted"]
    assert "not idempotent" in res.stderr
    untouched(com_start["com3"], hosts(com_lab)["com3"])


def test_com3_msdtc_that_does_not_start_is_reinstalled_by_step_3(com_lab, com_start):
    res = com_lab("--code", MDTC, "--host", "com3", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert noop(doc) == [] and applied(doc)[0] == ("start-comsysapp", False)
    # step 2 restarts MSDTC (already NetworkService) and the restart fails to bring it up: step 3 reinstalls
    assert [a for a, _ in applied(doc)] == ["start-comsysapp", "msdtc-network-service", "msdtc-reinstall"]
    assert applied(doc)[-1] == ("msdtc-reinstall", True)
    after = hosts(com_lab)["com3"]
    assert [c for c in after["commands_run"] if c.startswith("msdtc")] == ["msdtc -uninstall", "msdtc -install"]
    assert services(after)["MSDTC"] == ("running", NETWORK_SERVICE, "auto")
    same_except(com_start["com3"], after, {"MSDTC", "COMSysApp"})


def test_com3_rerun_does_not_reinstall_again(com_lab):
    res = com_lab("--code", MDTC, "--host", "com3", "--yes", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change"
    assert hosts(com_lab)["com3"]["commands_run"].count("msdtc -install") == 1


def test_com4_exhausted_ladder_exits_4_with_guidance(com_lab, com_start):
    res = com_lab("--code", COM, "--host", "com4", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    assert noop(doc) == []  # with --yes the idempotent steps 1 and 2 are applied without a check run
    assert applied(doc)[1] == ("msdtc-network-service", False)  # MSDTC already runs as NetworkService
    assert [a for a, _ in applied(doc)] == ["start-comsysapp", "msdtc-network-service", "msdtc-reinstall"]
    assert [g["id"] for g in doc["guidance"]] == ["trigger-backup"]
    assert "net start COMSysApp" in doc["guidance"][0]["guidance"]
    assert doc["verification"]["com4"]["state"] == "unhealthy"
    assert "COMSysApp (COM+ System Application) is stopped" in doc["verification"]["com4"]["summary"]
    after = hosts(com_lab)["com4"]
    assert services(after)["COMSysApp"][0] == "stopped"
    same_except(com_start["com4"], after, {"MSDTC", "COMSysApp"})


# -- Volume Shadow Copy service -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vss_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "vss-service-bad-state.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def vss_start(vss_lab) -> dict:
    return copy.deepcopy(hosts(vss_lab))


def writer_states(state: dict) -> dict[str, int]:
    return {w["name"]: w["state"] for w in state["vss_writers"]}


def test_vss1_dry_run_plans_one_vss_restart(vss_lab, vss_start):
    res = vss_lab("--code", VSS, "--host", "vss1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert [f.get("writer") for f in doc["diagnosis"]["vss1"]["findings"]] == [
        "ASR Writer", "COM+ REGDB Writer", "Registry Writer"]
    assert plan_lines(doc, "vss1") == ["service VSS — state: running → restarted"]
    assert doc["results"]["vss1"]["guidance"][0]["id"] == "reboot-in-downtime"
    untouched(vss_start["vss1"], hosts(vss_lab)["vss1"])


def test_vss1_apply_restarts_vss_only(vss_lab, vss_start):
    res = vss_lab("--code", VSS, "--host", "vss1", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed" and doc["verification"]["vss1"]["state"] == "healthy"
    assert applied(doc) == [("restart-vss-service", True)]
    after = hosts(vss_lab)["vss1"]
    assert after["service_restarts"] == ["VSS"]
    assert touched(after) == {"VSS"}  # SQLWriter, CryptSvc, Winmgmt, BITS: their writers were healthy
    assert set(writer_states(after).values()) == {1}
    same_except(vss_start["vss1"], after, {"VSS"})


def test_vss_rerun_and_other_writer_failures_are_no_change(vss_lab, vss_start):
    before = hosts(vss_lab)
    res = vss_lab("--code", VSS, "--host", "vss1,vss4", "--yes", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert {h: r["status"] for h, r in doc["results"].items()} == {"vss1": "no-change", "vss4": "no-change"}
    assert applied(doc) == []
    # vss4: only SQL Server's writer failed: not a VSS service fault, and said so
    assert "SqlServerWriter (SQLWriter)" in doc["diagnosis"]["vss4"]["summary"]
    assert "ExtensionFailedVssWriterInBadState" in doc["diagnosis"]["vss4"]["summary"]
    after = hosts(vss_lab)
    assert after["vss1"]["service_restarts"] == before["vss1"]["service_restarts"] == ["VSS"]
    untouched(vss_start["vss4"], after["vss4"])


def test_vss_persistent_or_not_starting_ends_with_the_reboot_guidance(vss_lab, vss_start):
    res = vss_lab("--code", VSS, "--host", "vss2,vss3", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert {h: r["status"] for h, r in doc["results"].items()} == {"vss2": "manual", "vss3": "manual"}
    for host in ("vss2", "vss3"):
        assert [g["id"] for g in doc["results"][host]["guidance"]] == ["reboot-in-downtime"]
        assert doc["verification"][host]["state"] == "unhealthy"
    after = hosts(vss_lab)
    # vss2: restarted once, its writers still failed
    assert after["vss2"]["service_restarts"] == ["VSS"]
    assert writer_states(after["vss2"])["ASR Writer"] == 7
    same_except(vss_start["vss2"], after["vss2"], {"VSS"})
    # vss3: VSS could not start again: still stopped, nothing else touched
    assert services(after["vss3"])["VSS"][0] == "stopped"
    assert "VSS (Volume Shadow Copy) is stopped" in doc["verification"]["vss3"]["summary"]
    same_except(vss_start["vss3"], after["vss3"], {"VSS"})

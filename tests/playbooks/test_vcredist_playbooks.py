"""The Visual C++ redistributable fix (ExtensionVCRedistInstallationFailure), run by real ansible-playbook against
the Windows lab (scenario lab/scenarios/vcredist.yml): vcredist_diagnose.yml, msiserver_start_type.yml,
vcredist_install.yml and msiexec_reregister.yml.

The ansible.windows pattern: check mode -> changed and the lab untouched; apply -> the new state and nothing else;
again -> unchanged; and the diagnose agrees with the fixes (unhealthy exactly while a step has something to do).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .windows_lab import PLAYBOOKS, ansible_lint, scenario

DIAGNOSE = PLAYBOOKS / "vcredist_diagnose.yml"
START_TYPE = PLAYBOOKS / "msiserver_start_type.yml"
INSTALL = PLAYBOOKS / "vcredist_install.yml"
REREGISTER = PLAYBOOKS / "msiexec_reregister.yml"
PLUGINS = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
MSISERVER = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Msiserver"
BUNDLE = "{050d4fc8-5d48-4b8f-8972-47c82c46020f}"
ARP = f"HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{BUNDLE}"
RUNTIME = "HKLM:\\SOFTWARE\\Microsoft\\DevDiv\\vc\\Servicing\\12.0\\RuntimeMinimum"
FAILED_REPORT = "Report that the installer failed (the runtime is still missing)"
RUN_INSTALLER = "Run the Visual C++ 2013 x64 installer of the newest plugin folder"

pytestmark = pytest.mark.lab


def hosts(*names: str) -> dict[str, dict[str, Any]]:
    every = scenario("vcredist.yml")
    return {n: every[n] for n in names}


def host_state(windows: Any, host: str) -> dict[str, Any]:
    """The simulated host without its log of command lines (reads such as Get-WinEvent are logged too)."""
    return {k: v for k, v in windows.state(host).items() if k != "commands_run"}


def test_start_type_then_install_check_apply_rerun(make_lab: Any) -> None:
    spec = hosts("vc1", "vc4")
    # vc5: a 2013 bundle installed, the SCM has Manual, but Start = 4 was edited in the registry (read at next boot)
    spec["vc5"] = copy.deepcopy(spec["vc4"])
    spec["vc5"]["registry"][MSISERVER] = {"Start": {"type": "dword", "data": 4}}
    windows = make_lab(spec)
    before = {h: host_state(windows, h) for h in spec}

    diagnose = windows.run(DIAGNOSE, "--check")
    assert diagnose.rc == 0 and diagnose.stats("vc1")["changed"] == 0
    assert [(f["check"], f["problem"]) for f in diagnose.diagnosis_of("vc1")["findings"]] == [
        ("msiserver", "disabled"), ("vcredist", "missing")]
    assert [(f["check"], f["problem"]) for f in diagnose.diagnosis_of("vc5")["findings"]] == [
        ("msiserver", "disabled-at-next-boot")]
    assert diagnose.diagnosis_of("vc4")["healthy"] is True

    # step 1: check -> changed, nothing touched; apply -> the SCM and the registry agree; again -> unchanged
    check = windows.run(START_TYPE, "--check", "--diff")
    assert check.rc == 0 and [check.stats(h)["changed"] for h in spec] == [1, 0, 1]
    service = check.task("Set the disabled Windows Installer service to Manual (Start = 3)", "vc1")
    assert (service["diff"]["before"]["start_mode"], service["diff"]["after"]["start_mode"]) == ("disabled", "manual")
    assert check.task("Set the disabled Windows Installer service to Manual (Start = 3)", "vc5")["skipped"] is True
    assert {h: host_state(windows, h) for h in spec} == before  # check mode changed nothing

    apply = windows.run(START_TYPE, "--diff")
    assert apply.rc == 0 and [apply.stats(h)["changed"] for h in spec] == [1, 0, 1]
    vc1 = host_state(windows, "vc1")
    # win_service (ChangeServiceConfig) set both: the SCM's start mode and the Start value
    assert vc1["services"]["msiserver"]["start_mode"] == "manual"
    assert vc1["registry"][MSISERVER] == {"Start": {"type": "dword", "data": 3}, "Type": {"type": "dword", "data": 32}}
    assert vc1["services"]["msiserver"]["state"] == "stopped"  # not started: Windows Installer starts on demand
    expected = copy.deepcopy(before["vc1"])
    expected["services"]["msiserver"]["start_mode"] = "manual"
    expected["registry"][MSISERVER]["Start"]["data"] = 3
    assert vc1 == expected  # nothing else changed
    vc5 = host_state(windows, "vc5")
    assert vc5["registry"][MSISERVER]["Start"]["data"] == 3 and vc5["services"]["msiserver"]["start_mode"] == "manual"
    again = windows.run(START_TYPE)
    assert again.rc == 0 and [again.stats(h)["changed"] for h in spec] == [0, 0, 0]
    before = {h: host_state(windows, h) for h in spec}

    # step 2: from the newest version folder (1.0.10, not 1.0.9); nothing where a 2013 x64 bundle is installed
    check = windows.run(INSTALL, "--check", "--diff")
    assert check.rc == 0 and [check.stats(h)["changed"] for h in spec] == [1, 0, 0]
    would_run = check.task(RUN_INSTALLER, "vc1")
    assert would_run["changed"] is True
    assert would_run["invocation"]["module_args"]["path"] == f"{PLUGINS}\\1.0.10\\vcredist2013_x64.exe"
    assert "{042d26ef-3dbe-4c25-95d3-4c1b11b235a7}" in check.task(  # Update 5 (12.0.40664) counts as installed
        "Report that the redistributable is already installed (nothing to do)", "vc4")["msg"]
    assert {h: host_state(windows, h) for h in spec} == before

    apply = windows.run(INSTALL)
    assert apply.rc == 0 and [apply.stats(h)["changed"] for h in spec] == [1, 0, 0]
    run = apply.task(RUN_INSTALLER, "vc1")
    assert (run["rc"], run["reboot_required"]) == (0, False)
    vc1 = host_state(windows, "vc1")
    assert [(p["path"], p["arguments"]) for p in vc1["packages"]] == [
        (f"{PLUGINS}\\1.0.10\\vcredist2013_x64.exe", "/install /quiet /norestart")]
    assert vc1["registry"][ARP]["DisplayName"]["data"] == "Microsoft Visual C++ 2013 Redistributable (x64) - 12.0.30501"
    expected = copy.deepcopy(before["vc1"])
    expected["packages"] = vc1["packages"]
    expected["registry"][ARP] = vc1["registry"][ARP]
    expected["registry"][RUNTIME] = vc1["registry"][RUNTIME]
    assert vc1 == expected  # the installer's own entries, nothing else
    assert {h: host_state(windows, h) for h in ("vc4", "vc5")} == {h: before[h] for h in ("vc4", "vc5")}

    again = windows.run(INSTALL)
    assert again.rc == 0 and [again.stats(h)["changed"] for h in spec] == [0, 0, 0]
    assert "Visual C++ 2013 x64 redistributable installed" in again.task(
        "Report that the redistributable is already installed (nothing to do)", "vc1")["msg"]
    verify = windows.run(DIAGNOSE, "--check")
    assert [verify.diagnosis_of(h)["healthy"] for h in spec] == [True, True, True]
    assert verify.diagnosis_of("vc1")["vcredist"]["bundles"] == [{"product_id": BUNDLE, "key": ARP}]


def test_installer_errors_are_reported_and_reregistering_windows_installer_fixes_1601(make_lab: Any) -> None:
    windows = make_lab(hosts("vc2", "vc3"))
    before = {h: windows.state(h) for h in ("vc2", "vc3")}

    install = windows.run(INSTALL)
    assert install.rc == 0  # the installer's exit code is reported, the play does not fail: the next step follows
    for host, rc in (("vc2", 1601), ("vc3", 1603)):
        run = install.task(RUN_INSTALLER, host)
        assert run["rc"] == rc and run["changed"] is False and run["failed_when_result"] is False
        report = install.task(FAILED_REPORT, host)
        assert f"exited with {rc}" in report["msg"]
    assert "Windows Installer service could not be accessed" in install.task(FAILED_REPORT, "vc2")["msg"]
    assert "Error 1401" in install.task(FAILED_REPORT, "vc3")["msg"]
    assert {h: windows.state(h)["registry"] for h in ("vc2", "vc3")} == {h: before[h]["registry"] for h in before}

    check = windows.run(REREGISTER, "--check")
    assert check.rc == 0
    assert check.task("Unregister Windows Installer (msiexec /unregister)", "vc2")["skipped"] is True
    assert windows.state("vc2")["msi_registered"] is False

    apply = windows.run(REREGISTER)
    assert apply.rc == 0
    vc2 = windows.state("vc2")
    assert vc2["commands_run"][-2:] == ["msiexec /unregister", "msiexec /regserver"]
    assert vc2["msi_registered"] is True
    run = apply.task(RUN_INSTALLER, "vc2")
    assert (run["rc"], run["reboot_required"], run["changed"]) == (3010, True, True)
    assert "asks for a restart" in apply.task("Report the restart the installation waits for (exit code 3010)",
                                              "vc2")["msg"]
    assert ARP in vc2["registry"]
    assert apply.task(RUN_INSTALLER, "vc3")["rc"] == 1603  # permissions: still failing, the manual step follows
    verify = windows.run(DIAGNOSE, "--check")
    assert verify.diagnosis_of("vc2")["healthy"] is True
    vc3 = verify.diagnosis_of("vc3")
    assert vc3["healthy"] is False and len(vc3["access_errors"]) == 1
    assert "Error 1401" in vc3["summary"]

    again = windows.run(REREGISTER)  # vc2 is installed now: nothing is registered again
    assert again.stats("vc2")["changed"] == 0
    assert again.task("Unregister Windows Installer (msiexec /unregister)", "vc2")["skipped"] is True


def test_missing_installer_or_version_folder_fails_naming_the_folder(make_lab: Any) -> None:
    windows = make_lab({
        "vc6": {"platform": "windows",
                "files": {f"{PLUGINS}\\1.0.9\\vcredist2013_x64.exe": {"type": "file"},
                          f"{PLUGINS}\\1.0.10\\IaaSBcdrExtension.exe": {"type": "file"}}},
        "vc7": {"platform": "windows"},
    })
    run = windows.run(INSTALL, "--check")
    assert run.rc != 0
    assert "1.0.10 (the newest of 1.0.9, 1.0.10) holds no vcredist2013_x64.exe" in run.task(
        "Stop when the newest plugin folder holds no installer", "vc6")["msg"]
    assert f"No version folder under {PLUGINS}" in run.task("Stop when the extension has no version folder",
                                                              "vc7")["msg"]
    diagnosis = windows.run(DIAGNOSE, "--check").diagnosis_of("vc6")
    assert f"no vcredist2013_x64.exe in the newest plugin folder {PLUGINS}\\1.0.10" in diagnosis["notes"]


def test_vcredist_playbooks_pass_ansible_lint_production() -> None:
    proc = ansible_lint(DIAGNOSE, START_TYPE, INSTALL, REREGISTER)
    assert proc.returncode == 0, proc.stdout + proc.stderr

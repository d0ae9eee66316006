"""ExtensionVCRedistInstallationFailure through the real `remediate` command against the simulated Windows hosts of
lab/scenarios/vcredist.yml (one lab for the module; tests run in file order):

- vc1: Windows Installer disabled and the runtime missing: dry-run (plan, nothing touched), then apply: step 1
  (msiserver Manual) does not fix it, step 2 installs from the newest plugin folder (1.0.10, not 1.0.9); rerun:
  no-change (vc4, with a newer 2013 bundle, too);
- vc2: Windows Installer registration broken (from step 2): the installer exits 1601, step 3 re-registers
  Windows Installer and installs;
- vc3: registry permissions (installer exit 1603, Error 1401 in the event log): the ladder runs out, exit 4 with
  the manual guidance, in French.

Step 4 restarts the guest agent with playbooks/windows/guest_agent_restart.yml, written on another branch: until it
is merged the step is "not yet automated" and the ladder stops there; the tests accept both and check each.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from .conftest import ROOT, applied, start_lab, stop_lab

CODE = "ExtensionVCRedistInstallationFailure"
PLUGINS = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
MSISERVER = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Msiserver"
BUNDLE = "{050d4fc8-5d48-4b8f-8972-47c82c46020f}"
ARP = f"HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{BUNDLE}"
RUNTIME = "HKLM:\\SOFTWARE\\Microsoft\\DevDiv\\vc\\Servicing\\12.0\\RuntimeMinimum"
AGENT_RESTART_WRITTEN = (ROOT / "playbooks" / "windows" / "guest_agent_restart.yml").is_file()
LADDER = ["msiserver-start-type", "install-vcredist", "msiexec-reregister", "restart-guest-agent",
          "registry-permissions", "antivirus-exclusions"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "vcredist.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def start(lab) -> dict:
    return copy.deepcopy(hosts(lab))


def hosts(r) -> dict:
    res = r("lab", "status", "--json")
    assert res.rc == 0, res.stderr
    return {name: {k: v for k, v in state.items() if k != "commands_run"} for name, state in res.json["hosts"].items()}


def commands(r, host: str) -> list[str]:
    return r("lab", "status", "--json").json["hosts"][host]["commands_run"]


def task(doc: dict, step: str, name_start: str) -> dict:
    for s in doc["steps"]:
        if s["id"] == step and s["phase"] == "apply":
            for t in s["tasks"]:
                if t["name"].startswith(name_start):
                    return t
    raise AssertionError(f"no task {name_start!r} in step {step}")


# -- the catalog ------------------------------------------------------------------------------------------------
def test_codes_and_explain_show_the_windows_steps(lab):
    res = lab("codes", "--json")
    assert res.rc == 0, res.stderr
    row = next(r for r in res.json["codes"] if r["code"] == CODE)
    assert (row["runbook"], row["steps"], row["automated_steps"]) == ("vcredist-install-failed", 6,
                                                                       4 if AGENT_RESTART_WRITTEN else 3)
    explain = lab("explain", CODE, "--lang", "fr", "--json")
    assert explain.rc == 0, explain.stderr
    ladder = explain.json["ladder"]
    assert [(s["id"], s["kind"], s["risk"], s["playbook"]) for s in ladder] == [
        ("msiserver-start-type", "automated", "low", "windows/msiserver_start_type.yml"),
        ("install-vcredist", "automated", "medium", "windows/vcredist_install.yml"),
        ("msiexec-reregister", "automated", "medium", "windows/msiexec_reregister.yml"),
        ("restart-guest-agent", "automated", "medium", "windows/guest_agent_restart.yml"),
        ("registry-permissions", "manual", "never", None),
        ("antivirus-exclusions", "manual", "never", None)]
    assert [s["automated"] for s in ladder] == [True, True, True, AGENT_RESTART_WRITTEN, False, False]
    assert ladder[2]["idempotent"] is False
    assert ladder[3]["vars"] == {"guest_agent_services": ["WindowsAzureGuestAgent"],
                                 "guest_agent_restart_running": True}
    # verbatim from the French article
    assert "définissez la valeur Démarrer dans HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Msiserver " \
           "sur 3 et non sur 4" in ladder[0]["guidance"]
    assert ladder[1]["guidance"].startswith("Accédez à C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.")
    assert "MSIEXEC /UNREGISTER suivi de MSIEXEC /REGISTER" in ladder[2]["guidance"]
    assert "Impossible de créer la clé : Software\\Classes" in ladder[4]["guidance"]
    text = lab("explain", CODE, "--lang", "fr")
    assert text.rc == 0 and "windows/vcredist_install.yml" in text.stdout and "manuel" in text.stdout


# -- vc1: Windows Installer disabled, runtime missing -----------------------------------------------------------
def test_dry_run_plans_step_1_and_touches_nothing(lab, start):
    res = lab("--code", CODE, "--host", "vc1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned" and doc["plan_id"]
    diagnosis = doc["diagnosis"]["vc1"]
    assert diagnosis["healthy"] is False
    assert [(f["check"], f["problem"]) for f in diagnosis["findings"]] == [("msiserver", "disabled"),
                                                                         ("vcredist", "missing")]
    assert diagnosis["plugin"]["versions"] == ["1.0.9", "1.0.10"]
    assert diagnosis["plugin"]["installer"] == f"{PLUGINS}\\1.0.10\\vcredist2013_x64.exe"
    step = doc["results"]["vc1"]["plan"][0]
    assert (step["id"], step["risk"], step["approval"]) == ("msiserver-start-type", "low", "auto")
    assert [c for t in step["would_change"] for c in t["changes"]] == [
        "service msiserver — start_mode: disabled → manual"]
    assert "sc.exe config msiserver start= disabled" in step["rollback"]
    assert [s["id"] for s in doc["results"]["vc1"]["later_steps"]] == LADDER[1:]
    assert hosts(lab) == start  # nothing changed on any host


def test_apply_step_1_does_not_fix_it_step_2_installs_from_the_newest_folder(lab, start):
    res = lab("--code", CODE, "--host", "vc1", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert applied(doc) == [("msiserver-start-type", True), ("install-vcredist", True)]
    verifies = [s for s in doc["steps"] if s["phase"] == "verify"]
    assert [s["status"] for s in verifies] == ["ok", "ok"] and len(verifies) == 2
    assert doc["verification"]["vc1"]["state"] == "healthy"
    assert task(doc, "install-vcredist", "Run the Visual C++ 2013 x64 installer")["changed"] is True
    after = hosts(lab)
    vc1 = after["vc1"]
    # the service manager and the registry agree: win_service wrote Start = 3 with the start mode
    assert vc1["services"]["msiserver"]["start_mode"] == "manual"
    assert vc1["registry"][MSISERVER]["Start"] == {"type": "dword", "data": 3}
    assert [(p["path"], p["arguments"]) for p in vc1["packages"]] == [
        (f"{PLUGINS}\\1.0.10\\vcredist2013_x64.exe", "/install /quiet /norestart")]
    expected = copy.deepcopy(start["vc1"])
    expected["services"]["msiserver"]["start_mode"] = "manual"
    expected["registry"][MSISERVER]["Start"]["data"] = 3
    expected["registry"][ARP] = vc1["registry"][ARP]
    expected["registry"][RUNTIME] = vc1["registry"][RUNTIME]
    expected["packages"] = vc1["packages"]
    assert vc1 == expected  # BcdrAgentPersistentKeys, the VSS key, the other services, files: untouched
    assert vc1["registry"][ARP]["DisplayVersion"] == {"type": "string", "data": "12.0.30501.0"}
    assert {h: s for h, s in after.items() if h != "vc1"} == {h: s for h, s in start.items() if h != "vc1"}


def test_rerun_reports_no_change_also_with_a_newer_2013_bundle(lab):
    before = hosts(lab)
    res = lab("--code", CODE, "--host", "vc1,vc4", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "no-change"
    assert {h: r["status"] for h, r in doc["results"].items()} == {"vc1": "no-change", "vc4": "no-change"}
    assert doc["diagnosis"]["vc4"]["vcredist"]["bundles"][0]["product_id"] == "{042d26ef-3dbe-4c25-95d3-4c1b11b235a7}"
    assert applied(doc) == []
    assert hosts(lab) == before


# -- vc2: Windows Installer registration broken ----------------------------------------------------------------
def test_installer_exit_1601_goes_on_to_reregistering_windows_installer(lab, start):
    res = lab("--code", CODE, "--host", "vc2", "--step", "2", "--yes", "--json")  # step 1 has nothing to do here
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert applied(doc) == [("install-vcredist", False), ("msiexec-reregister", True)]
    assert [s["status"] for s in doc["steps"] if s["phase"] == "verify"] == ["ok", "ok"]
    assert task(doc, "install-vcredist", "Report that the installer failed")["status"] == "ok"
    install = next(s for s in doc["steps"] if s["id"] == "install-vcredist" and s["phase"] == "apply")
    output = " ".join((Path(install["artifacts"]) / "stdout").read_text().split())  # the callback wraps lines
    assert "exited with 1601: ERROR_INSTALL_SERVICE_FAILURE: the Windows Installer service could not be accessed" \
        in output
    ran = [c for c in commands(lab, "vc2") if c.lower().startswith("msiexec")]
    assert ran == ["msiexec /unregister", "msiexec /regserver"]
    vc2 = hosts(lab)["vc2"]
    assert vc2["msi_registered"] is True and ARP in vc2["registry"]
    expected = copy.deepcopy(start["vc2"])
    expected["msi_registered"] = True
    expected["registry"][ARP] = vc2["registry"][ARP]
    expected["registry"][RUNTIME] = vc2["registry"][RUNTIME]
    expected["packages"] = vc2["packages"]
    assert vc2 == expected
    assert task(doc, "msiexec-reregister", "Report the restart the installation waits for")["status"] == "ok"
    reregister = next(s for s in doc["steps"] if s["id"] == "msiexec-reregister" and s["phase"] == "apply")
    assert "Plan a restart of the VM" in " ".join((Path(reregister["artifacts"]) / "stdout").read_text().split())


# -- vc3: registry permissions: the ladder runs out -----------------------------------------------------------
def test_exhausted_ladder_exits_4_with_the_manual_guidance_in_french(lab, start):
    res = lab("--code", CODE, "--host", "vc3", "--step", "2", "--yes", "--json", "--lang", "fr")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    steps = applied(doc)
    assert steps[:2] == [("install-vcredist", False), ("msiexec-reregister", True)]
    guidance = [g["id"] for g in doc["guidance"]]
    if AGENT_RESTART_WRITTEN:
        assert steps[2][0] == "restart-guest-agent"
        assert guidance == ["registry-permissions", "antivirus-exclusions"]
    else:
        assert len(steps) == 2
        assert guidance == ["restart-guest-agent", "registry-permissions", "antivirus-exclusions"]
        assert doc["guidance"][0]["guidance"].startswith("(not yet automated")
    permissions = next(g for g in doc["guidance"] if g["id"] == "registry-permissions")
    assert "Impossible de créer la clé : Software\\Classes" in permissions["guidance"]
    assert "--step 4" in permissions["guidance"]
    verification = doc["verification"]["vc3"]
    assert verification["state"] == "unhealthy"
    assert len(verification["diagnosis"]["access_errors"]) == 1
    assert "Error 1401" in verification["summary"]
    vc3 = hosts(lab)["vc3"]
    assert ARP not in vc3["registry"] and vc3["packages"] == []
    assert vc3["registry"] == start["vc3"]["registry"]
    if AGENT_RESTART_WRITTEN:
        assert "WindowsAzureGuestAgent" in vc3["service_restarts"]
    else:
        assert vc3["service_restarts"] == []


"""The ExtensionConfigParsingFailure playbooks, run by real ansible-playbook against the Windows lab (scenario
lab/scenarios/machinekeys.yml): machinekeys_diagnose.yml, machinekeys_acl_reset.yml, crp_certificates_remove.yml.

The ansible.windows pattern: check mode -> changed and the lab untouched; apply -> the new state and nothing else;
again -> unchanged; and the diagnose agrees (unhealthy exactly while a step has something to do).
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.windows.acl import FILE_SYSTEM_RIGHTS

from .windows_lab import PLAYBOOKS, ansible_lint, scenario

DIAGNOSE = PLAYBOOKS / "machinekeys_diagnose.yml"
RESET = PLAYBOOKS / "machinekeys_acl_reset.yml"
CRP = PLAYBOOKS / "crp_certificates_remove.yml"
MACHINEKEYS = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
# the documented default: Everyone (R,W) and BUILTIN\Administrators (F), this folder only, inheritance off
DEFAULT_ACL = {("S-1-1-0", "allow", 0x12019F, "None", "None"), ("S-1-5-32-544", "allow", 0x1F01FF, "None", "None")}
CRP_THUMBPRINTS = {"3F2A6C1D9E8B7A6F5E4D3C2B1A0F9E8D7C6B5A49", "7B1E0D4C3A2F19E8D7C6B5A4F3E2D1C0B9A8F7E6"}

pytestmark = pytest.mark.lab


def acl(state: dict[str, Any]) -> tuple[bool, set[tuple]]:
    folder = state["files"][MACHINEKEYS]
    return folder.get("inherit", True), {
        (e["sid"], e["type"], FILE_SYSTEM_RIGHTS.parse(e["rights"]) & 0xFFFFFFFF, e["inherit"], e["propagation"])
        for e in folder["acl"]}


def thumbprints(state: dict[str, Any], store: str = "LocalMachine\\My") -> set[str]:
    return {c["thumbprint"] for c in state["certificates"][store]}


def without_log(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "commands_run"}


def test_playbooks_are_lint_clean() -> None:
    lint = ansible_lint(DIAGNOSE, RESET, CRP)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_reset_then_remove_check_apply_rerun(make_lab: Any) -> None:
    spec = scenario("machinekeys.yml")
    windows = make_lab({"mk1": spec["mk1"], "mk2": spec["mk2"]})
    before = {h: without_log(windows.state(h)) for h in ("mk1", "mk2")}

    diagnose = windows.run(DIAGNOSE, "--check")
    assert diagnose.rc == 0 and diagnose.stats("mk1")["changed"] == 0
    assert [f["problem"] for f in diagnose.diagnosis_of("mk1")["findings"]] == [
        "machinekeys-inheritance-enabled", "machinekeys-extra-entry", "machinekeys-extra-entry",
        "machinekeys-default-entry-missing", "crp-certificate-present", "crp-certificate-present"]
    assert diagnose.diagnosis_of("mk2")["acl_default"] is True
    assert [c["thumbprint"] for c in diagnose.diagnosis_of("mk2")["crp_certificates"]] == [
        "3F2A6C1D9E8B7A6F5E4D3C2B1A0F9E8D7C6B5A49"]

    # step 1: check -> the differences listed, nothing touched; apply -> the default; again -> unchanged
    check = windows.run(RESET, "--check", "--diff")
    assert check.rc == 0, check.stderr
    assert check.task("Disable inheritance without copying the inherited entries", "mk1")["changed"] is True
    assert check.items("Remove the entries that are not in the default ACL", "mk1") == [
        ("allow Everyone: Read, Synchronize", True), ("allow CONTOSO\\ops: FullControl", True)]
    assert [label.split(":")[0] for label, _ in check.items("Add the default entries", "mk1")] == ["allow Everyone"]
    assert check.stats("mk2")["changed"] == 0  # mk2's ACL is the default: nothing to do
    assert {h: without_log(windows.state(h)) for h in ("mk1", "mk2")} == before

    apply = windows.run(RESET)
    assert apply.rc == 0, apply.stderr
    after = windows.state("mk1")
    assert acl(after) == (False, DEFAULT_ACL)
    assert after["certificates"] == before["mk1"]["certificates"]  # step 1 touches no certificate
    key_files = {p: f for p, f in after["files"].items() if p != MACHINEKEYS}
    assert key_files == {p: f for p, f in before["mk1"]["files"].items() if p != MACHINEKEYS}  # files keep theirs
    again = windows.run(RESET)
    assert again.rc == 0 and again.stats("mk1")["changed"] == 0 and again.stats("mk2")["changed"] == 0

    # step 2: check -> each CRP certificate listed, nothing deleted; apply -> only those; again -> unchanged
    check = windows.run(CRP, "--check", "--diff")
    assert sorted(check.items("Delete each CRP certificate", "mk1")) == [
        ("3F2A6C1D9E8B7A6F5E4D3C2B1A0F9E8D7C6B5A49 CN=Windows Azure CRP Certificate Generator", True),
        ("7B1E0D4C3A2F19E8D7C6B5A4F3E2D1C0B9A8F7E6 CN=9a1b2c3d-crp-transport", True)]
    assert thumbprints(windows.state("mk1")) == thumbprints(before["mk1"])
    apply = windows.run(CRP)
    assert apply.rc == 0, apply.stderr
    for host in ("mk1", "mk2"):
        state = windows.state(host)
        assert thumbprints(state) == thumbprints(before[host]) - CRP_THUMBPRINTS
        # Windows Azure Tools, the look-alike, the web certificate, and the CRP certificate of another store stay
        assert {"0A1B2C3D4E5F60718293A4B5C6D7E8F901234567", "1C2D3E4F5061728394A5B6C7D8E9F0A1B2C3D4E5",
                "5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7081"} <= thumbprints(state)
        assert thumbprints(state, "LocalMachine\\Root") == {"9D8C7B6A5F4E3D2C1B0A99887766554433221100"}
    again = windows.run(CRP)
    assert again.rc == 0 and again.stats("mk1")["changed"] == 0

    healthy = windows.run(DIAGNOSE, "--check")
    assert healthy.diagnosis_of("mk1")["healthy"] is True and healthy.diagnosis_of("mk2")["healthy"] is True


def test_an_entry_win_acl_cannot_remove_is_left_and_reported(make_lab: Any) -> None:
    spec = scenario("machinekeys.yml")
    windows = make_lab({"mk3": spec["mk3"]})
    apply = windows.run(RESET)
    assert apply.rc == 0, apply.stderr
    assert "CONTOSO\\backup" in apply.task("Report the entries win_acl cannot remove (left for a manual fix)",
                                           "mk3")["msg"]
    inherit, entries = acl(windows.state("mk3"))
    # Everyone's Full control was replaced by the default; the (RD) entry without Synchronize stays
    assert entries == DEFAULT_ACL | {("S-1-5-21-3623811015-3361044348-30300820-1106", "allow", 0x1, "None", "None")}
    assert windows.run(RESET).stats("mk3")["changed"] == 0
    diagnosis = windows.run(DIAGNOSE, "--check").diagnosis_of("mk3")
    assert [f["problem"] for f in diagnosis["findings"]] == ["machinekeys-entry-not-removable"]

"""ExtensionConfigParsingFailure through the real `remediate` command against the simulated Windows hosts of
lab/scenarios/machinekeys.yml: the MachineKeys folder ACL reset (step 1, medium) and the deletion of the
"Windows Azure CRP Certificate Generator" certificates (step 2, high).

Tests run in file order on one lab: dry-run (plan lists the ACL entries removed and added, and each certificate;
state untouched), apply (ACL exactly the default, verified; the other certificates and the key files untouched),
rerun (no-change), and the ladder (ACL already default but a CRP certificate left: step 1 is a no-op, step 2 needs
approval, exit 5, then --yes deletes only the CRP certificate; an entry no automated step can remove: exit 4 with
the manual guidance).
"""

from __future__ import annotations

import copy

import pytest

from lab.windows.acl import FILE_SYSTEM_RIGHTS

from .conftest import applied, hosts, noop, plan_lines, start_lab, stop_lab

CODE = "ExtensionConfigParsingFailure"
MACHINEKEYS = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
SPECIAL = ("ReadData, ReadAttributes, ReadExtendedAttributes, WriteData, AppendData, WriteAttributes, "
           "WriteExtendedAttributes, ReadPermissions")
DEFAULT_ACL = {("S-1-1-0", "allow", 0x12019F, "None", "None"), ("S-1-5-32-544", "allow", 0x1F01FF, "None", "None")}
CRP = "3F2A6C1D9E8B7A6F5E4D3C2B1A0F9E8D7C6B5A49"
CRP_BY = "7B1E0D4C3A2F19E8D7C6B5A4F3E2D1C0B9A8F7E6"
KEPT = {"0A1B2C3D4E5F60718293A4B5C6D7E8F901234567",  # CN=Windows Azure Tools
        "1C2D3E4F5061728394A5B6C7D8E9F0A1B2C3D4E5",  # CN=Windows Azure CRP Certificate Generator (staging)
        "5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7081"}  # CN=mk.contoso.com


@pytest.fixture(scope="module")
def mk_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "machinekeys.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def start(mk_lab) -> dict:
    return copy.deepcopy(hosts(mk_lab))


def acl(state: dict) -> tuple[bool, set[tuple]]:
    folder = state["files"][MACHINEKEYS]
    return folder.get("inherit", True), {
        (e["sid"], e["type"], FILE_SYSTEM_RIGHTS.parse(e["rights"]) & 0xFFFFFFFF, e["inherit"], e["propagation"])
        for e in folder["acl"]}


def my_store(state: dict) -> set[str]:
    return {c["thumbprint"] for c in state["certificates"]["LocalMachine\\My"]}


def untouched(before: dict, after: dict) -> None:
    """Nothing changed; the diagnose's own reads (Get-Acl, the SID translations) are all it ran."""
    assert {k: v for k, v in after.items() if k != "commands_run"} == \
        {k: v for k, v in before.items() if k != "commands_run"}


def test_codes_and_explain_show_the_ladder(mk_lab):
    res = mk_lab("codes", "--json")
    assert res.rc == 0, res.stderr
    row = next(r for r in res.json["codes"] if r["code"] == CODE)
    assert (row["runbook"], row["steps"], row["automated_steps"]) == ("machinekeys-permissions", 3, 2)
    res = mk_lab("explain", CODE, "--lang", "fr", "--json")
    assert res.rc == 0, res.stderr
    assert [(s["id"], s["automated"], s["risk"], s["approval"], s["playbook"]) for s in res.json["ladder"]] == [
        ("reset-machinekeys-acl", True, "medium", "window", "windows/machinekeys_acl_reset.yml"),
        ("remove-crp-certificates", True, "high", "always", "windows/crp_certificates_remove.yml"),
        ("trigger-backup", False, "never", None, None),
    ]
    step1, step2 = res.json["ladder"][:2]
    # French verbatim from the article
    assert "Supprimez tous les objets utilisateur (sauf ceux par défaut) du répertoire" in step1["guidance"]
    assert "générateur de certificats Windows Azure CRP" in step2["guidance"]


def test_mk1_dry_run_lists_the_entries_removed_and_added_and_touches_nothing(mk_lab, start):
    res = mk_lab("--code", CODE, "--host", "mk1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned"
    assert [f["problem"] for f in doc["diagnosis"]["mk1"]["findings"]] == [
        "machinekeys-inheritance-enabled", "machinekeys-extra-entry", "machinekeys-extra-entry",
        "machinekeys-default-entry-missing", "crp-certificate-present", "crp-certificate-present"]
    step = doc["results"]["mk1"]["plan"][0]
    assert (step["id"], step["risk"], step["approval"]) == ("reset-machinekeys-acl", "medium", "window")
    assert step["rollback"].startswith("Put back the entries the plan removed")
    assert plan_lines(doc, "mk1") == [
        f"{MACHINEKEYS}: inheritance enabled → disabled",
        f"{MACHINEKEYS}: remove allow Everyone: Read, Synchronize (inherit None)",
        f"{MACHINEKEYS}: remove allow CONTOSO\\ops: FullControl (inherit ContainerInherit, ObjectInherit)",
        f"{MACHINEKEYS}: add allow Everyone: {SPECIAL} (inherit None)",
    ]
    untouched(start["mk1"], hosts(mk_lab)["mk1"])


def test_mk1_dry_run_of_step_2_lists_each_crp_certificate(mk_lab, start):
    res = mk_lab("--code", CODE, "--host", "mk1", "--dry-run", "--step", "2", "--json")
    assert res.rc == 0, res.stderr
    step = res.json["results"]["mk1"]["plan"][0]
    assert (step["id"], step["risk"], step["approval"]) == ("remove-crp-certificates", "high", "always")
    assert step["rollback"].startswith("None: a deleted certificate")
    assert sorted(plan_lines(res.json, "mk1")) == [
        f"LocalMachine\\My: remove certificate {CRP} (CN=Windows Azure CRP Certificate Generator)",
        f"LocalMachine\\My: remove certificate {CRP_BY} (CN=9a1b2c3d-crp-transport)",
    ]
    untouched(start["mk1"], hosts(mk_lab)["mk1"])


def test_mk1_apply_resets_the_acl_and_deletes_only_the_crp_certificates(mk_lab, start):
    res = mk_lab("--code", CODE, "--host", "mk1", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed" and doc["verification"]["mk1"]["state"] == "healthy"
    assert applied(doc) == [("reset-machinekeys-acl", True), ("remove-crp-certificates", True)]
    after = hosts(mk_lab)["mk1"]
    assert acl(after) == (False, DEFAULT_ACL)  # exactly the default, inheritance off
    assert my_store(after) == my_store(start["mk1"]) - {CRP, CRP_BY} == KEPT
    assert after["certificates"]["LocalMachine\\Root"] == start["mk1"]["certificates"]["LocalMachine\\Root"]
    # the key file inside MachineKeys keeps its own ACL; nothing else on the host changed
    assert {p: f for p, f in after["files"].items() if p != MACHINEKEYS} == \
        {p: f for p, f in start["mk1"]["files"].items() if p != MACHINEKEYS}
    for key in ("services", "registry", "defender", "vss_writers"):
        assert after[key] == start["mk1"][key], key


def test_mk1_rerun_is_no_change(mk_lab):
    before = hosts(mk_lab)["mk1"]
    res = mk_lab("--code", CODE, "--host", "mk1", "--yes", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change" and applied(res.json) == []
    untouched(before, hosts(mk_lab)["mk1"])


def test_mk2_default_acl_but_a_crp_certificate_needs_approval_for_step_2(mk_lab, start):
    res = mk_lab("--code", CODE, "--host", "mk2", "--json")
    assert res.rc == 5, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "approval-required" and doc["plan_id"]
    assert noop(doc) == ["reset-machinekeys-acl"]  # the ACL is the default: checked, nothing to do, skipped
    assert doc["results"]["mk2"]["plan"][0]["id"] == "remove-crp-certificates"
    assert plan_lines(doc, "mk2") == [
        f"LocalMachine\\My: remove certificate {CRP} (CN=Windows Azure CRP Certificate Generator)"]
    untouched(start["mk2"], hosts(mk_lab)["mk2"])

    res = mk_lab("--code", CODE, "--host", "mk2", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    assert res.json["status"] == "fixed"
    # with --yes the idempotent step 1 is applied without a check run: the ACL is the default, nothing changes
    assert applied(res.json) == [("reset-machinekeys-acl", False), ("remove-crp-certificates", True)]
    after = hosts(mk_lab)["mk2"]
    assert my_store(after) == my_store(start["mk2"]) - {CRP}
    assert after["files"] == start["mk2"]["files"]


def test_mk3_entry_no_step_can_remove_exhausts_the_ladder(mk_lab, start):
    res = mk_lab("--code", CODE, "--host", "mk3", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    assert applied(doc) == [("reset-machinekeys-acl", True)]  # Everyone's Full control replaced by the default
    assert noop(doc) == ["remove-crp-certificates"]  # high risk: checked first even with --yes, nothing to remove
    assert [g["id"] for g in doc["guidance"]] == ["trigger-backup"]
    assert doc["verification"]["mk3"]["state"] == "unhealthy"
    findings = doc["verification"]["mk3"]["diagnosis"]["findings"]
    assert [(f["problem"], f["entry"]) for f in findings] == [
        ("machinekeys-entry-not-removable", "allow CONTOSO\\backup: ReadData")]
    after = hosts(mk_lab)["mk3"]
    assert acl(after)[1] == DEFAULT_ACL | {("S-1-5-21-3623811015-3361044348-30300820-1106", "allow", 1, "None", "None")}
    assert after["certificates"] == start["mk3"]["certificates"]

"""The ExtensionConfigParsingFailure filters (playbooks/filter_plugins/machinekeys.py), no Ansible run.

Inputs are shaped like the read script's output (playbooks/vars/machinekeys.yml, Get-Acl through win_powershell)
and like ansible.windows.win_certificate_info results. The rules the plan follows are .NET's: FileSystemAccessRule's
AccessMaskFromRights (Allow adds Synchronize, Deny drops it except for FullControl, rights beyond FullControl
throw), and win_acl.ps1's exact-match test before AddAccessRule / RemoveAccessRule.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("machinekeys_filter", ROOT / "playbooks/filter_plugins/machinekeys.py")
assert _SPEC and _SPEC.loader
mk = importlib.util.module_from_spec(_SPEC)
sys.modules["machinekeys_filter"] = mk
_SPEC.loader.exec_module(mk)

VARS = yaml.safe_load((ROOT / "playbooks/vars/machinekeys.yml").read_text())
DEFAULT = VARS["machinekeys_acl_default"]
PATH = VARS["machinekeys_path"]
EVERYONE, ADMINS, OPS = "S-1-1-0", "S-1-5-32-544", "S-1-5-21-1-2-3-1105"
NAMES = {EVERYONE: "Everyone", ADMINS: "BUILTIN\\Administrators", OPS: "CONTOSO\\ops",
         "S-1-5-18": "NT AUTHORITY\\SYSTEM"}
RW_SYNC = 0x12019F  # Read|Write|Synchronize: icacls (R,W)
FULL = 0x1F01FF


def rule(sid: str, mask: int, name: str, *, type_: str = "Allow", inherited: bool = False,
         inheritance: str = "None", propagation: str = "None", account: str | None = None) -> dict[str, Any]:
    return {"Kind": "rule", "Sid": sid, "Account": account or NAMES.get(sid, sid), "Type": type_, "Rights": mask,
            "RightsName": name, "Inherited": inherited, "Inheritance": inheritance, "Propagation": propagation}


def read(*rules: dict[str, Any], protected: bool = True, canonical: bool = True, exists: bool = True,
         names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    accounts = names or {EVERYONE: "Everyone", ADMINS: "BUILTIN\\Administrators"}
    head = [{"Kind": "account", "Sid": s, "Account": n} for s, n in accounts.items()]
    return [*head, {"Kind": "acl", "Exists": exists, "Protected": protected, "Canonical": canonical}, *rules]


DEFAULT_RULES = (rule(EVERYONE, RW_SYNC, "Write, Read, Synchronize"), rule(ADMINS, FULL, "FullControl"))


def test_the_documented_default_is_read_write_this_folder_only():
    # The article's eight special rights are Read|Write; an Allow rule adds Synchronize (icacls: (R,W)).
    wanted = mk._wanted(DEFAULT)
    assert [(w["sid"], w["mask"], w["inherit"], w["propagation"]) for w in wanted] == [
        (EVERYONE, RW_SYNC, "None", "None"), (ADMINS, FULL, "None", "None")]
    assert mk.rights_mask("Read, Write") == mk.rights_mask(DEFAULT[0]["rights"]) == 0x2019F


def test_the_default_acl_needs_nothing():
    plan = mk.machinekeys_acl_plan(read(*DEFAULT_RULES), DEFAULT)
    assert plan["is_default"] is True
    assert (plan["remove"], plan["add"], plan["manual"], plan["disable_inheritance"]) == ([], [], [], False)


def test_the_faulty_acl_is_reset_on_its_differences_only():
    plan = mk.machinekeys_acl_plan(read(
        rule(EVERYONE, 0x120089, "Read, Synchronize"), rule(ADMINS, FULL, "FullControl"),
        rule(OPS, FULL, "FullControl", inheritance="ContainerInherit, ObjectInherit"),
        rule("S-1-5-18", FULL, "FullControl", inherited=True, inheritance="ContainerInherit, ObjectInherit"),
        protected=False), DEFAULT)
    assert plan["disable_inheritance"] is True and plan["is_default"] is False
    # inherited entries are dropped by win_acl_inheritance (reorganize: false), never removed one by one
    assert [(e["user"], e["rights"], e["inherit"]) for e in plan["remove"]] == [
        ("Everyone", "Read, Synchronize", "None"), ("CONTOSO\\ops", "FullControl", "ContainerInherit, ObjectInherit")]
    # Administrators is already exact: not touched; Everyone is added back with the documented rights
    assert [(w["account"], w["rights"]) for w in plan["add"]] == [("Everyone", DEFAULT[0]["rights"])]


def test_a_default_entry_is_added_again_when_a_removal_of_its_account_takes_rights_from_it():
    # RemoveAccessRule removes the rights from every explicit entry of the account and type: removing Everyone's
    # (OI)(CI) Read entry also takes Read from the exact default entry, so the default entry is re-added.
    plan = mk.machinekeys_acl_plan(read(
        *DEFAULT_RULES, rule(EVERYONE, 0x120089, "Read, Synchronize", inheritance="ContainerInherit, ObjectInherit")),
        DEFAULT)
    assert [e["inherit"] for e in plan["remove"]] == ["ContainerInherit, ObjectInherit"]
    assert [w["sid"] for w in plan["add"]] == [EVERYONE]


def test_deny_entries_are_removed_with_their_own_mask():
    # AccessMaskFromRights(Deny) drops Synchronize, so a deny Write entry (0x116) matches rights "Write"
    plan = mk.machinekeys_acl_plan(read(*DEFAULT_RULES, rule(OPS, 0x116, "Write", type_="Deny")), DEFAULT)
    assert [(e["type"], e["rights"]) for e in plan["remove"]] == [("deny", "Write")]
    assert plan["add"] == [] and plan["manual"] == []


@pytest.mark.parametrize(("mask", "type_"), [(0x1, "Allow"), (0x100116, "Deny"), (0x10000000, "Allow")])
def test_entries_no_file_system_access_rule_can_match_are_manual(mask, type_):
    # an allow entry without Synchronize (icacls /grant X:(RD)), a deny entry with it, generic rights: win_acl's
    # New-Object FileSystemAccessRule never has that mask, so `state: absent` would never find it
    plan = mk.machinekeys_acl_plan(read(*DEFAULT_RULES, rule(OPS, mask, str(mask), type_=type_)), DEFAULT)
    assert plan["remove"] == [] and [e["sid"] for e in plan["manual"]] == [OPS]
    assert plan["is_default"] is False


def test_overlapping_entries_of_one_account_are_left_untouched_rather_than_half_removed():
    # CONTOSO\ops (OI)(CI) Read and this-folder Write: removing either takes Synchronize from the other in the
    # folder's scope (CommonAcl.RemoveQualifiedAces), leaving a mask no FileSystemAccessRule matches
    overlapping = (rule(OPS, 0x120089, "Read, Synchronize", inheritance="ContainerInherit, ObjectInherit"),
                   rule(OPS, 0x100116, "Write, Synchronize"))
    plan = mk.machinekeys_acl_plan(read(*DEFAULT_RULES, *overlapping), DEFAULT)
    assert plan["remove"] == [] and len(plan["manual"]) == 2
    assert "overlap" in plan["manual"][0]["reason"]
    # an inherit-only entry for the children and a this-folder entry do not meet: both are removed
    apart = (rule(OPS, 0x120089, "Read, Synchronize", inheritance="ContainerInherit, ObjectInherit",
                  propagation="InheritOnly"), rule(OPS, 0x100116, "Write, Synchronize"))
    plan = mk.machinekeys_acl_plan(read(*DEFAULT_RULES, *apart), DEFAULT)
    assert len(plan["remove"]) == 2 and plan["manual"] == []


def test_a_non_canonical_acl_is_left_for_a_manual_fix():
    plan = mk.machinekeys_acl_plan(read(*DEFAULT_RULES, rule(OPS, FULL, "FullControl"), canonical=False), DEFAULT)
    assert (plan["remove"], plan["add"], plan["disable_inheritance"]) == ([], [], False)
    assert len(plan["manual"]) == 3


def test_an_untranslatable_sid_is_removed_by_its_sid_and_localised_names_are_kept():
    orphan = "S-1-5-21-9-9-9-1001"
    plan = mk.machinekeys_acl_plan(read(
        rule(ADMINS, FULL, "FullControl", account="BUILTIN\\Administrateurs"), rule(orphan, FULL, "FullControl"),
        names={EVERYONE: "Tout le monde", ADMINS: "BUILTIN\\Administrateurs"}), DEFAULT)
    assert [e["user"] for e in plan["remove"]] == [orphan]
    assert [w["account"] for w in plan["add"]] == ["Tout le monde"]


def test_a_missing_folder_is_reported_not_planned():
    plan = mk.machinekeys_acl_plan(read(exists=False), DEFAULT)
    assert plan["exists"] is False and plan["remove"] == []
    diag = mk.machinekeys_diagnosis(plan, [], PATH)
    assert diag["healthy"] is False and diag["findings"][0]["problem"] == "machinekeys-missing"


def test_bad_input_fails_clearly():
    with pytest.raises(AnsibleFilterError, match="no 'acl' object"):
        mk.machinekeys_acl_plan([], DEFAULT)
    with pytest.raises(AnsibleFilterError, match="not a FileSystemRights name"):
        mk.machinekeys_acl_plan(read(), [{"sid": EVERYONE, "rights": "R,W"}])


# -- certificates --------------------------------------------------------------------------------------------------
def cert(thumbprint: str, subject: str, issuer: str | None = None) -> dict[str, Any]:
    return {"thumbprint": thumbprint, "subject": subject, "issuer": issuer or subject,
            "valid_to_iso8601": "2027-01-01T00:00:00Z"}


CN = VARS["crp_certificate_common_name"]


def test_crp_certificates_are_selected_by_the_exact_common_name():
    info = {"certificates": [
        cert("AA", "CN=Windows Azure CRP Certificate Generator"),
        cert("BB", "CN=transport", "CN=Windows Azure CRP Certificate Generator"),  # issued by the generator
        cert("CC", "CN=Windows Azure Tools"),
        cert("DD", "CN=Windows Azure CRP Certificate Generator (staging), O=Contoso", "CN=Contoso CA"),
        cert("EE", "OU=Windows Azure CRP Certificate Generator, CN=other", "CN=Contoso CA"),
        cert("ff", "CN=windows azure crp certificate generator"),  # X.500 CN compare ignores case
    ]}
    found = mk.crp_certificates(info, CN)
    assert [c["thumbprint"] for c in found] == ["AA", "BB", "FF"]
    assert found[0]["label"] == "AA CN=Windows Azure CRP Certificate Generator"


def test_quoted_and_escaped_common_names():
    assert mk._common_names('CN="Generator, Inc", O=X') == ["Generator, Inc"]
    assert mk._common_names("CN=A\\, B, O=X") == ["A, B"]


def test_diagnosis_is_healthy_only_with_the_default_acl_and_no_crp_certificate():
    default = mk.machinekeys_acl_plan(read(*DEFAULT_RULES), DEFAULT)
    assert mk.machinekeys_diagnosis(default, [], PATH)["healthy"] is True
    crp = mk.crp_certificates([cert("AA", f"CN={CN}")], CN)
    diag = mk.machinekeys_diagnosis(default, crp, PATH)
    assert diag["healthy"] is False and diag["acl_default"] is True
    assert [f["problem"] for f in diag["findings"]] == ["crp-certificate-present"]
    assert diag["summary"] == "1 Windows Azure CRP certificate(s) in LocalMachine\\My"

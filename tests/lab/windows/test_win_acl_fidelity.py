"""win_acl / win_acl_inheritance / icacls behave as on Windows (issue 10, items 1, 2, 3, 8).

Each test states the real behaviour and where it comes from: the module's PowerShell
(.venv/.../ansible_collections/ansible/windows/plugins/modules/win_acl.ps1, win_acl_inheritance.ps1,
ansible/module_utils/powershell/Ansible.ModuleUtils.SID.psm1) and the .NET Framework code it calls
(System.Security.AccessControl: FileSecurity.cs, ACL.cs CommonAcl).
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.windows import accounts, acl, filestore, powershell
from lab.windows.commands import run_script

from .helpers import call, host_for

DATA = "C:\\Data"


@pytest.fixture
def host() -> Any:
    return host_for({"platform": "windows", "hostname": "VM1", "files": {DATA: {"type": "directory"},
                                                                         f"{DATA}\\a.txt": {"type": "file"}}})


def icacls(host: Any, path: str = DATA) -> list[str]:
    return [line.strip() for line in run_script(host, f"icacls {path}", shell="cmd").stdout.splitlines()]


def explicit(host: Any, path: str = DATA) -> list[dict[str, Any]]:
    return filestore.find(host.state, path)[1].get("acl", [])


def acl_rule(**args: Any) -> dict[str, Any]:
    return {"path": DATA, "type": "allow", **args}


# -- item 1: AddAccessRule merges (CommonAcl.AddQualifiedAce / MergeAces) ---------------------------------------------


def test_present_rules_of_one_account_merge_into_one_entry(host: Any) -> None:
    # win_acl.ps1 line 245 calls $objACL.AddAccessRule($objACE): CommonAcl.MergeAces ORs the access masks when
    # the SID, the type and the flags are equal, so Windows keeps ONE entry per account (icacls shows one line).
    assert call(host, "win_acl", **acl_rule(user="Everyone", rights="Read"))["changed"] is True
    assert call(host, "win_acl", **acl_rule(user="Everyone", rights="Write"))["changed"] is True
    assert explicit(host) == [{"sid": "S-1-1-0", "type": "allow", "rights": "Write, Read, Synchronize",
                               "inherit": "ContainerInherit, ObjectInherit", "propagation": "None"}]
    assert icacls(host)[0] == f"{DATA} Everyone:(OI)(CI)(R,W)"
    # the merged entry is what win_acl compares with (line 229: FileSystemRights -eq): the combined rights exist
    assert call(host, "win_acl", **acl_rule(user="Everyone", rights="Read, Write"))["changed"] is False


def test_asking_for_fewer_rights_than_exist_reports_changed_on_every_run(host: Any) -> None:
    # Lines 199-239 look for a rule with exactly the same FileSystemRights; Read is not Read|Write, so there is
    # no match and line 245 AddAccessRule runs again, merging into the existing entry (nothing changes on disk)
    # and line 270 reports changed. On Windows this task is never idempotent.
    call(host, "win_acl", **acl_rule(user="Everyone", rights="Read, Write"))
    before = explicit(host)
    for _ in range(2):
        assert call(host, "win_acl", **acl_rule(user="Everyone", rights="Read"))["changed"] is True
        assert explicit(host) == before
    # and absent with fewer rights than the merged entry finds no rule: "the specified rule does not exist"
    absent = call(host, "win_acl", **acl_rule(user="Everyone", rights="Read", state="absent"))
    assert absent["changed"] is False and absent["msg"] == "the specified rule does not exist"


def test_same_rights_with_other_inheritance_merge_their_flags(host: Any) -> None:
    # MergeAces stage 3: equal masks, different inheritance -> MergeInheritanceBits through the propagation
    # matrix: ObjectInherit + ContainerInherit entries become one (OI)(CI) entry.
    call(host, "win_acl", **acl_rule(user="Users", rights="ReadAndExecute", inherit="ObjectInherit"))
    call(host, "win_acl", **acl_rule(user="Users", rights="ReadAndExecute", inherit="ContainerInherit"))
    assert icacls(host)[0] == f"{DATA} BUILTIN\\Users:(OI)(CI)(RX)"
    assert len(explicit(host)) == 1


def test_absent_removes_the_accounts_rights_as_remove_access_rule_does(host: Any) -> None:
    # Two entries for Everyone that cannot merge (different inheritance and rights). win_acl absent matches the
    # second exactly (line 199), then line 275 RemoveAccessRule (CommonAcl.RemoveQualifiedAces) removes those
    # rights from EVERY explicit Everyone allow entry: the (OI)(CI) Read entry loses them for the folder itself
    # and stays only for the children, as inherit-only.
    sd = filestore.security(host.state, DATA)
    sd.add_access_rule(acl.Ace("S-1-1-0", True, 0x120089, acl.OI | acl.CI))
    sd.add_access_rule(acl.Ace("S-1-1-0", True, 0x12019F, 0))
    filestore.write_security(host.state, DATA, sd)
    assert icacls(host)[:2] == [f"{DATA} Everyone:(OI)(CI)(R)", "Everyone:(R,W)"]
    removed = call(host, "win_acl", **acl_rule(user="Everyone", rights="Read, Write", inherit="None", state="absent"))
    assert removed["changed"] is True
    assert icacls(host)[0] == f"{DATA} Everyone:(OI)(CI)(IO)(R)"


def test_remove_access_rule_keeps_synchronize_when_removing_part_of_a_rule(host: Any) -> None:
    # FileSecurity.cs RemoveAccessRule: without a rule of exactly these rights it removes them as a Deny mask
    # (AccessMaskFromRights(.., Deny) drops Synchronize), so Everyone keeps Synchronize and the rest.
    call(host, "win_acl", **acl_rule(user="Everyone", rights="Modify"))
    script = (
        f"$acl = Get-Acl -LiteralPath '{DATA}'\n"
        "$rule = New-Object System.Security.AccessControl.FileSystemAccessRule('Everyone', 'Read', "
        "'ContainerInherit, ObjectInherit', 'None', 'Allow')\n"
        "$null = $acl.RemoveAccessRule($rule)\n"
        f"Set-Acl -LiteralPath '{DATA}' -AclObject $acl\n"
        f"(Get-Acl -LiteralPath '{DATA}').Access | Where-Object {{ -not $_.IsInherited }} | "
        "ForEach-Object { $_.FileSystemRights.ToString() }"
    )
    result = powershell.run(host, script)
    # Modify|Synchronize without Read: Enum.ToString() names the largest members first, printed in value order
    assert result.stdout == "ExecuteFile, Write, Delete, Synchronize\r\n", result.stderr


def test_canonical_order_deny_first_explicit_before_inherited_sorted_by_sid(host: Any) -> None:
    # CommonAcl canonical order (ACL.cs DaclAcePriority): explicit deny, explicit allow, inherited; within a
    # group .NET sorts by SecurityIdentifier.CompareTo when it writes (Set-Acl), so Administrators (-544)
    # comes before Users (-545) whatever the order they were added in.
    call(host, "win_acl", **acl_rule(user="Users", rights="Read"))
    call(host, "win_acl", **acl_rule(user="Administrators", rights="Modify"))
    call(host, "win_acl", **acl_rule(user="Guests", rights="Write", type="deny"))
    assert icacls(host)[:5] == [
        f"{DATA} BUILTIN\\Guests:(OI)(CI)(DENY)(WD,AD,WEA,WA)",
        "BUILTIN\\Administrators:(OI)(CI)(M)",
        "BUILTIN\\Users:(OI)(CI)(R)",
        "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
        "BUILTIN\\Administrators:(I)(OI)(CI)(F)",
    ]


def test_add_access_rule_rejects_propagation_without_inheritance_on_a_folder(host: Any) -> None:
    # DiscretionaryAcl.AddAccess -> CommonAcl.CheckFlags: a container rule without inheritance flags cannot have
    # propagation flags; win_acl.ps1 line 267 wraps the .NET exception.
    failed = call(host, "win_acl", **acl_rule(user="Users", rights="Read", inherit="None",
                                              propagation="InheritOnly"))
    assert failed["failed"] is True
    assert failed["msg"] == (
        "an exception occurred when adding the specified rule - Exception calling \"AddAccessRule\" with \"1\" "
        "argument(s): \"No flags can be set.\r\nParameter name: propagationFlags\""
    )


def test_files_get_no_inheritance_flags_and_inherit_from_their_folder(host: Any) -> None:
    # win_acl.ps1 line 142: a leaf gets inherit None; the file inherits the folder's ObjectInherit entries.
    call(host, "win_acl", **acl_rule(user="Users", rights="Read"))
    assert call(host, "win_acl", path=f"{DATA}\\a.txt", user="Users", rights="Read", type="allow")["changed"]
    assert icacls(host, f"{DATA}\\a.txt") == [
        f"{DATA}\\a.txt BUILTIN\\Users:(R)",
        "BUILTIN\\Users:(I)(R)",
        "NT AUTHORITY\\SYSTEM:(I)(F)",
        "BUILTIN\\Administrators:(I)(F)",
        "",
        "Successfully processed 1 files; Failed processing 0 files",
    ]


def test_check_mode_changes_nothing(host: Any) -> None:
    before = filestore.find(host.state, DATA)[1].copy()
    assert call(host, "win_acl", check=True, **acl_rule(user="Users", rights="Read"))["changed"] is True
    assert filestore.find(host.state, DATA)[1] == before


# -- item 2: accounts compare by SID ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second",
    [
        ("Everyone", "S-1-1-0"),
        ("NT AUTHORITY\\Authenticated Users", "Authenticated Users"),
        ("BUILTIN\\Users", "users"),
        (".\\labadmin", "VM1\\LABADMIN"),
        ("VM1\\Guests", "BUILTIN\\Guests"),  # Convert-ToSID: a local group with the computer prefix -> bare name
    ],
)
def test_accounts_compare_by_sid_whatever_the_spelling(host: Any, first: str, second: str) -> None:
    # win_acl.ps1 line 45 Convert-ToSID and line 232 `$rule.IdentityReference -eq $objACE.IdentityReference`
    # compare SecurityIdentifiers: any spelling of the account finds the rule another spelling added.
    assert call(host, "win_acl", **acl_rule(user=first, rights="Read"))["changed"] is True
    again = call(host, "win_acl", **acl_rule(user=second, rights="Read"))
    assert again["changed"] is False and again["msg"] == "the specified rule already exists"
    assert explicit(host)[0]["sid"] == accounts.to_sid(host.state, first)


def test_unknown_account_fails_with_convert_to_sid_message(host: Any) -> None:
    # Ansible.ModuleUtils.SID.psm1 line 92: Fail-Json "account_name ... is not a valid account, cannot get SID:
    # $($_.Exception.Message)" around NTAccount.Translate (a MethodInvocationException).
    failed = call(host, "win_acl", **acl_rule(user="CONTOSO\\nobody", rights="Read"))
    assert failed["failed"] is True and failed["msg"] == (
        'account_name CONTOSO\\nobody is not a valid account, cannot get SID: Exception calling "Translate" with '
        '"1" argument(s): "Some or all identity references could not be translated."'
    )


def test_state_holds_sids_and_listings_show_names(host: Any) -> None:
    call(host, "win_acl", **acl_rule(user="NT AUTHORITY\\NetworkService", rights="Read"))
    assert explicit(host)[0]["sid"] == "S-1-5-20"
    assert icacls(host)[0] == f"{DATA} NT AUTHORITY\\NETWORK SERVICE:(OI)(CI)(R)"
    # an account that no longer resolves is shown as its SID, like Windows does
    call(host, "win_acl", **acl_rule(user="S-1-5-21-1-2-3-4242", rights="Read"))
    assert "S-1-5-21-1-2-3-4242:(OI)(CI)(R)" in icacls(host)


# -- item 3: rights strings are cast to [FileSystemRights] ------------------------------------------------------------


@pytest.mark.parametrize("rights", ["Read,Write", "read, WRITE", "ReadData, CreateFiles", "1180063", "Read*"])
def test_rights_accept_enum_names_comma_lists_and_numbers(host: Any, rights: str) -> None:
    # win_acl.ps1 line 166 `[System.Security.AccessControl.FileSystemRights]$rights`: PowerShell's enum conversion
    # takes names case-insensitively, comma lists, wildcards and numbers.
    assert call(host, "win_acl", **acl_rule(user="Users", rights=rights))["changed"] is True


@pytest.mark.parametrize("rights", ["R", "RX", "M", "F", "W", "Read;Write"])
def test_icacls_abbreviations_and_semicolons_are_rejected(host: Any, rights: str) -> None:
    # the cast fails and line 312's Catch wraps $_.Exception.Message
    failed = call(host, "win_acl", **acl_rule(user="Users", rights=rights))
    entry = rights.split(",")[0].strip()
    assert failed["msg"].startswith(
        f"an error occurred when attempting to present {rights} permission(s) on {DATA} for Users - Cannot convert "
        f'value "{entry}" to type "System.Security.AccessControl.FileSystemRights". Error: "Unable to match the '
        f"identifier name {entry} to a valid enumerator name. Specify one of the following enumerator names and "
        "try again:\r\nReadData, ListDirectory, WriteData, CreateFiles"
    )
    assert explicit(host) == []


def test_rights_beyond_full_control_fail_in_the_rule_constructor(host: Any) -> None:
    # FileSystemAccessRule.AccessMaskFromRights: rights outside 0..FullControl throw ArgumentOutOfRangeException
    failed = call(host, "win_acl", **acl_rule(user="Users", rights="268435456"))
    assert 'Exception calling ".ctor" with "5" argument(s): "The value \'268435456\' is not valid for this usage ' \
           "of the type FileSystemRights." in failed["msg"]


def test_scenario_acl_data_is_validated() -> None:
    with pytest.raises(ValueError, match=r"files\[C:\\X\]\.acl\[0\].*Unable to match the identifier name RX"):
        host_for({"files": {"C:\\X": {"type": "directory", "acl": [{"user": "Users", "rights": "RX"}]}}})
    with pytest.raises(ValueError, match="account nobody is unknown"):
        host_for({"files": {"C:\\X": {"type": "directory", "acl": [{"user": "nobody", "rights": "Read"}]}}})


# -- item 8: win_acl_inheritance -----------------------------------------------------------------------------------


def test_disabling_inheritance_with_reorganize_copies_inherited_entries(host: Any) -> None:
    # win_acl_inheritance.ps1 line 171: SetAccessRuleProtection($true, $reorganize): with reorganize the inherited
    # entries stay, written as explicit ones; without, they are dropped.
    result = call(host, "win_acl_inheritance", path=DATA, state="absent", reorganize=True)
    assert result["changed"] is True and result["diff"] == {"before": {"state": "present"},
                                                            "after": {"state": "absent"}}
    assert icacls(host)[:2] == [f"{DATA} NT AUTHORITY\\SYSTEM:(OI)(CI)(F)", "BUILTIN\\Administrators:(OI)(CI)(F)"]
    other = f"{DATA}\\sub"
    filestore.create(host.state, other, "directory")
    call(host, "win_acl_inheritance", path=other, state="absent", reorganize=False)
    assert icacls(host, other)[0] == other  # no entry at all
    assert call(host, "win_acl_inheritance", path=other, state="absent")["changed"] is False


def test_reenabling_inheritance_keeps_explicit_duplicates(host: Any) -> None:
    # Line 161-165: with reorganize, Set-AclEx writes, then Remove-AclExplicitDuplicate runs on the ACL object read
    # at line 144 -- a protected ACL, which holds no inherited rule -- so nothing is deduplicated: the explicit
    # copies stay next to the inherited entries Windows brings back.
    call(host, "win_acl_inheritance", path=DATA, state="absent", reorganize=True)
    check = call(host, "win_acl_inheritance", check=True, path=DATA, state="present", reorganize=True)
    assert check["changed"] is True and check["diff"]["after"] == {"state": "present"}
    assert filestore.protected(host.state, DATA) is True  # check mode writes nothing
    call(host, "win_acl_inheritance", path=DATA, state="present", reorganize=True)
    assert icacls(host)[:4] == [
        f"{DATA} NT AUTHORITY\\SYSTEM:(OI)(CI)(F)",
        "BUILTIN\\Administrators:(OI)(CI)(F)",
        "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
        "BUILTIN\\Administrators:(I)(OI)(CI)(F)",
    ]
    assert call(host, "win_acl_inheritance", path=DATA, state="present", reorganize=True)["changed"] is False


def test_network_path_to_this_host_is_its_local_path(host: Any) -> None:
    # upstream tests use \\localhost\C$\...: the administrative share of the host itself
    share = "\\\\localhost\\C$\\Data"
    assert call(host, "win_acl", path=share, user="Users", rights="Read", type="allow")["changed"] is True
    assert call(host, "win_acl", **acl_rule(user="Users", rights="Read"))["changed"] is False
    assert "not simulated" in call(host, "win_acl", path="\\\\srv\\share\\x", user="Users", rights="Read",
                                   type="allow")["msg"]


def test_inheriting_creator_owner_entries_is_not_simulated() -> None:
    # Windows replaces CREATOR OWNER by the creator when a child inherits such an entry; the lab does not model
    # owners that way, so it fails naming it instead of listing a wrong ACL.
    host = host_for({"files": {
        "C:\\D": {"type": "directory", "acl": [{"user": "CREATOR OWNER", "rights": "FullControl",
                                                "inherit": "ContainerInherit, ObjectInherit",
                                                "propagation": "InheritOnly"}]},
        "C:\\D\\x": {"type": "directory"}}})
    failed = call(host, "win_acl", path="C:\\D\\x", user="Users", rights="Read", type="allow")
    assert failed["msg"] == ("lab.windows simulator: win_acl: inheritance of CREATOR OWNER entries (owner "
                             "substitution / generic rights mapping) is not simulated")
    assert icacls(host, "C:\\D")[0] == "C:\\D CREATOR OWNER:(OI)(CI)(IO)(F)"

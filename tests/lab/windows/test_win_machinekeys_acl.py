"""The MachineKeys folder as Windows ships it, and ACL entries as Windows may store them
(ExtensionConfigParsingFailure).

- Default ACL: the French article ("icacls %systemdrive%\\programdata\\microsoft\\crypto\\rsa\\machinekeys":
  "Tout le monde : (R,W)", "BUILTIN\\Administrateurs : (F)", Everyone with eight special rights) and KB 278381
  "Default permissions for the MachineKeys folders" (Administrators Full Control and Everyone Special, both
  "This folder only"): no (OI)(CI) flags, inheritance off.
- A stored ACE may hold any access mask: `icacls X /grant user:(RD)` writes FILE_READ_DATA without SYNCHRONIZE
  (icacls lists (S) as a right of its own), which no FileSystemAccessRule of type Allow has (FileSecurity.cs
  AccessMaskFromRights adds Synchronize), so win_acl.ps1's exact match (lines 199-239) never finds it.
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.windows.commands import run_script

from .helpers import call, host_for

MACHINEKEYS = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
CONTOSO_BACKUP = {"name": "CONTOSO\\backup", "type": "user", "sid": "S-1-5-21-3623811015-3361044348-30300820-1106"}


def icacls(host: Any, path: str = MACHINEKEYS) -> list[str]:
    return [line.strip() for line in run_script(host, f"icacls {path}", shell="cmd").stdout.splitlines()]


def test_default_machinekeys_acl_is_read_write_and_full_control_this_folder_only() -> None:
    host = host_for({"platform": "windows"})
    assert icacls(host)[:3] == [f"{MACHINEKEYS} Everyone:(R,W)", "BUILTIN\\Administrators:(F)", ""]
    inheritance = call(host, "win_powershell", script=(
        f"$acl = Get-Acl -LiteralPath '{MACHINEKEYS}'\n"
        "$acl.AreAccessRulesProtected\n"
        "$acl.Access | ForEach-Object { \"$($_.FileSystemRights.ToString())|$($_.InheritanceFlags.ToString())\" }"))
    assert inheritance["output"] == [True, "Write, Read, Synchronize|None", "FullControl|None"]


def test_a_scenario_entry_may_hold_a_raw_mask_without_synchronize() -> None:
    host = host_for({"platform": "windows", "accounts": [CONTOSO_BACKUP], "files": {MACHINEKEYS: {
        "type": "directory", "inherit": False,
        "acl": [{"user": "CONTOSO\\backup", "type": "allow", "mask": 1}]}}})
    assert icacls(host)[0] == f"{MACHINEKEYS} CONTOSO\\backup:(RD)"
    # win_acl builds FileSystemAccessRule('ReadData', Allow) = ReadData|Synchronize: no exact match, nothing removed
    absent = call(host, "win_acl", path=MACHINEKEYS, user="CONTOSO\\backup", rights="ReadData", type="allow",
                  inherit="None", state="absent")
    assert absent["changed"] is False and absent["msg"] == "the specified rule does not exist"
    assert icacls(host)[0] == f"{MACHINEKEYS} CONTOSO\\backup:(RD)"


def test_a_scenario_entry_gives_rights_or_mask_not_both() -> None:
    with pytest.raises(ValueError, match=r"needs user \(or sid\) and rights \(or mask\)"):
        host_for({"files": {"C:\\X": {"type": "directory", "acl": [{"user": "Users", "rights": "Read", "mask": 1}]}}})

"""Enum-typed properties of cmdlet output (BitLocker volumes, services) as Windows returns them, in-process.

Facts followed:
- win_powershell.ps1 line 485 (Convert-OutputObject): an `[Enum]` value with Depth >= 0 becomes
  @{Type = PSTypeNames[0]; String = ToString(); Value = [int]}; line 1017 converts the output with the module's
  `depth` (default 2: output list 2, each object 1, its properties 0). Below depth 0 an enum is a value type kept
  as is, and Ansible.Basic.cs line 510 (ToJson: ConvertTo-Json) writes it as its number.
- Windows PowerShell 5.1 ConvertTo-Json writes an enum as its number; Format-List shows its name.
- BitLocker.psm1 Get-BitLockerVolumeInternal reads GetConversionStatus only on an unlocked volume: a locked
  volume has VolumeStatus and EncryptionPercentage $null (its ProtectionStatus is usually Unknown).
"""

from __future__ import annotations

import json

import pytest

from lab.windows.commands import NotSimulated, run_script

from .helpers import call, host_for

BL = "Microsoft.BitLocker.Structures."
VOLUMES = [
    {"mount_point": "C:", "volume_status": "FullyEncrypted", "protection_status": "On", "lock_status": "Unlocked",
     "encryption_percentage": 100},
    {"mount_point": "D:", "volume_status": "FullyEncrypted", "protection_status": "Unknown", "lock_status": "Locked",
     "encryption_percentage": 100},
]


def test_win_powershell_returns_bitlocker_enums_as_type_string_value() -> None:
    host = host_for({"platform": "windows", "bitlocker": VOLUMES})
    result = call(host, "win_powershell", script="Get-BitLockerVolume\n$Ansible.Changed = $false")
    c_drive, d_drive = result["output"]
    assert c_drive["VolumeStatus"] == {"Type": BL + "BitLockerVolumeStatus", "String": "FullyEncrypted", "Value": 1}
    assert c_drive["ProtectionStatus"] == {"Type": BL + "BitLockerVolumeProtectionStatus", "String": "On",
                                           "Value": 1}
    assert c_drive["LockStatus"] == {"Type": BL + "BitLockerVolumeLockStatus", "String": "Unlocked", "Value": 0}
    # locked: no conversion status (BitLocker.psm1), the lock status is still known
    assert d_drive["VolumeStatus"] is None and d_drive["EncryptionPercentage"] is None
    assert d_drive["LockStatus"]["String"] == "Locked" and d_drive["LockStatus"]["Value"] == 1
    assert d_drive["ProtectionStatus"]["String"] == "Unknown"


def test_expanded_enums_and_depth() -> None:
    host = host_for({"platform": "windows", "bitlocker": VOLUMES})
    script = "Get-BitLockerVolume | Select-Object -ExpandProperty LockStatus"
    expanded = call(host, "win_powershell", script=script)["output"]
    assert [e["String"] for e in expanded] == ["Unlocked", "Locked"]  # each output item is at depth 1
    assert call(host, "win_powershell", script=script, depth=0)["output"] == [0, 1]  # depth -1: the number
    # below depth 0 an object becomes [string]$InputObject (line 546): a BitLockerVolume's ToString() is not known
    too_deep = call(host, "win_powershell", script="Get-BitLockerVolume", depth=0)
    assert too_deep["failed"] is True and "ToString()) of a Microsoft.BitLocker.Structures.BitLockerVolume" in \
        too_deep["msg"]
    # ... a PSCustomObject's is known: @{Name=value; ...}
    custom = call(host, "win_powershell", script="Get-BitLockerVolume C: | Select-Object MountPoint", depth=0)
    assert custom["output"] == ["@{MountPoint=C:}"]


def test_text_and_json_rendering_of_enums() -> None:
    host = host_for({"platform": "windows", "bitlocker": VOLUMES})
    ps = "powershell"
    listing = run_script(host, "Get-BitLockerVolume -MountPoint D: | Format-List", shell=ps).stdout
    assert "LockStatus           : Locked" in listing and "VolumeStatus         : \r\n" in listing
    as_json = json.loads(run_script(host, "Get-BitLockerVolume C: | ConvertTo-Json", shell=ps).stdout)
    assert as_json["VolumeStatus"] == 1 and as_json["LockStatus"] == 0 and as_json["ProtectionStatus"] == 1
    locked = run_script(host, "Get-BitLockerVolume | Where-Object { $_.LockStatus -eq 'Locked' } "
                              "| Select-Object -ExpandProperty MountPoint", shell=ps)
    assert locked.objects == ["D:"]


def test_get_service_status_and_start_type_are_enums() -> None:
    host = host_for({"platform": "windows", "services": {"RdAgent": {"state": "stopped", "start_mode": "manual"}}})
    [rd] = call(host, "win_powershell", script="Get-Service RdAgent")["output"]
    assert rd["Status"] == {"Type": "System.ServiceProcess.ServiceControllerStatus", "String": "Stopped", "Value": 1}
    assert rd["StartType"] == {"Type": "System.ServiceProcess.ServiceStartMode", "String": "Manual", "Value": 3}
    as_json = json.loads(run_script(host, "Get-Service VSS | ConvertTo-Json", shell="powershell").stdout)
    assert as_json["Status"] == 4 and as_json["StartType"] == 3  # Running, Manual


def test_an_unknown_bitlocker_state_is_not_simulated() -> None:
    wiping = dict(VOLUMES[0], volume_status="FullyEncryptedWipeInProgress")
    host = host_for({"platform": "windows", "bitlocker": [wiping]})
    with pytest.raises(NotSimulated, match="BitLockerVolumeStatus value 'FullyEncryptedWipeInProgress'"):
        run_script(host, "Get-BitLockerVolume", shell="powershell")

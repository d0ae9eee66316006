"""Filters for the ExtensionSnapshotBitlockerError runbook: `bitlocker_volumes` and `bitlocker_diagnosis`.

`bitlocker_volumes(output)` reads the win_powershell output of `Get-BitLockerVolume | Select-Object MountPoint,
VolumeStatus, ProtectionStatus, LockStatus, EncryptionPercentage`. The three status properties are .NET enums
(Microsoft.BitLocker.Structures.*), which win_powershell returns as {Type, String, Value}; their String (the enum
name) is kept. A plain string is accepted as the name too. BitLocker.psm1 leaves VolumeStatus and
EncryptionPercentage null on a locked volume (it cannot read the conversion status without the key).

`bitlocker_diagnosis(volumes)`: `remediate_diagnosis` {healthy, summary, findings, volumes}. A volume needs the
operator when it is locked (the error's cause: VSS cannot snapshot it) or while BitLocker converts it (encryption
or decryption in progress or paused). healthy = no such volume. Nothing here changes BitLocker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

LOCKED = "Locked"
CONVERTING = {
    "EncryptionInProgress": "encryption in progress",
    "EncryptionPaused": "encryption paused",
    "DecryptionInProgress": "decryption in progress",
    "DecryptionPaused": "decryption paused",
}


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        if "String" not in value:
            raise AnsibleFilterError(f"bitlocker_volumes: an enum value without String: {dict(value)!r}")
        return str(value["String"])
    return str(value)


def bitlocker_volumes(output: Any) -> list[dict[str, Any]]:
    """[{mount_point, volume_status, protection_status, lock_status, encryption_percentage}] in output order."""
    objects = [] if output is None else list(output) if isinstance(output, (list, tuple)) else [output]
    volumes = []
    for volume in objects:
        if not isinstance(volume, Mapping) or not volume.get("MountPoint"):
            raise AnsibleFilterError(f"bitlocker_volumes expects Get-BitLockerVolume objects, got {volume!r}")
        volumes.append(
            {
                "mount_point": str(volume["MountPoint"]),
                "volume_status": _enum_name(volume.get("VolumeStatus")),
                "protection_status": _enum_name(volume.get("ProtectionStatus")),
                "lock_status": _enum_name(volume.get("LockStatus")),
                "encryption_percentage": volume.get("EncryptionPercentage"),
            }
        )
    return volumes


def _problem(volume: Mapping[str, Any]) -> str | None:
    if volume["lock_status"] == LOCKED:
        return "locked by BitLocker (VSS cannot snapshot it)"
    if volume["volume_status"] in CONVERTING:
        percent = volume.get("encryption_percentage")
        shown = f", {percent:g}% encrypted" if isinstance(percent, (int, float)) else ""
        return f"{CONVERTING[volume['volume_status']]}{shown}"
    return None


def bitlocker_diagnosis(volumes: Any) -> dict[str, Any]:
    """`remediate_diagnosis` for the volumes of `bitlocker_volumes` (see the module docstring)."""
    if not isinstance(volumes, (list, tuple)):
        raise AnsibleFilterError("bitlocker_diagnosis expects the list returned by bitlocker_volumes")
    findings = []
    for volume in volumes:
        problem = _problem(volume)
        if problem:
            findings.append(
                {"mount_point": volume["mount_point"], "lock_status": volume["lock_status"],
                 "volume_status": volume["volume_status"], "message": f"{volume['mount_point']} {problem}"}
            )
    if not volumes:
        summary = "Get-BitLockerVolume listed no volume"
    elif findings:
        summary = (f"{len(findings)} of {len(volumes)} volume(s) need an operator: "
                   + "; ".join(f["message"] for f in findings)
                   + " (turning BitLocker off is a security decision: manual)")
    else:
        states = ", ".join(f"{v['mount_point']} {v['volume_status']} ({v['lock_status']})" for v in volumes)
        summary = f"no volume is locked or being converted by BitLocker: {states}"
    return {"healthy": not findings, "summary": summary, "findings": findings, "volumes": list(volumes)}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"bitlocker_volumes": bitlocker_volumes, "bitlocker_diagnosis": bitlocker_diagnosis}

"""Cmdlets reading the simulated state: Get-WinEvent, Get-MpPreference, Get-BitLockerVolume, Get-NetIPInterface,
Get-CimInstance / Get-WmiObject (Win32_NetworkAdapterConfiguration), Get-Service, Get-ItemProperty (registry).

Their objects are CmdletObjects carrying the real .NET type name; properties that are .NET enums on Windows are
EnumValues (shown by name, compared by name or number, written as numbers by ConvertTo-Json and as
{Type, String, Value} by win_powershell)."""

from __future__ import annotations

import re
from typing import Any

from lab.windows import netenum, regstore, service_ops, wildcard
from lab.windows.powershell import types as pstypes
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.errors import NotSimulated
from lab.windows.powershell.providers import resolve
from lab.windows.powershell.values import CmdletObject, EnumValue, PSHashtable, enumerate_value, to_int, to_string

NO_EVENTS = "No events were found that match the specified selection criteria."
LEVELS = {"1": "Critical", "2": "Error", "3": "Warning", "4": "Information"}


@cmdlet("Get-WinEvent", Param("FilterHashtable"), Param("MaxEvents"))
def get_winevent(call: Call) -> list[Any]:
    table = call.get("FilterHashtable")
    if not isinstance(table, PSHashtable):
        raise NotSimulated("Get-WinEvent without -FilterHashtable @{...}")
    filters = {str(k).lower(): v for k, v in table.items()}
    unknown = set(filters) - {"logname", "providername", "id", "level"}
    if unknown:
        raise NotSimulated(f"Get-WinEvent filter key(s) {', '.join(sorted(unknown))}")
    events = []
    for event in sorted(call.state["event_log"], key=lambda e: e.get("time_created", ""), reverse=True):
        if "logname" in filters and event.get("log", "").lower() != to_string(filters["logname"]).lower():
            continue
        if "providername" in filters and event.get("provider", "").lower() != to_string(
            filters["providername"]
        ).lower():
            continue
        if "id" in filters and str(event.get("id")) != to_string(filters["id"]):
            continue
        if "level" in filters:
            wanted = to_string(filters["level"])
            if event.get("level") != LEVELS.get(wanted, wanted):
                continue
        events.append(
            CmdletObject("System.Diagnostics.Eventing.Reader.EventLogRecord", {
                "TimeCreated": event.get("time_created"),
                "ProviderName": event.get("provider"),
                "Id": int(event.get("id", 0)),
                "LevelDisplayName": event.get("level", "Information"),
                "LogName": event.get("log"),
                "Message": event.get("message", ""),
            })
        )
    if call.has("MaxEvents"):
        events = events[: to_int(call.get("MaxEvents"))]
    if not events:
        call.error(NO_EVENTS, exception_type="System.Exception", category="ObjectNotFound",
                   error_id="NoMatchingEventsFound")
    return events


CIM = "Microsoft.Management.Infrastructure.CimInstance#"
MP_PREFERENCE = CIM + "ROOT/Microsoft/Windows/Defender/MSFT_MpPreference"
# The Defender cmdlets (CIM class MSFT_MpPreference) fail with HRESULT 0x800106ba while the WinDefend service does
# not run (e.g. stopped by a third-party antivirus); Get-MpPreference prints its message template unformatted.
MP_FAILED = "Operation failed with the following error: "
MP_UNAVAILABLE = {
    "Get-MpPreference": [MP_FAILED + "0x%1!x!"],
    "Add-MpPreference": [MP_FAILED + "0x800106ba. Operation: MpPreference. Target: ConfigListExtension.",
                         MP_FAILED + "0x%1!x!"],
}
MP_UNAVAILABLE["Remove-MpPreference"] = MP_UNAVAILABLE["Add-MpPreference"]


def defender_running(call: Call) -> bool:
    """Whether Microsoft Defender answers; if not, the cmdlet's non-terminating CIM errors are written."""
    service = service_ops.find(call.state, "WinDefend")
    if service is None:
        raise NotSimulated(f"{call.name} without a WinDefend service (Defender removed)")
    if service["state"] == "running":
        return True
    for message in MP_UNAVAILABLE[call.name]:
        call.error(message, exception_type="Microsoft.Management.Infrastructure.CimException",
                   error_id="HRESULT 0x800106ba", target=MP_PREFERENCE.rsplit("/", 1)[-1])
    return False


@cmdlet("Get-MpPreference")
def get_mppreference(call: Call) -> list[Any]:
    if not defender_running(call):
        return []
    return [
        CmdletObject(MP_PREFERENCE, {
            "ExclusionPath": list(call.state["defender"]["exclusion_paths"]) or None,
            "DisableRealtimeMonitoring": False,
        })
    ]


BITLOCKER_VOLUME = "Microsoft.BitLocker.Structures.BitLockerVolume"


@cmdlet("Get-BitLockerVolume", Param("MountPoint", position=0))
def get_bitlocker(call: Call) -> list[Any]:
    wanted = [to_string(m).lower() for m in enumerate_value(call.get("MountPoint"))] if call.has("MountPoint") else []
    volumes = []
    for volume in call.state["bitlocker"]:
        if wanted and volume["mount_point"].lower() not in wanted:
            continue
        lock = EnumValue.named(netenum.BITLOCKER_LOCK_STATUS, volume.get("lock_status", "Unlocked"))
        # BitLocker.psm1 Get-BitLockerVolumeInternal reads the conversion status only on unlocked volumes: a locked
        # volume has VolumeStatus and EncryptionPercentage $null.
        unlocked = lock.value == 0
        status = EnumValue.named(netenum.BITLOCKER_VOLUME_STATUS, volume.get("volume_status", "FullyDecrypted"))
        volumes.append(
            CmdletObject(BITLOCKER_VOLUME, {
                "MountPoint": volume["mount_point"],
                "VolumeStatus": status if unlocked else None,
                "ProtectionStatus": EnumValue.named(netenum.BITLOCKER_PROTECTION_STATUS,
                                                    volume.get("protection_status", "Off")),
                "LockStatus": lock,
                "EncryptionPercentage": volume.get("encryption_percentage", 0) if unlocked else None,
            })
        )
    return volumes


@cmdlet("Get-NetIPInterface", Param("AddressFamily"))
def get_netipinterface(call: Call) -> list[Any]:
    if call.has("AddressFamily") and to_string(call.get("AddressFamily")).lower() != "ipv4":
        raise NotSimulated(f"Get-NetIPInterface -AddressFamily {to_string(call.get('AddressFamily'))}")
    return [
        CmdletObject(CIM + "ROOT/StandardCimv2/MSFT_NetIPInterface", {
            "InterfaceAlias": a["name"],
            "InterfaceIndex": a.get("interface_index"),
            "AddressFamily": "IPv4",
            "Dhcp": "Enabled" if a.get("dhcp_enabled") else "Disabled",
            "ConnectionState": "Connected",
        })
        for a in call.state["network_adapters"]
    ]


@cmdlet("Get-CimInstance", Param("ClassName", position=0, aliases=("Class",)), Param("Filter"),
        aliases=("Get-WmiObject", "gwmi", "gcim"))
def get_cim_adapters(call: Call) -> list[Any]:
    class_name = to_string(call.get("ClassName"))
    if class_name.lower() != "win32_networkadapterconfiguration":
        raise NotSimulated(f"{call.name} {class_name} (only Win32_NetworkAdapterConfiguration is simulated)")
    wanted = re.sub(r"\s", "", to_string(call.get("Filter", ""))).lower()
    if wanted not in ("", "ipenabled=true", "ipenabled=1"):
        raise NotSimulated(f"-Filter {to_string(call.get('Filter'))}")
    return [
        CmdletObject(CIM + "root/cimv2/Win32_NetworkAdapterConfiguration", {
            "Description": f"Microsoft Hyper-V Network Adapter ({a['name']})",
            "InterfaceIndex": a.get("interface_index"),
            "IPEnabled": True,
            "DHCPEnabled": bool(a.get("dhcp_enabled")),
            "IPAddress": [a["ipv4_address"]] if a.get("ipv4_address") else [],
        })
        for a in call.state["network_adapters"]
    ]


# ServiceStartMode of the SCM start types (a delayed auto start is Automatic; drivers are Boot / System).
START_TYPES = {"boot": "Boot", "system": "System", "auto": "Automatic", "delayed": "Automatic", "manual": "Manual",
               "disabled": "Disabled"}
pstypes.enum_type(netenum.SERVICE_CONTROLLER_STATUS)
pstypes.enum_type(netenum.SERVICE_START_MODE)


@cmdlet("Get-Service", Param("Name", position=0, aliases=("ServiceName",)), aliases=("gsv",))
def get_service(call: Call) -> list[Any]:
    """Without -Name: the Win32 services (ServiceController.GetServices lists no driver), sorted by name. -Name:
    wildcards match service names; a plain name opens the service, a driver or a display name (service_ops)."""
    if not call.has("Name"):
        found = service_ops.listed(call.state)
    else:
        found = []
        for name in (to_string(n) for n in enumerate_value(call.get("Name"))):
            try:
                matched = service_ops.get_service_by_name(call.state, name)
            except wildcard.WildcardError as exc:
                call.error(str(exc), exception_type="System.Management.Automation.WildcardPatternException")
                continue
            if not matched and not wildcard.has_wildcards(name):
                call.error(f"Cannot find any service with service name '{name}'.", category="ObjectNotFound",
                           error_id="NoServiceFoundForGivenName", target=name)
            found += [s for s in matched if s not in found]
    return [
        CmdletObject("System.ServiceProcess.ServiceController", {
            "Name": service["name"],
            "DisplayName": service["display_name"],
            "Status": EnumValue.named(netenum.SERVICE_CONTROLLER_STATUS, service["state"].capitalize()),
            "StartType": EnumValue.named(netenum.SERVICE_START_MODE, START_TYPES[service["start_mode"]]),
        })
        for service in found
    ]


@cmdlet("Get-ItemProperty", Param("Path", position=0), Param("LiteralPath", aliases=("PSPath",)),
        Param("Name", position=1), aliases=("gp",))
def get_itemproperty(call: Call) -> list[Any]:
    raw = to_string(call.get("LiteralPath") if call.has("LiteralPath") else call.get("Path"))
    resolved = resolve(call.ctx, raw)
    if resolved.provider.name != "Registry":
        raise NotSimulated(f"Get-ItemProperty {raw} (registry paths like HKLM:\\... only)")
    path = resolved.path
    if not regstore.key_exists(call.state, path):
        call.error(f"Cannot find path '{raw}' because it does not exist.",
                   exception_type="System.Management.Automation.ItemNotFoundException",
                   category="ObjectNotFound", error_id="PathNotFound", target=raw)
        return []
    values = {n: v["data"] for n, v in regstore.values(call.state, path).items()}
    if call.has("Name"):
        found = regstore.get_value(call.state, path, to_string(call.get("Name")))
        if found is None:
            call.error(f"Property {to_string(call.get('Name'))} does not exist at path {raw}.",
                       exception_type="System.Management.Automation.PSArgumentException",
                       category="InvalidArgument", error_id="System.Management.Automation.PSArgumentException")
            return []
        values = {found[0]: found[1]["data"]}
    return [values]

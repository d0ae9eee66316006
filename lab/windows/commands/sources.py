"""Cmdlets reading the simulated state: Get-WinEvent, Get-MpPreference, Get-BitLockerVolume, Get-NetIPInterface,
Get-CimInstance / Get-WmiObject (Win32_NetworkAdapterConfiguration), Get-Service, Get-ItemProperty (registry)."""

from __future__ import annotations

import re
from typing import Any

from lab.windows import regstore, service_ops
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.errors import NotSimulated
from lab.windows.powershell.providers import resolve
from lab.windows.powershell.values import PSHashtable, enumerate_value, to_int, to_string

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
            {
                "TimeCreated": event.get("time_created"),
                "ProviderName": event.get("provider"),
                "Id": int(event.get("id", 0)),
                "LevelDisplayName": event.get("level", "Information"),
                "LogName": event.get("log"),
                "Message": event.get("message", ""),
            }
        )
    if call.has("MaxEvents"):
        events = events[: to_int(call.get("MaxEvents"))]
    if not events:
        call.error(NO_EVENTS, exception_type="System.Exception", category="ObjectNotFound",
                   error_id="NoMatchingEventsFound")
    return events


@cmdlet("Get-MpPreference")
def get_mppreference(call: Call) -> list[Any]:
    return [
        {
            "ExclusionPath": list(call.state["defender"]["exclusion_paths"]) or None,
            "DisableRealtimeMonitoring": False,
        }
    ]


@cmdlet("Get-BitLockerVolume", Param("MountPoint", position=0))
def get_bitlocker(call: Call) -> list[Any]:
    wanted = [to_string(m).lower() for m in enumerate_value(call.get("MountPoint"))] if call.has("MountPoint") else []
    volumes = []
    for volume in call.state["bitlocker"]:
        if wanted and volume["mount_point"].lower() not in wanted:
            continue
        volumes.append(
            {
                "MountPoint": volume["mount_point"],
                "VolumeStatus": volume.get("volume_status"),
                "ProtectionStatus": volume.get("protection_status"),
                "LockStatus": volume.get("lock_status", "Unlocked"),
                "EncryptionPercentage": volume.get("encryption_percentage", 0),
            }
        )
    return volumes


@cmdlet("Get-NetIPInterface", Param("AddressFamily"))
def get_netipinterface(call: Call) -> list[Any]:
    if call.has("AddressFamily") and to_string(call.get("AddressFamily")).lower() != "ipv4":
        raise NotSimulated(f"Get-NetIPInterface -AddressFamily {to_string(call.get('AddressFamily'))}")
    return [
        {
            "InterfaceAlias": a["name"],
            "InterfaceIndex": a.get("interface_index"),
            "AddressFamily": "IPv4",
            "Dhcp": "Enabled" if a.get("dhcp_enabled") else "Disabled",
            "ConnectionState": "Connected",
        }
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
        {
            "Description": f"Microsoft Hyper-V Network Adapter ({a['name']})",
            "InterfaceIndex": a.get("interface_index"),
            "IPEnabled": True,
            "DHCPEnabled": bool(a.get("dhcp_enabled")),
            "IPAddress": [a["ipv4_address"]] if a.get("ipv4_address") else [],
        }
        for a in call.state["network_adapters"]
    ]


START_TYPES = {"auto": "Automatic", "delayed": "Automatic", "manual": "Manual", "disabled": "Disabled"}


@cmdlet("Get-Service", Param("Name", position=0), aliases=("gsv",))
def get_service(call: Call) -> list[Any]:
    names = [to_string(n) for n in enumerate_value(call.get("Name"))] if call.has("Name") else list(
        call.state["services"])
    objects = []
    for name in names:
        service = service_ops.find(call.state, name)
        if service is None:
            call.error(f"Cannot find any service with service name '{name}'.", category="ObjectNotFound",
                       error_id="NoServiceFoundForGivenName", target=name)
            continue
        objects.append(
            {
                "Name": service["name"],
                "DisplayName": service["display_name"],
                "Status": service["state"].capitalize(),
                "StartType": START_TYPES[service["start_mode"]],
            }
        )
    return objects


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

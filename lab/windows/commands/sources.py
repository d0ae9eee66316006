"""PowerShell cmdlets producing objects (Get-WinEvent, Get-MpPreference, ...) and the file version forms."""

from __future__ import annotations

import re
from typing import Any

from lab.windows import accounts, certstore, filestore, regstore, service_ops
from lab.windows.commands.base import NotSimulated, PSEnum, split_outside, unquote

NO_EVENTS = "No events were found that match the specified selection criteria."


def _hashtable(text: str) -> dict[str, str]:
    inner = text.strip().removeprefix("@").strip().removeprefix("{").removesuffix("}")
    table = {}
    for part in split_outside(inner.replace("\n", ";"), ";"):
        if "=" in part:
            key, _, value = part.partition("=")
            table[key.strip().lower()] = unquote(value.strip())
    return table


def _get_winevent(host: Any, args: str) -> tuple[list[Any], list[str]]:
    match = re.match(r"^-FilterHashtable\s+(?P<table>@\{.*?\})(?P<rest>.*)$", args.strip(), re.I | re.S)
    if not match:
        raise NotSimulated(f"Get-WinEvent {args.strip()} (only -FilterHashtable @{{...}} is simulated)")
    table = _hashtable(match["table"])
    unknown = set(table) - {"logname", "providername", "id", "level"}
    if unknown:
        raise NotSimulated(f"Get-WinEvent filter key(s) {', '.join(sorted(unknown))}")
    rest = match["rest"]
    max_events = re.search(r"-MaxEvents\s+(\d+)", rest, re.I)
    silent = re.search(r"-ErrorAction\s+(SilentlyContinue|Ignore)", rest, re.I) is not None
    leftover = re.sub(r"-MaxEvents\s+\d+|-ErrorAction\s+\w+", "", rest, flags=re.I).strip()
    if leftover:
        raise NotSimulated(f"Get-WinEvent argument(s) {leftover}")
    levels = {"1": "Critical", "2": "Error", "3": "Warning", "4": "Information"}
    events = []
    for event in sorted(host.state["event_log"], key=lambda e: e.get("time_created", ""), reverse=True):
        if "logname" in table and event.get("log", "").lower() != table["logname"].lower():
            continue
        if "providername" in table and event.get("provider", "").lower() != table["providername"].lower():
            continue
        if "id" in table and str(event.get("id")) != table["id"]:
            continue
        if "level" in table and event.get("level") != levels.get(table["level"], table["level"]):
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
    if max_events:
        events = events[: int(max_events.group(1))]
    if not events and not silent:
        return [], [f"Get-WinEvent : {NO_EVENTS}"]
    return events, []


# The Defender cmdlets (CIM class MSFT_MpPreference) fail with HRESULT 0x800106ba while the WinDefend service does
# not run (e.g. stopped by a third-party antivirus); the Get form prints its message template unformatted.
MP_UNAVAILABLE = {
    "get": ["Get-MpPreference : Operation failed with the following error: 0x%1!x!"],
    "add": ["Add-MpPreference : Operation failed with the following error: 0x800106ba. Operation: MpPreference. "
            "Target: ConfigListExtension.", "Add-MpPreference : Operation failed with the following error: 0x%1!x!"],
}


def defender_errors(host: Any, verb: str) -> list[str]:
    """The errors of a *-MpPreference cmdlet when Microsoft Defender does not run, else []."""
    service = service_ops.find(host.state, "WinDefend")
    if service is None:
        raise NotSimulated(f"{verb.capitalize()}-MpPreference without a WinDefend service (Defender removed)")
    if service["state"] == "running":
        return []
    return [e.replace("Add-", f"{verb.capitalize()}-") for e in MP_UNAVAILABLE["get" if verb == "get" else "add"]]


def get_mppreference(host: Any, args: str) -> tuple[list[Any], list[str]]:
    if args.strip():
        raise NotSimulated(f"Get-MpPreference {args.strip()}")
    errors = defender_errors(host, "get")
    if errors:
        return [], errors
    return [
        {
            "ExclusionPath": list(host.state["defender"]["exclusion_paths"]) or None,
            "DisableRealtimeMonitoring": False,
        }
    ], []


# Microsoft.BitLocker.Structures enums (BitLocker.psm1; VolumeStatus numbers are Win32_EncryptableVolume
# GetConversionStatus's; the wipe states of BitLockerVolumeStatus are not simulated).
BITLOCKER_NS = "Microsoft.BitLocker.Structures."
VOLUME_STATUS = {"FullyDecrypted": 0, "FullyEncrypted": 1, "EncryptionInProgress": 2, "DecryptionInProgress": 3,
                 "EncryptionPaused": 4, "DecryptionPaused": 5}
PROTECTION_STATUS = {"Off": 0, "On": 1, "Unknown": 2}
LOCK_STATUS = {"Unlocked": 0, "Locked": 1}


def _get_bitlocker(host: Any, args: str) -> tuple[list[Any], list[str]]:
    mount = re.match(r"^(?:-MountPoint\s+)?(?P<mp>\S+)?$", args.strip(), re.I)
    if not mount:
        raise NotSimulated(f"Get-BitLockerVolume {args.strip()}")
    volumes = []
    for volume in host.state["bitlocker"]:
        wanted = unquote(mount["mp"] or "")
        if wanted and volume["mount_point"].lower() != wanted.lower():
            continue
        lock = PSEnum(BITLOCKER_NS + "BitLockerVolumeLockStatus", LOCK_STATUS, volume.get("lock_status", "Unlocked"))
        # BitLocker.psm1 Get-BitLockerVolumeInternal reads the conversion status only on unlocked volumes: a locked
        # volume has VolumeStatus and EncryptionPercentage $null.
        unlocked = lock == "Unlocked"
        volumes.append(
            {
                "MountPoint": volume["mount_point"],
                "VolumeStatus": PSEnum(BITLOCKER_NS + "BitLockerVolumeStatus", VOLUME_STATUS,
                                       volume.get("volume_status", "FullyDecrypted")) if unlocked else None,
                "ProtectionStatus": PSEnum(BITLOCKER_NS + "BitLockerVolumeProtectionStatus", PROTECTION_STATUS,
                                           volume.get("protection_status", "Off")),
                "LockStatus": lock,
                "EncryptionPercentage": volume.get("encryption_percentage", 0) if unlocked else None,
            }
        )
    return volumes, []


def _get_netipinterface(host: Any, args: str) -> tuple[list[Any], list[str]]:
    leftover = re.sub(r"-AddressFamily\s+IPv4", "", args, flags=re.I).strip()
    if leftover:
        raise NotSimulated(f"Get-NetIPInterface {leftover}")
    return [
        {
            "InterfaceAlias": a["name"],
            "InterfaceIndex": a.get("interface_index"),
            "AddressFamily": "IPv4",
            "Dhcp": "Enabled" if a.get("dhcp_enabled") else "Disabled",
            "ConnectionState": "Connected",
        }
        for a in host.state["network_adapters"]
    ], []


def _get_cim_adapters(host: Any, args: str) -> tuple[list[Any], list[str]]:
    match = re.match(
        r"^(?:-ClassName\s+|-Class\s+)?Win32_NetworkAdapterConfiguration"
        r"(?:\s+-Filter\s+(?P<filter>'[^']*'|\"[^\"]*\"))?$",
        args.strip(),
        re.I,
    )
    if not match:
        raise NotSimulated(f"{args.strip()} (only Win32_NetworkAdapterConfiguration is simulated)")
    wanted = re.sub(r"\s", "", unquote(match["filter"] or "")).lower()
    if wanted not in ("", "ipenabled=true", "ipenabled=1"):
        raise NotSimulated(f"-Filter {match['filter']}")
    return [
        {
            "Description": f"Microsoft Hyper-V Network Adapter ({a['name']})",
            "InterfaceIndex": a.get("interface_index"),
            "IPEnabled": True,
            "DHCPEnabled": bool(a.get("dhcp_enabled")),
            "IPAddress": [a["ipv4_address"]] if a.get("ipv4_address") else [],
        }
        for a in host.state["network_adapters"]
    ], []


SERVICE_STATUS = {"Stopped": 1, "StartPending": 2, "StopPending": 3, "Running": 4, "ContinuePending": 5,
                  "PausePending": 6, "Paused": 7}
SERVICE_START_MODE = {"Boot": 0, "System": 1, "Automatic": 2, "Manual": 3, "Disabled": 4}


def _get_service(host: Any, args: str) -> tuple[list[Any], list[str]]:
    match = re.match(r"^(?:-Name\s+)?(?P<name>'[^']+'|\"[^\"]+\"|\S+)?$", args.strip(), re.I)
    if not match:
        raise NotSimulated(f"Get-Service {args.strip()}")
    names = [unquote(match["name"])] if match["name"] else [s["name"] for s in service_ops.listed(host.state)]
    objects, errors = [], []
    start_types = {"auto": "Automatic", "delayed": "Automatic", "manual": "Manual", "disabled": "Disabled"}
    start_types.update(boot="Boot", system="System")  # drivers (Get-Service -Name opens them)
    status_type, start_type = "System.ServiceProcess.ServiceControllerStatus", "System.ServiceProcess.ServiceStartMode"
    for name in names:
        service = service_ops.find(host.state, name)
        if service is None:
            errors.append(f"Get-Service : Cannot find any service with service name '{name}'.")
            continue
        objects.append(
            {
                "Name": service["name"],
                "DisplayName": service["display_name"],
                "Status": PSEnum(status_type, SERVICE_STATUS, service["state"].capitalize()),
                "StartType": PSEnum(start_type, SERVICE_START_MODE, start_types[service["start_mode"]]),
            }
        )
    return objects, errors


def _get_itemproperty(host: Any, args: str) -> tuple[list[Any], list[str]]:
    match = re.match(
        r"^(?:-(?:Literal)?Path\s+)?(?P<path>'[^']+'|\"[^\"]+\"|\S+)(?:\s+(?:-Name\s+)?(?P<name>'[^']+'|\"[^\"]+\"|\S+))?"
        r"(?:\s+-ErrorAction\s+(?P<ea>\w+))?$",
        args.strip(),
        re.I,
    )
    if not match or not regstore.valid_ps_path(unquote(match["path"])):
        raise NotSimulated(f"Get-ItemProperty {args.strip()} (registry paths like HKLM:\\... only)")
    path = unquote(match["path"])
    silent = (match["ea"] or "").lower() in ("silentlycontinue", "ignore")
    if not regstore.key_exists(host.state, path):
        error = f"Get-ItemProperty : Cannot find path '{path}' because it does not exist."
        return [], [] if silent else [error]
    values = {n: v["data"] for n, v in regstore.values(host.state, path).items()}
    if match["name"]:
        found = regstore.get_value(host.state, path, unquote(match["name"]))
        if found is None:
            error = f"Get-ItemProperty : Property {unquote(match['name'])} does not exist at path {path}."
            return [], [] if silent else [error]
        values = {found[0]: found[1]["data"]}
    return [values], []


def _get_childitem_cert(host: Any, args: str) -> tuple[list[Any], list[str]]:
    """Get-ChildItem [-Path] Cert:\\<location>\\<store>: the certificates (certstore.provider_items)."""
    match = re.match(r"^(?:-(?:Literal)?Path\s+)?(?P<path>'[^']+'|\"[^\"]+\"|\S+)$", args.strip(), re.I)
    path = unquote(match["path"]) if match else ""
    try:
        return certstore.provider_items(host.state, path), []
    except ValueError:
        raise NotSimulated(f"Get-ChildItem {args.strip()} (only Cert:\\<location>\\<store> is simulated)") from None
    except LookupError as exc:
        return [], [f"Get-ChildItem : {exc}"]


SOURCES = {
    "get-winevent": _get_winevent,
    "get-mppreference": get_mppreference,
    "get-bitlockervolume": _get_bitlocker,
    "get-netipinterface": _get_netipinterface,
    "get-ciminstance": _get_cim_adapters,
    "get-wmiobject": _get_cim_adapters,
    "get-service": _get_service,
    "get-itemproperty": _get_itemproperty,
    "get-childitem": _get_childitem_cert,
}


def file_version(host: Any, path: str, prop: str) -> tuple[list[Any], list[str]]:
    found = filestore.find(host.state, unquote(path))
    if found is None:
        return [], [f"Get-Item : Cannot find path '{unquote(path)}' because it does not exist."]
    version = found[1].get("product_version" if prop.lower() == "productversion" else "version") or found[
        1
    ].get("version")
    return ([version] if version else []), []


VERSION_FORMS = [
    re.compile(
        r"^\(Get-Item\s+(?:-Path\s+|-LiteralPath\s+)?(?P<path>'[^']+'|\"[^\"]+\"|\S+)\)\.VersionInfo\."
        r"(?P<prop>FileVersion|ProductVersion)$",
        re.I,
    ),
    re.compile(
        r"^\[System\.Diagnostics\.FileVersionInfo\]::GetVersionInfo\((?P<path>'[^']+'|\"[^\"]+\")\)\."
        r"(?P<prop>FileVersion|ProductVersion)$",
        re.I,
    ),
]


# `([System.Security.Principal.SecurityIdentifier]'S-1-5-20').Translate([System.Security.Principal.NTAccount]).Value`
# (the `System.` prefix is optional in PowerShell type literals): the account name of a SID as the host spells it.
SID_TO_NAME = re.compile(
    r"^\(\[(?:System\.)?Security\.Principal\.SecurityIdentifier\]\s*(?P<sid>'[^']+'|\"[^\"]+\")\)"
    r"\.Translate\(\[(?:System\.)?Security\.Principal\.NTAccount\]\)\.Value$",
    re.I,
)


def sid_to_name(host: Any, sid: str) -> tuple[list[Any], list[str]]:
    """SecurityIdentifier(string) then Translate(NTAccount): an invalid SID fails the cast, an unmapped one fails
    Translate with IdentityNotMappedException (.NET's messages)."""
    text = unquote(sid)
    if accounts.parse_sid(text) is None:
        return [], [f'Cannot convert value "{text}" to type "System.Security.Principal.SecurityIdentifier". '
                    'Error: "Value was invalid.\r\nParameter name: sddlForm"']
    name = accounts.name_of(host.state, text)
    if name is None:
        return [], [f'Exception calling "Translate" with "1" argument(s): "{accounts.NOT_TRANSLATED}"']
    return [name], []

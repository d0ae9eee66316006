"""The default simulated Windows state and how a scenario host spec is merged into it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from lab.windows import certstore, filestore

WRITER_NAMESPACE = uuid.UUID("5b0f0c34-5a3e-4d9b-9b43-0f3c6a0c1a77")

# Real writer ids where they are well known; others are derived deterministically from the name.
KNOWN_WRITER_IDS = {
    "SqlServerWriter": "a65faa63-5ea8-4ebc-9dbd-a0c4db26912a",
    "System Writer": "e8132975-6f93-4464-a53e-1050253ae220",
    "ASR Writer": "be000cbe-11fe-4426-9c58-531aa6355fc4",
    "WMI Writer": "a6ad56c2-b509-4e6c-bb19-49d8f43532f0",
    "Registry Writer": "afbab4a2-367d-4d15-a586-71dbb18f8485",
    "COM+ REGDB Writer": "542da469-d3e1-473c-9f4f-7847f01fc64f",
    "Shadow Copy Optimization Writer": "4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f",
    "BITS Writer": "4969d978-be47-48b0-b100-f328f07ac1e0",
}

DEFAULT_SERVICES: dict[str, dict[str, Any]] = {
    "VSS": {
        "display_name": "Volume Shadow Copy",
        "start_mode": "manual",
        "state": "running",
        "path": "C:\\Windows\\system32\\vssvc.exe",
    },
    "Winmgmt": {
        "display_name": "Windows Management Instrumentation",
        "start_mode": "auto",
        "state": "running",
        "path": "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
    },
    "CryptSvc": {
        "display_name": "Cryptographic Services",
        "start_mode": "auto",
        "state": "running",
        "username": "NT AUTHORITY\\NETWORK SERVICE",
        "path": "C:\\Windows\\system32\\svchost.exe -k NetworkService -p",
    },
    "BITS": {
        "display_name": "Background Intelligent Transfer Service",
        "start_mode": "manual",
        "state": "running",
        "path": "C:\\Windows\\System32\\svchost.exe -k netsvcs -p",
    },
    "EventSystem": {
        "display_name": "COM+ Event System",
        "start_mode": "auto",
        "state": "running",
        "username": "NT AUTHORITY\\LOCAL SERVICE",
        "path": "C:\\Windows\\system32\\svchost.exe -k LocalService -p",
    },
    "COMSysApp": {
        "display_name": "COM+ System Application",
        "start_mode": "manual",
        "state": "running",
        "path": "C:\\Windows\\system32\\dllhost.exe /Processid:{02D4B3F1-FD88-11D1-960D-00805FC79235}",
    },
    "MSDTC": {
        "display_name": "Distributed Transaction Coordinator",
        "start_mode": "auto",
        "state": "running",
        "username": "NT AUTHORITY\\NETWORK SERVICE",
        "path": "C:\\Windows\\System32\\msdtc.exe",
    },
    "msiserver": {
        "display_name": "Windows Installer",
        "start_mode": "manual",
        "state": "stopped",
        "path": "C:\\Windows\\system32\\msiexec.exe /V",
    },
    "WindowsAzureGuestAgent": {
        "display_name": "Windows Azure Guest Agent",
        "start_mode": "auto",
        "state": "running",
        "path": "C:\\WindowsAzure\\GuestAgent\\WaAppAgent.exe",
    },
    "RdAgent": {
        "display_name": "RdAgent",
        "start_mode": "auto",
        "state": "running",
        "path": "C:\\WindowsAzure\\Packages\\WaAppAgent.exe",
    },
    "WinRM": {  # every host the lab stands for is reached over WinRM (win_certificate_store service stores use it)
        "display_name": "Windows Remote Management (WS-Management)",
        "start_mode": "auto",
        "state": "running",
        "username": "NT AUTHORITY\\NETWORK SERVICE",
        "path": "C:\\Windows\\System32\\svchost.exe -k NetworkService -p",
    },
    "WinDefend": {
        "display_name": "Microsoft Defender Antivirus Service",
        "start_mode": "auto",
        "state": "running",
        "path": "C:\\ProgramData\\Microsoft\\Windows Defender\\MsMpEng.exe",
    },
    # A kernel driver, as every Windows host has: Get-Service lists no drivers, Get-Service -Name opens them, and
    # win_service leaves their account alone (sc qc cdrom on Windows Server 2022).
    "cdrom": {
        "display_name": "CD-ROM Driver",
        "service_type": "kernel_driver",
        "start_mode": "system",
        "state": "running",
        "path": "\\SystemRoot\\System32\\drivers\\cdrom.sys",
        "load_order_group": "SCSI CDROM Class",
    },
}

SERVICE_DEFAULTS: dict[str, Any] = {
    "display_name": None,  # the service name
    "description": None,
    "start_mode": "manual",
    "state": "stopped",
    "username": "LocalSystem",  # the SCM start name
    "path": "C:\\Windows\\system32\\svchost.exe",
    "dependencies": [],
    "service_type": "win32_own_process",
    "desktop_interact": False,
    "error_control": "normal",
    "load_order_group": "",
    "failure_actions": [],
    "failure_actions_on_non_crash_failure": False,
    "failure_command": None,
    "failure_reboot_msg": None,
    "failure_reset_period_sec": 0,
    "pre_shutdown_timeout_ms": 180000,
    "required_privileges": [],
    "sid_info": "none",
    "triggers": [],
    "can_pause_and_continue": False,
    "fail_to_start": False,
    "win32_exit_code": 0,
}
# What a service created by win_service (New-Service) gets: SCM defaults, never started yet (win32_exit_code
# 1077 = ERROR_SERVICE_NEVER_STARTED). Its binary is not simulated: it is taken to accept stop, pause/continue
# and shutdown once running, like the collection's own test service (README, deviations).
CREATED_SERVICE: dict[str, Any] = {
    "start_mode": "auto",
    "state": "stopped",
    "can_pause_and_continue": True,
    "win32_exit_code": 1077,
}
SERVICE_CHOICES: dict[str, tuple[str, ...]] = {
    "start_mode": ("boot", "system", "auto", "delayed", "manual", "disabled"),
    "state": ("running", "stopped", "paused"),
    "service_type": (
        "kernel_driver", "file_system_driver", "adapter", "recognizer_driver", "win32_own_process",
        "win32_share_process", "user_own_process", "user_share_process", "pkg_service",
    ),
    "error_control": ("critical", "ignore", "normal", "severe"),
    "sid_info": ("none", "restricted", "unrestricted"),
}
FAILURE_ACTION_TYPES = ("none", "reboot", "restart", "run_command")

DEFAULT_WRITERS: list[dict[str, Any]] = [
    {"name": "System Writer", "service": "CryptSvc"},
    {"name": "ASR Writer", "service": "VSS"},
    {"name": "COM+ REGDB Writer", "service": "VSS"},
    {"name": "Registry Writer", "service": "VSS"},
    {"name": "Shadow Copy Optimization Writer", "service": "VSS"},
    {"name": "WMI Writer", "service": "Winmgmt"},
    {"name": "BITS Writer", "service": "BITS"},
]

STATE_LABELS = {
    0: "Unknown",
    1: "Stable",
    2: "Waiting for freeze",
    3: "Waiting for thaw",
    4: "Waiting for post snapshot",
    5: "Waiting for backup complete completion",
    6: "Failed at identify",
    7: "Failed",
    8: "Failed",
    9: "Failed",
    10: "Failed",
    11: "Failed",
    12: "Failed",
    13: "Failed",
    14: "Failed",
    15: "Failed",
}

AGENT_EXE = "C:\\WindowsAzure\\Packages\\WaAppAgent.exe"
KERNEL32 = "C:\\Windows\\System32\\kernel32.dll"
MACHINEKEYS = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"

DEFAULT_FILES: dict[str, dict[str, Any]] = {
    "C:\\Windows": {"type": "directory"},
    "C:\\WindowsAzure\\Packages": {"type": "directory"},
    AGENT_EXE: {"type": "file", "size": 1054208, "version": "2.7.41491.1102"},
    "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot": {"type": "directory"},
    "C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot": {"type": "directory"},
    MACHINEKEYS: {
        "type": "directory",
        "inherit": False,
        "owner": "NT AUTHORITY\\SYSTEM",
        "acl": [
            {
                "user": "Everyone",
                "type": "allow",
                "rights": "Read, Write",
                "inherit": "None",
                "propagation": "None",
                "inherited": False,
            },
            {
                "user": "BUILTIN\\Administrators",
                "type": "allow",
                "rights": "FullControl",
                "inherit": "None",
                "propagation": "None",
                "inherited": False,
            },
        ],
    },
}

DEFAULT_EVENTS: list[dict[str, Any]] = [
    {
        "log": "Application",
        "provider": "VSS",
        "id": 8224,
        "level": "Information",
        "time_created": "2026-01-05T02:10:00Z",
        "message": "The VSS service is shutting down due to idle timeout.",
    },
]

DEFAULT_REGISTRY: dict[str, dict[str, Any]] = {
    "HKLM:\\SOFTWARE\\Microsoft": {},
    "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgent": {},
    "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319": {},
    "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319": {},
    "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Msiserver": {"Start": {"type": "dword", "data": 3}},
    # The standard hives and what every Windows host has under them (the system environment block included).
    "HKLM:\\HARDWARE\\DESCRIPTION\\System": {},
    "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment": {
        "ComSpec": {"type": "expandstring", "data": "%SystemRoot%\\system32\\cmd.exe"},
        "OS": "Windows_NT",
        "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC;.CPL",
        "TEMP": {"type": "expandstring", "data": "%SystemRoot%\\TEMP"},
        "TMP": {"type": "expandstring", "data": "%SystemRoot%\\TEMP"},
        "windir": {"type": "expandstring", "data": "%SystemRoot%"},
    },
    "HKCU:\\Software\\Microsoft": {},
    "HKCU:\\Environment": {
        "TEMP": {"type": "expandstring", "data": "%USERPROFILE%\\AppData\\Local\\Temp"},
        "TMP": {"type": "expandstring", "data": "%USERPROFILE%\\AppData\\Local\\Temp"},
    },
    "HKCR:\\*": {},
    "HKCR:\\CLSID": {},
    "HKCC:\\Software": {},
    "HKCC:\\System": {},
    "HKU:\\.DEFAULT\\Software": {},
    "HKU:\\S-1-5-18\\Software": {},
}

DEFAULT_MSDTC_CONFIG = {
    "network_dtc_access": False,
    "allow_inbound": False,
    "allow_outbound": False,
    "authentication": "mutual",
}


SPEC_FIELDS = {
    "platform",
    "hostname",
    "locale",
    "domain",
    "os",
    "address",
    "port",
    "user",
    "password",
    "read_timeout_sec",
    "operation_timeout_sec",
    "services",
    "vss_writers",
    "registry",
    "files",
    "packages",
    "certificates",
    "defender",
    "event_log",
    "bitlocker",
    "network_adapters",
    "msdtc_config",
    "msi_registered",
    "command_outputs",
    "faults",
    "accounts",
}
FAULT_FIELDS = {"auth_failure", "http_500", "drop_connection", "delay_seconds", "modules"}
ACCOUNT_FIELDS = {"name", "type", "sid"}
WRITER_FIELDS = {"name", "service", "state", "last_error", "persistent", "id", "instance_id"}


def validate_spec(name: str, spec: dict[str, Any]) -> None:
    """Fail loudly on a field this simulator does not know (a typo would otherwise be silently ignored)."""
    problems = [f"field {k}" for k in spec if k not in SPEC_FIELDS]
    if spec.get("platform", "windows") != "windows":
        problems.append(f"platform {spec.get('platform')} (expected windows)")
    problems += [f"faults.{k}" for k in (spec.get("faults") or {}) if k not in FAULT_FIELDS]
    for index, writer in enumerate(spec.get("vss_writers") or []):
        if not isinstance(writer, dict) or "name" not in writer:
            problems.append(f"vss_writers[{index}] (needs a name)")
            continue
        problems += [f"vss_writers[{index}].{k}" for k in writer if k not in WRITER_FIELDS]
    for svc_name, service in (spec.get("services") or {}).items():
        problems += _service_problems(str(svc_name), service)
    for index, entry in enumerate(spec.get("certificates") or []):
        problems += certstore.validate_spec_entry(index, entry)
    problems += [
        f"registry key {key} (the certificate stores live there; use certificates:)"
        for key in (spec.get("registry") or {})
        if "systemcertificates" in str(key).lower()
    ]
    for index, account in enumerate(spec.get("accounts") or []):
        if not isinstance(account, dict) or not account.get("name"):
            problems.append(f"accounts[{index}] (needs a name)")
            continue
        problems += [f"accounts[{index}].{k}" for k in account if k not in ACCOUNT_FIELDS]
        if account.get("type", "user") not in ("user", "group"):
            problems.append(f"accounts[{index}].type (user or group)")
    if problems:
        raise ValueError(
            f"windows lab host {name}: unknown or invalid {', '.join(problems)} (see lab/windows/README.md)"
        )


def writer_entry(raw: dict[str, Any]) -> dict[str, Any]:
    name = str(raw["name"])
    writer_id = raw.get("id") or KNOWN_WRITER_IDS.get(name) or str(uuid.uuid5(WRITER_NAMESPACE, name))
    instance_id = raw.get("instance_id") or str(uuid.uuid5(WRITER_NAMESPACE, f"instance:{name}"))
    state = int(raw.get("state", 1))
    return {
        "name": name,
        "id": writer_id.strip("{}"),
        "instance_id": instance_id.strip("{}"),
        "service": raw.get("service"),
        "state": state,
        "last_error": raw.get("last_error") or ("No error" if state == 1 else "Timed out"),
        "persistent": bool(raw.get("persistent", False)),
    }


def _service_problems(name: str, service: Any) -> list[str]:
    if service is None:
        return []
    if not isinstance(service, dict):
        return [f"services.{name} (a mapping of service fields, or null to remove it)"]
    problems = [f"services.{name}.{k}" for k in service if k not in SERVICE_DEFAULTS]
    for field, allowed in SERVICE_CHOICES.items():
        if field in service and service[field] not in allowed:
            problems.append(f"services.{name}.{field} ({', '.join(allowed)})")
    for action in service.get("failure_actions") or []:
        if not isinstance(action, dict) or action.get("type") not in FAILURE_ACTION_TYPES:
            problems.append(f"services.{name}.failure_actions ([{{type: {'|'.join(FAILURE_ACTION_TYPES)}, delay_ms}}])")
    return problems


def service_entry(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    entry = copy.deepcopy(SERVICE_DEFAULTS)
    entry.update(copy.deepcopy(raw))
    entry["name"] = name
    entry["display_name"] = entry.get("display_name") or name
    if str(entry.get("username") or "").lower() in ("localsystem", ".\\localsystem"):
        entry["username"] = "LocalSystem"  # the SCM's own spelling of the SYSTEM start name
    if entry["service_type"] in ("kernel_driver", "file_system_driver"):
        entry["username"] = None  # drivers have no account (lpServiceStartName is null)
    entry["failure_actions"] = [
        {"type": a["type"], "delay_ms": int(a.get("delay_ms", 0))} for a in entry.get("failure_actions") or []
    ]
    return entry


def created_service(name: str, path: str) -> dict[str, Any]:
    """The service New-Service creates (win_service with `path` on a missing service)."""
    return service_entry(name, {**CREATED_SERVICE, "path": path})


def build_state(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Return the full simulated state of one host from its scenario spec (see README.md for the fields)."""
    validate_spec(name, spec)
    services: dict[str, dict[str, Any]] = {}
    merged = copy.deepcopy(DEFAULT_SERVICES)
    for svc_name, overrides in (spec.get("services") or {}).items():
        if overrides is None:
            merged.pop(svc_name, None)
        else:
            merged.setdefault(svc_name, {}).update(overrides)
    for svc_name, raw in merged.items():
        services[svc_name] = service_entry(svc_name, raw)

    writers = [writer_entry(w) for w in (spec.get("vss_writers") or DEFAULT_WRITERS)]
    for writer in writers:
        if writer["service"] and writer["service"] not in services:
            services[writer["service"]] = service_entry(
                writer["service"], {"state": "running", "start_mode": "auto"}
            )

    registry: dict[str, dict[str, Any]] = copy.deepcopy(DEFAULT_REGISTRY)
    for key, values in (spec.get("registry") or {}).items():
        if values is None:
            registry.pop(key, None)
            continue
        registry[key] = {vname: _reg_value(v) for vname, v in (values or {}).items()}
    registry = {k: {vn: _reg_value(v) for vn, v in vals.items()} for k, vals in registry.items()}

    files = copy.deepcopy(DEFAULT_FILES)
    os_version = str((spec.get("os") or {}).get("version") or "10.0.20348.0")
    files[KERNEL32] = {"type": "file", "size": 765952, "version": os_version}  # its version is the OS build's
    for path, entry in (spec.get("files") or {}).items():
        if entry is None:
            files.pop(path, None)
        else:
            files[path] = {**files.get(path, {}), **entry}

    state: dict[str, Any] = {
        "hostname": str(spec.get("hostname") or name.upper()[:15]),
        "locale": str(spec.get("locale") or "en-US"),
        "os": {
            "name": "Microsoft Windows Server 2022 Datacenter",
            "version": os_version,
            **(spec.get("os") or {}),
        },
        "domain": spec.get("domain") or "WORKGROUP",
        "lab_user": str(spec.get("user") or "labadmin"),
        "accounts": copy.deepcopy(list(spec.get("accounts") or [])),
        "services": services,
        "vss_writers": writers,
        "registry": registry,
        "files": files,
        "certificates": _certificates(spec.get("certificates") or []),
        "defender": {"exclusion_paths": list((spec.get("defender") or {}).get("exclusion_paths") or [])},
        "event_log": copy.deepcopy(
            spec.get("event_log") if spec.get("event_log") is not None else DEFAULT_EVENTS
        ),
        "bitlocker": copy.deepcopy(
            spec.get("bitlocker")
            or [
                {
                    "mount_point": "C:",
                    "volume_status": "FullyDecrypted",
                    "protection_status": "Off",
                    "lock_status": "Unlocked",
                    "encryption_percentage": 0,
                }
            ]
        ),
        "network_adapters": copy.deepcopy(
            spec.get("network_adapters")
            or [{"name": "Ethernet", "interface_index": 6, "dhcp_enabled": True, "ipv4_address": "10.0.0.4"}]
        ),
        "msdtc": {
            "installed": True,
            "config": dict(DEFAULT_MSDTC_CONFIG, **(spec.get("msdtc_config") or {})),
        },
        "msi_registered": bool(spec.get("msi_registered", True)),
        "packages": copy.deepcopy(list(spec.get("packages") or [])),
        "command_outputs": dict(spec.get("command_outputs") or {}),
        "service_restarts": [],
        "commands_run": [],
        "faults": dict(spec.get("faults") or {}),
    }
    try:
        filestore.load_scenario_acls(state)
    except ValueError as exc:
        raise ValueError(f"windows lab host {name}: {exc} (see lab/windows/README.md)") from exc
    return state


def _certificates(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The default system stores (empty) with the scenario's certificates (LocalMachine\\My unless `store`)."""
    stores = certstore.default_stores()
    for entry in entries:
        sid, record = certstore.record_from_spec(entry)
        sid = next((known for known in stores if known.lower() == sid.lower()), sid)
        stores.setdefault(sid, []).append(record)
    return stores


def _reg_value(value: Any) -> dict[str, Any]:
    """Registry values are {type: string|dword|..., data: ...}; a bare scalar means a REG_SZ string."""
    if isinstance(value, dict) and "type" in value:
        return {"type": str(value["type"]).lower(), "data": value.get("data")}
    return {"type": "string", "data": "" if value is None else str(value)}

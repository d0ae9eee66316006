"""The simulated service control manager: service lookup, accounts, start/stop/restart/pause with the semantics
of the PowerShell cmdlets and ServiceController, writer reactions and the restart record.

Shared by win_service, win_service_info, `net start/stop`, `sc.exe` and the *-Service cmdlets.
"""

from __future__ import annotations

from typing import Any

from lab.windows import accounts, regstore, vss, wildcard

SYSTEM = "NT AUTHORITY\\SYSTEM"
NETWORK_SERVICE = "NT AUTHORITY\\NETWORK SERVICE"
LOCAL_SERVICE = "NT AUTHORITY\\LOCAL SERVICE"
LOCAL_SYSTEM = "LocalSystem"  # the SCM's start name for SYSTEM (SCManager.cs Account getter/setter)
SYSTEM_SID = "S-1-5-18"
SERVICE_ACCOUNT_SIDS = ("S-1-5-18", "S-1-5-19", "S-1-5-20")
DRIVER_TYPES = ("kernel_driver", "file_system_driver", "adapter", "recognizer_driver")
ERROR_SERVICE_NEVER_STARTED = 1077
SERVICES_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services"
START_VALUES = {"boot": 0, "system": 1, "auto": 2, "delayed": 2, "manual": 3, "disabled": 4}


class ServiceError(RuntimeError):
    """A cmdlet error (the message is the cmdlet's)."""


# -- lookup -----------------------------------------------------------------------------------------------------
def find(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Look a service up by service name, then by display name (case-insensitive, as ServiceController does)."""
    services = state["services"]
    for key, service in services.items():
        if key.lower() == name.lower():
            return service
    for service in services.values():
        if str(service.get("display_name", "")).lower() == name.lower():
            return service
    return None


def is_driver(service: dict[str, Any]) -> bool:
    return service.get("service_type") in DRIVER_TYPES


def listed(state: dict[str, Any]) -> list[dict[str, Any]]:
    """`Get-Service` without -Name: Win32 services only (ServiceController.GetServices), sorted by name."""
    return sorted((s for s in state["services"].values() if not is_driver(s)), key=lambda s: s["name"].lower())


def get_service_by_name(state: dict[str, Any], pattern: str) -> list[dict[str, Any]]:
    """`Get-Service -Name <pattern>`: wildcards match service names only; a plain name is opened with
    ServiceController(name), which also accepts a display name and drivers (MatchingServicesByServiceName)."""
    if wildcard.has_wildcards(pattern):
        regex = wildcard.compile_pattern(pattern)
        return sorted(
            (s for s in state["services"].values() if regex.fullmatch(s["name"])), key=lambda s: s["name"].lower()
        )
    found = find(state, pattern)
    return [found] if found is not None else []


def dependents(state: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The services that depend on `name` directly."""
    return [
        s
        for s in state["services"].values()
        if name.lower() in [d.lower() for d in s.get("dependencies") or []]
    ]


def all_dependents(state: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """EnumDependentServices (SERVICE_STATE_ALL): every service that needs `name`, directly or not, in the
    reverse of their start order (the last one to start first)."""
    ordered: list[dict[str, Any]] = []

    def visit(current: str, seen: set[str]) -> None:
        for dependent in dependents(state, current):
            key = dependent["name"].lower()
            if key in seen:
                continue
            seen.add(key)
            visit(dependent["name"], seen)
            if dependent not in ordered:
                ordered.append(dependent)

    visit(name, {name.lower()})
    return ordered


# -- accounts ---------------------------------------------------------------------------------------------------
def account_value(service: dict[str, Any]) -> str | None:
    """SCManager.cs Service.Account.Value: the SCM start name, `NT AUTHORITY\\SYSTEM` for LocalSystem, None for
    services without a start name (drivers, user services)."""
    name = service.get("username")
    if not name:
        return None
    return SYSTEM if name == LOCAL_SYSTEM else str(name)


def account_sid(state: dict[str, Any], name: str) -> str:
    """win_service.ps1 ConvertTo-SecurityIdentifier: a SID string, `LocalSystem` (its own special case), `.\\x`
    (= COMPUTERNAME\\x), else NTAccount.Translate; raises accounts.AccountNotFound."""
    if accounts.parse_sid(name) is None and name.lower() == LOCAL_SYSTEM.lower():
        return SYSTEM_SID
    return accounts.to_sid(state, name)


def start_name(state: dict[str, Any], sid: str) -> str:
    """SCManager.cs Account setter: `LocalSystem` for SYSTEM, else the account's name translated from its SID."""
    if sid == SYSTEM_SID:
        return LOCAL_SYSTEM
    name = accounts.name_of(state, sid)
    if name is None:
        raise accounts.AccountNotFound(sid)
    return name


# -- status -----------------------------------------------------------------------------------------------------
def record_start_type(state: dict[str, Any], service: dict[str, Any]) -> None:
    """ChangeServiceConfig writes the new start type to the service's key (`Start` REG_DWORD) as well as to the
    SCM's database. (The reverse does not hold: a `Start` value edited in the registry reaches the SCM only at the
    next boot.) The lab keeps only the service keys its registry holds (the default one holds Msiserver's)."""
    key = regstore.find_key(state, f"{SERVICES_KEY}\\{service['name']}")
    if key is not None:
        regstore.set_value(state, key, "Start", "dword", START_VALUES[service["start_mode"]])


def controls_accepted(service: dict[str, Any]) -> list[str]:
    """SERVICE_STATUS.dwControlsAccepted as win_service_info names them: none while stopped."""
    if service["state"] == "stopped":
        return []
    if is_driver(service):
        return ["stop"]
    controls = ["stop"]
    if service.get("can_pause_and_continue"):
        controls.append("pause_continue")
    controls.append("shutdown")
    return controls


def _record(state: dict[str, Any], service: str, action: str, via: str) -> None:
    state["service_actions"] = state.get("service_actions") or []
    state["service_actions"].append({"service": service, "action": action, "via": via})


def _has_dependents_error(service: dict[str, Any]) -> ServiceError:
    return ServiceError(
        f"Cannot stop service '{service['display_name']} ({service['name']})' because it has "
        "dependent services. It can only be stopped if the Force flag is set."
    )


def _set_stopped(state: dict[str, Any], service: dict[str, Any], via: str) -> None:
    service["state"] = "stopped"
    service["stopped_by_lab"] = True
    vss.on_service_stopped(state, service["name"])
    _record(state, service["name"], "stop", via)


def stop(state: dict[str, Any], service: dict[str, Any], *, force: bool = False, via: str) -> list[dict[str, Any]]:
    """Stop-Service [-Force] (PowerShell DoStopService + ServiceController.Stop).

    Without force, any dependent that is not stopped is an error. ServiceController.Stop stops every dependent
    that is not stopped first. Returns what Restart-Service starts again: the dependents that were running and
    the service itself. Stopping a stopped service is not an error."""
    deps = all_dependents(state, service["name"])
    if not force and any(d["state"] != "stopped" for d in deps):
        raise _has_dependents_error(service)
    restart_later = [d for d in deps if d["state"] == "running"]
    if service["state"] != "stopped":
        for dependent in deps:
            if dependent["state"] != "stopped":
                _set_stopped(state, dependent, via)
        _set_stopped(state, service, via)
    return [*restart_later, service]


def start(state: dict[str, Any], service: dict[str, Any], *, via: str) -> None:
    """Start-Service / net start: the SCM starts the dependencies first; a disabled service does not start."""
    if service["state"] in ("running", "paused"):
        return
    if service.get("start_mode") == "disabled" or service.get("fail_to_start"):
        raise ServiceError(
            f"Service '{service['display_name']} ({service['name']})' cannot be started due to the "
            f"following error: Cannot start service {service['name']} on computer '.'."
        )
    for dependency in service.get("dependencies") or []:
        required = find(state, dependency)
        if required is not None:
            start(state, required, via=via)
    was_stopped_by_lab = service.pop("stopped_by_lab", False)
    service["state"] = "running"
    service["win32_exit_code"] = 0
    vss.on_service_started(state, service["name"])
    _record(state, service["name"], "start", via)
    if was_stopped_by_lab:
        state["service_restarts"].append(service["name"])


def restart(state: dict[str, Any], service: dict[str, Any], *, force: bool = False, via: str) -> None:
    """Restart-Service [-Force] (RestartServiceCommand): stop (with the dependents when forced), then start every
    service that stop reported, the running dependents included. A stopped service is just started."""
    service["stopped_by_lab"] = True  # Restart-Service on a stopped service still counts as a restart
    for stopped in stop(state, service, force=force, via=via):
        start(state, stopped, via=via)


def pause(state: dict[str, Any], service: dict[str, Any], *, via: str) -> None:
    """Suspend-Service: only a running service that accepts pause/continue."""
    if service["state"] == "paused":
        return
    if "pause_continue" not in controls_accepted(service):
        raise ServiceError(
            f"Service '{service['display_name']} ({service['name']})' cannot be suspended because the service "
            "does not support being suspended or resumed."
        )
    service["state"] = "paused"
    _record(state, service["name"], "pause", via)


def resume(state: dict[str, Any], service: dict[str, Any], *, via: str) -> None:
    """Resume-Service: a paused service runs again."""
    if service["state"] != "paused":
        return
    service["state"] = "running"
    _record(state, service["name"], "continue", via)

"""Service control shared by win_service and `net start/stop`: state, writer reactions, restart record."""

from __future__ import annotations

from typing import Any

from lab.windows import vss

SYSTEM = "NT AUTHORITY\\SYSTEM"
NETWORK_SERVICE = "NT AUTHORITY\\NETWORK SERVICE"
LOCAL_SERVICE = "NT AUTHORITY\\LOCAL SERVICE"
ACCOUNT_ALIASES = {
    "localsystem": SYSTEM,
    "system": SYSTEM,
    "nt authority\\system": SYSTEM,
    ".\\localsystem": SYSTEM,
    "s-1-5-18": SYSTEM,
    "networkservice": NETWORK_SERVICE,
    "network service": NETWORK_SERVICE,
    "s-1-5-20": NETWORK_SERVICE,
    "nt authority\\networkservice": NETWORK_SERVICE,
    "nt authority\\network service": NETWORK_SERVICE,
    "localservice": LOCAL_SERVICE,
    "local service": LOCAL_SERVICE,
    "s-1-5-19": LOCAL_SERVICE,
    "nt authority\\localservice": LOCAL_SERVICE,
    "nt authority\\local service": LOCAL_SERVICE,
}


class ServiceError(RuntimeError):
    pass


def canonical_account(name: str | None) -> str | None:
    if name is None:
        return None
    return ACCOUNT_ALIASES.get(name.strip().lower(), name.strip())


def find(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Look a service up by service name, then by display name (case-insensitive, as Get-Service does)."""
    services = state["services"]
    for key, service in services.items():
        if key.lower() == name.lower():
            return service
    for service in services.values():
        if str(service.get("display_name", "")).lower() == name.lower():
            return service
    return None


def dependents(state: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        s
        for s in state["services"].values()
        if name.lower() in [d.lower() for d in s.get("dependencies") or []]
    ]


def _record(state: dict[str, Any], service: str, action: str, via: str) -> None:
    state["service_actions"] = state.get("service_actions") or []
    state["service_actions"].append({"service": service, "action": action, "via": via})


def stop(state: dict[str, Any], service: dict[str, Any], *, force: bool = False, via: str) -> None:
    if service["state"] == "stopped":
        return
    running_dependents = [d for d in dependents(state, service["name"]) if d["state"] == "running"]
    if running_dependents and not force:
        raise ServiceError(
            f"Cannot stop service '{service['display_name']} ({service['name']})' because it has "
            "dependent services. It can only be stopped if the Force flag is set."
        )
    for dependent in running_dependents:
        stop(state, dependent, force=True, via=via)
    service["state"] = "stopped"
    service["stopped_by_lab"] = True
    vss.on_service_stopped(state, service["name"])
    _record(state, service["name"], "stop", via)


def start(state: dict[str, Any], service: dict[str, Any], *, via: str) -> None:
    if service["state"] == "running":
        return
    if service.get("start_mode") == "disabled":
        raise ServiceError(
            f"Service '{service['display_name']} ({service['name']})' cannot be started due to the "
            f"following error: Cannot start service {service['name']} on computer '.'."
        )
    if service.get("fail_to_start"):
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
    vss.on_service_started(state, service["name"])
    _record(state, service["name"], "start", via)
    if was_stopped_by_lab:
        state["service_restarts"].append(service["name"])


def restart(state: dict[str, Any], service: dict[str, Any], *, force: bool = False, via: str) -> None:
    stop(state, service, force=force, via=via)
    service["stopped_by_lab"] = True  # Restart-Service on a stopped service still counts as a restart
    start(state, service, via=via)

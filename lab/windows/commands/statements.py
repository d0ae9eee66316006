"""Cmdlets changing the simulated state: Defender exclusions, DHCP, services."""

from __future__ import annotations

from typing import Any

from lab.windows import service_ops
from lab.windows.commands.sources import defender_running
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.values import enumerate_value, to_string


def _exclusions(call: Call, add: bool) -> list[Any]:
    if not defender_running(call):
        return []  # nothing changes
    current = call.state["defender"]["exclusion_paths"]
    for path in (to_string(p) for p in enumerate_value(call.get("ExclusionPath"))):
        present = [p for p in current if p.lower() == path.lower()]
        if add and not present:
            current.append(path)
        elif not add:
            for item in present:
                current.remove(item)
    return []


@cmdlet("Add-MpPreference", Param("ExclusionPath"))
def add_mppreference(call: Call) -> list[Any]:
    return _exclusions(call, add=True)


@cmdlet("Remove-MpPreference", Param("ExclusionPath"))
def remove_mppreference(call: Call) -> list[Any]:
    return _exclusions(call, add=False)


@cmdlet("Set-NetIPInterface", Param("InterfaceAlias"), Param("Dhcp"))
def set_netipinterface(call: Call) -> list[Any]:
    alias = to_string(call.get("InterfaceAlias"))
    dhcp = to_string(call.get("Dhcp")).lower()
    if dhcp not in ("enabled", "disabled"):
        call.fail(f"Cannot bind parameter 'Dhcp'. Cannot convert value \"{call.get('Dhcp')}\" to type "
                  '"Dhcp".', category="InvalidArgument")
    adapters = [a for a in call.state["network_adapters"] if a["name"].lower() == alias.lower()]
    if not adapters:
        call.error(f"No MSFT_NetIPInterface objects found with property 'InterfaceAlias' equal to '{alias}'.",
                   category="ObjectNotFound", error_id="CmdletizationQuery_NotFound_InterfaceAlias")
    for adapter in adapters:
        adapter["dhcp_enabled"] = dhcp == "enabled"
    return []


def _service_action(call: Call, verb: str) -> list[Any]:
    name = to_string(call.get("Name"))
    service = service_ops.find(call.state, name)
    if service is None:
        call.error(f"Cannot find any service with service name '{name}'.", category="ObjectNotFound",
                   error_id="NoServiceFoundForGivenName", target=name)
        return []
    try:
        if verb == "start":
            service_ops.start(call.state, service, via="Start-Service")
        else:
            action = service_ops.stop if verb == "stop" else service_ops.restart
            action(call.state, service, force=call.flag("Force"), via=call.name)
    except service_ops.ServiceError as exc:
        call.error(str(exc), category="OpenError", error_id="CouldNotStartService")
    return []


@cmdlet("Start-Service", Param("Name", position=0))
def start_service(call: Call) -> list[Any]:
    return _service_action(call, "start")


@cmdlet("Stop-Service", Param("Name", position=0), Param("Force", switch=True))
def stop_service(call: Call) -> list[Any]:
    return _service_action(call, "stop")


@cmdlet("Restart-Service", Param("Name", position=0), Param("Force", switch=True))
def restart_service(call: Call) -> list[Any]:
    return _service_action(call, "restart")

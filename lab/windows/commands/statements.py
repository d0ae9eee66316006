"""PowerShell cmdlets that change the state (Defender exclusions, DHCP, services, Remove-Item)."""

from __future__ import annotations

import re
from typing import Any

from lab.windows import filestore, service_ops
from lab.windows.commands.base import split_outside, unquote
from lab.windows.commands.sources import defender_errors


def _mp_paths(text: str) -> list[str]:
    return [unquote(p) for p in split_outside(text.strip().removeprefix("@(").removesuffix(")"), ",") if p]


def run_statement(host: Any, line: str) -> tuple[list[Any], list[str]] | None:
    """Mutating cmdlets: return ([], errors) if recognised, None otherwise."""
    state = host.state
    match = re.match(r"^(?P<verb>Add|Remove)-MpPreference\s+-ExclusionPath\s+(?P<paths>.+)$", line, re.I)
    if match:
        errors = defender_errors(host, match["verb"].lower())
        if errors:
            return [], errors
        current = state["defender"]["exclusion_paths"]
        for path in _mp_paths(match["paths"]):
            present = [p for p in current if p.lower() == path.lower()]
            if match["verb"].lower() == "add" and not present:
                current.append(path)
            elif match["verb"].lower() == "remove":
                for item in present:
                    current.remove(item)
        return [], []
    match = re.match(
        r"^Set-NetIPInterface\s+-InterfaceAlias\s+(?P<alias>'[^']+'|\"[^\"]+\"|\S+)\s+-Dhcp\s+"
        r"(?P<value>Enabled|Disabled)$",
        line,
        re.I,
    )
    if match:
        adapters = [
            a for a in state["network_adapters"] if a["name"].lower() == unquote(match["alias"]).lower()
        ]
        if not adapters:
            return [], [
                f"Set-NetIPInterface : No MSFT_NetIPInterface objects found with property 'InterfaceAlias' "
                f"equal to '{unquote(match['alias'])}'."
            ]
        for adapter in adapters:
            adapter["dhcp_enabled"] = match["value"].lower() == "enabled"
        return [], []
    match = re.match(
        r"^Remove-Item\s+(?:-(?:Literal)?Path\s+)?(?P<path>'[^']*'|\"[^\"]*\"|\S+)(?:\s+-Force|\s+-Recurse)*$",
        line,
        re.I,
    )
    if match:
        path = unquote(match["path"])
        if filestore.find(state, path) is None:
            return [], [f"Remove-Item : Cannot find path '{path}' because it does not exist."]
        filestore.remove(state, path)
        return [], []
    match = re.match(
        r"^(?P<verb>Start|Stop|Restart)-Service\s+(?:-Name\s+)?(?P<name>'[^']+'|\"[^\"]+\"|\S+)"
        r"(?P<force>\s+-Force)?$",
        line,
        re.I,
    )
    if match:
        service = service_ops.find(state, unquote(match["name"]))
        if service is None:
            return [], [
                f"{match['verb']}-Service : Cannot find any service with service name "
                f"'{unquote(match['name'])}'."
            ]
        action = {"start": service_ops.start, "stop": service_ops.stop, "restart": service_ops.restart}
        try:
            if match["verb"].lower() == "start":
                service_ops.start(state, service, via="Start-Service")
            else:
                action[match["verb"].lower()](
                    state, service, force=bool(match["force"]), via=f"{match['verb']}-Service"
                )
        except service_ops.ServiceError as exc:
            return [], [f"{match['verb']}-Service : {exc}"]
        return [], []
    return None

"""Filters for the Windows guest agent runbooks (380008 AzureVmOffline, UserErrorGuestAgentStatusUnavailable and
its siblings, VmNotInDesirableState): `guest_agent_version` and `guest_agent_diagnosis`.

- `guest_agent_version(output, errors)`: the product version of WaAppAgent.exe from the win_powershell result of
  `(Get-Item -LiteralPath '<exe>').VersionInfo.ProductVersion`: {installed, raw, version, error}. A version is the
  leading dotted number of the text (a ProductVersion may carry a suffix); no such number -> version None.
- `guest_agent_diagnosis(services, ...)`: `remediate_diagnosis` (see the function).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

RUNNING = "started"  # win_service_info's state of a running service
AUTOMATIC = ("auto", "delayed")
_VERSION = re.compile(r"^\s*(\d+(?:\.\d+){0,3})")


def _listed(value: Any) -> list[Any]:
    """A module result list (win_powershell output / error, win_service_info services); None -> []."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _parse(version: str) -> tuple[int, ...] | None:
    match = _VERSION.match(str(version))
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        exception = error.get("exception") or {}
        return str(exception.get("message") or error.get("output") or error).strip()
    return str(error).strip()


def guest_agent_version(output: Any, errors: Any = None) -> dict[str, Any]:
    """{installed, raw, version, error}: installed is False when Get-Item could not read the file."""
    texts = [str(item) for item in _listed(output) if item is not None and str(item).strip()]
    problems = [_error_text(e) for e in _listed(errors)]
    if not texts:
        return {"installed": False, "raw": None, "version": None,
                "error": "; ".join(problems) or "no version information"}
    raw = texts[0].strip()
    parsed = _parse(raw)
    return {"installed": True, "raw": raw, "version": ".".join(map(str, parsed)) if parsed else None,
            "error": "; ".join(problems) or None}


def _service_findings(services: list[Any], expected: list[str]) -> tuple[list[dict[str, Any]], list[dict]]:
    by_name = {}
    for service in services:
        if not isinstance(service, Mapping) or "name" not in service:
            raise AnsibleFilterError(f"guest_agent_diagnosis expects win_service_info services, got {service!r}")
        by_name[str(service["name"]).casefold()] = service
    findings, report = [], []
    for name in expected:
        service = by_name.get(name.casefold())
        if service is None:
            report.append({"name": name, "installed": False, "state": None, "start_mode": None})
            findings.append({"check": "service", "service": name, "problem": "not-installed",
                             "message": f"service {name} is not installed: install the VM agent (manual)"})
            continue
        state, mode = service.get("state"), service.get("start_mode")
        report.append({"name": service["name"], "installed": True, "state": state, "start_mode": mode})
        if state != RUNNING:
            findings.append({"check": "service", "service": service["name"], "problem": "not-running",
                             "message": f"service {service['name']} is {state}, not running"})
        if mode not in AUTOMATIC:
            findings.append({"check": "service", "service": service["name"], "problem": "not-automatic",
                             "message": f"service {service['name']} starts {mode}, not automatically"})
    return findings, report


def _dhcp_findings(adapters: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    findings, report = [], []
    for adapter in _listed(adapters):
        if not isinstance(adapter, Mapping) or "DHCPEnabled" not in adapter:
            raise AnsibleFilterError(
                f"guest_agent_diagnosis expects Win32_NetworkAdapterConfiguration objects, got {adapter!r}"
            )
        entry = {"description": adapter.get("Description"), "interface_index": adapter.get("InterfaceIndex"),
                 "dhcp_enabled": adapter.get("DHCPEnabled") is True, "ip_addresses": _listed(adapter.get("IPAddress"))}
        report.append(entry)
        if not entry["dhcp_enabled"]:
            findings.append({"check": "dhcp", "adapter": entry["description"],
                             "message": f"DHCP is disabled on {entry['description']} (interface "
                                        f"{entry['interface_index']}): IaaS backup needs DHCP inside the guest; use "
                                        "a static private IP from Azure instead (manual)"})
    return findings, report


def guest_agent_diagnosis(
    services: Any,
    version: Mapping[str, Any] | None = None,
    adapters: Any = None,
    expected: Any = None,
    min_version: str = "2.6.1198.718",
    check_dhcp: bool = True,
) -> dict[str, Any]:
    """`remediate_diagnosis` {healthy, summary, findings, services, agent, adapters}.

    healthy = every expected service is installed, running and starts automatically (auto or delayed), the
    agent's product version is at least min_version and, when check_dhcp, DHCP is enabled on every IP-enabled
    adapter. Findings name their check: service (fixed by starting it), version and dhcp (manual).
    """
    names = [str(n) for n in _listed(expected)]
    if not names:
        raise AnsibleFilterError("guest_agent_diagnosis needs the expected agent service names")
    minimum = _parse(str(min_version))
    if minimum is None:
        raise AnsibleFilterError(f"guest_agent_diagnosis: not a version: {min_version!r}")
    findings, service_report = _service_findings(_listed(services), names)
    agent = dict(version or {"installed": False, "raw": None, "version": None, "error": "not read"})
    parsed = _parse(agent["version"]) if agent.get("version") else None
    agent["min_version"] = ".".join(map(str, minimum))
    agent["up_to_date"] = parsed is not None and parsed >= minimum
    if not agent.get("installed"):
        findings.append({"check": "version", "message": f"the agent executable cannot be read ({agent.get('error')})"
                                                        ": reinstall the VM agent (manual)"})
    elif parsed is None:
        findings.append({"check": "version", "message": f"the agent product version {agent.get('raw')!r} is not a "
                                                        "version number: reinstall the VM agent (manual)"})
    elif not agent["up_to_date"]:
        findings.append({"check": "version", "message": f"the agent is version {agent['version']}, older than "
                                                        f"{agent['min_version']}: reinstall the VM agent (manual)"})
    dhcp_findings, adapter_report = _dhcp_findings(adapters) if check_dhcp else ([], [])
    findings += dhcp_findings
    healthy = not findings
    if healthy:
        summary = (f"{' and '.join(names)} running and automatic; agent version {agent['version']} "
                   f"(>= {agent['min_version']})" + ("; DHCP enabled on every adapter" if check_dhcp else ""))
    else:
        summary = f"{len(findings)} guest agent problem(s): " + "; ".join(f["message"] for f in findings)
    return {
        "healthy": healthy,
        "summary": summary,
        "findings": findings,
        "services": service_report,
        "agent": agent,
        "adapters": adapter_report,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"guest_agent_version": guest_agent_version, "guest_agent_diagnosis": guest_agent_diagnosis}

"""Filters for the VMRestorePointInternalError runbook (an antivirus blocks the backup extension):
`av_exclusion_paths`, `av_missing_exclusions`, `av_extension_crashes`, `av_products` and `av_diagnosis`.

- `av_exclusion_paths(output)`: the paths of `(Get-MpPreference).ExclusionPath` as win_powershell returns them
  (a list of strings; nothing or a single null when Defender has no exclusion).
- `av_missing_exclusions(current, required)`: the required paths Defender does not exclude yet, in order. Paths
  compare like Windows paths: case-insensitively, a trailing backslash ignored.
- `av_extension_crashes(events, executable)`: the Application Error events (id 1000) whose message names the
  backup extension's executable (`Faulting application name: IaaSBcdrExtension.exe, ...`; the executable name is
  the same whatever the system language, the label is not).
- `av_products(services, mapping)`: the installed services that belong to a known antivirus product. Windows
  Server has no Security Center (`root\\SecurityCenter2` exists on client editions only), so products are
  recognised by their service names (patterns in ../vars/antivirus_services.yml, `*` wildcards, case-insensitive).
- `av_diagnosis(...)`: `remediate_diagnosis` (see the function).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DEFENDER_SERVICE = "WinDefend"
EXTENSION_EXE = "IaaSBcdrExtension.exe"
RUNNING = "started"  # win_service_info's state of a running service


def _listed(value: Any) -> list[Any]:
    """A module result list (win_powershell output, win_service_info services); None -> []."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _path_key(path: str) -> str:
    return path.strip().rstrip("\\").casefold()


def av_exclusion_paths(output: Any) -> list[str]:
    """Defender's exclusion paths from win_powershell output; anything but strings (a null) is dropped."""
    paths = []
    for item in _listed(output):
        if isinstance(item, Mapping):
            raise AnsibleFilterError(f"av_exclusion_paths expects path strings, got an object: {dict(item)!r}")
        if isinstance(item, str) and item.strip():
            paths.append(item)
    return paths


def av_missing_exclusions(current: Any, required: Any) -> list[str]:
    """The required paths that no current exclusion covers (case-insensitive, trailing backslash ignored)."""
    if isinstance(required, str) or not isinstance(required, Iterable):
        raise AnsibleFilterError("av_missing_exclusions expects the required paths as a list")
    have = {_path_key(p) for p in av_exclusion_paths(current)}
    missing: list[str] = []
    for path in required:
        if not isinstance(path, str) or not path.strip():
            raise AnsibleFilterError(f"av_missing_exclusions: not a path: {path!r}")
        if _path_key(path) not in have and _path_key(path) not in {_path_key(m) for m in missing}:
            missing.append(path)
    return missing


def av_extension_crashes(events: Any, executable: str = EXTENSION_EXE) -> list[dict[str, Any]]:
    """The events whose message names the executable (newest first, as Get-WinEvent returns them)."""
    pattern = re.compile(r"(?<![\w.])" + re.escape(executable) + r"(?![\w.])", re.IGNORECASE)
    crashes = []
    for event in _listed(events):
        if not isinstance(event, Mapping):
            raise AnsibleFilterError(f"av_extension_crashes expects event objects, got {event!r}")
        message = " ".join(str(event.get("Message") or "").split())
        if pattern.search(message):
            crashes.append(
                {
                    "time_created": str(event.get("TimeCreated") or ""),
                    "log": event.get("LogName"),
                    "provider": event.get("ProviderName"),
                    "id": event.get("Id"),
                    "message": message,
                }
            )
    return crashes


def av_products(services: Any, mapping: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Installed services of known antivirus products: [{service, display_name, product, state, running}]."""
    if not isinstance(mapping, Mapping):
        raise AnsibleFilterError("av_products expects the service pattern -> product mapping as a dict")
    found = []
    for service in _listed(services):
        if not isinstance(service, Mapping) or "name" not in service:
            raise AnsibleFilterError(f"av_products expects win_service_info services, got {service!r}")
        name = str(service["name"])
        product = next(
            (str(p) for pattern, p in mapping.items() if fnmatch.fnmatchcase(name.casefold(), str(pattern).casefold())),
            None,
        )
        if product:
            found.append(
                {
                    "service": name,
                    "display_name": service.get("display_name"),
                    "product": product,
                    "state": service.get("state"),
                    "running": service.get("state") == RUNNING,
                }
            )
    return found


def _defender(services: list[Any], exclusions: Any, required: list[str]) -> dict[str, Any]:
    service = next(
        (s for s in services if isinstance(s, Mapping) and str(s.get("name", "")).casefold() == "windefend"), None
    )
    running = bool(service) and service.get("state") == RUNNING  # type: ignore[union-attr]
    current = av_exclusion_paths(exclusions) if running else []
    return {
        "installed": service is not None,
        "running": running,
        "state": service.get("state") if service else None,
        "exclusion_paths": current,
        "missing": av_missing_exclusions(current, required) if running else [],
    }


def av_diagnosis(
    services: Any,
    exclusions: Any = None,
    crashes: Any = None,
    required: Any = None,
    mapping: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`remediate_diagnosis` {healthy, summary, findings, defender, other_antivirus, extension_crashes,
    required_paths}.

    healthy = (Microsoft Defender is not running, or it excludes every required path) and no other known antivirus
    product is running and, when no antivirus at all is running, the extension has not crashed. Old crash events
    stay in the Application log after a fix, so on a host whose antivirus is known they are evidence, not a
    verdict; with no antivirus known to this tool they point at an unrecognised security product.
    """
    checked_services = _listed(services)
    required_paths = list(required or [])
    if not required_paths:
        raise AnsibleFilterError("av_diagnosis needs the required exclusion paths")
    defender = _defender(checked_services, exclusions, required_paths)
    others = [p for p in av_products(checked_services, mapping or {}) if p["service"].casefold() != "windefend"]
    running_others = [p for p in others if p["running"]]
    crash_list = list(_listed(crashes))
    findings: list[dict[str, Any]] = []
    for path in defender["missing"]:
        findings.append(
            {"check": "defender-exclusion", "path": path,
             "message": f"Microsoft Defender does not exclude {path}"}
        )
    for product in running_others:
        findings.append(
            {"check": "other-antivirus", "service": product["service"], "product": product["product"],
             "message": f"{product['product']} is running (service {product['service']}): exclude "
                        f"{' and '.join(required_paths)} in its own console"}
        )
    if crash_list and not defender["running"] and not running_others:
        findings.append(
            {"check": "extension-crash", "message": f"{EXTENSION_EXE} crashed ({len(crash_list)} Application Error "
             "event(s)) but no antivirus known to this tool is running: look for another security or application "
             "control product"}
        )
    healthy = not findings
    if defender["running"]:
        have = len(required_paths) - len(defender["missing"])
        av_text = (f"Microsoft Defender is running and excludes {have} of {len(required_paths)} backup extension "
                   "folders" + (f" (missing: {', '.join(defender['missing'])})" if defender["missing"] else ""))
    else:
        av_text = ("Microsoft Defender is not running" if defender["installed"]
                   else "Microsoft Defender is not installed")
    parts = [av_text]
    if running_others:
        names = ", ".join(f"{p['product']} ({p['service']})" for p in running_others)
        parts.append(f"other antivirus running: {names}")
    elif not defender["running"]:
        parts.append("no other known antivirus is running")
    if crash_list:
        parts.append(f"{EXTENSION_EXE} crashed {len(crash_list)} time(s), latest {crash_list[0]['time_created']}")
    else:
        parts.append(f"no {EXTENSION_EXE} crash in the Application log")
    return {
        "healthy": healthy,
        "summary": "; ".join(parts),
        "findings": findings,
        "defender": defender,
        "other_antivirus": others,
        "extension_crashes": crash_list,
        "required_paths": required_paths,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "av_exclusion_paths": av_exclusion_paths,
            "av_missing_exclusions": av_missing_exclusions,
            "av_extension_crashes": av_extension_crashes,
            "av_products": av_products,
            "av_diagnosis": av_diagnosis,
        }

"""Filters for the Visual C++ redistributable runbook (ExtensionVCRedistInstallationFailure):
`version_folders`, `newest_version_folder`, `uninstall_entries`, `installer_exit_meaning`, `vcredist_diagnosis`.

`version_folders(files)` keeps, from `ansible.windows.win_find` results, the directories whose name is a version
(`1.0.9`, `1.10.0.2`: numbers joined by dots) and sorts them by version, oldest first: numerically part by part
(1.0.9 < 1.0.10, where a string sort says the opposite), a missing part sorting first (1.0 < 1.0.0), as
System.Version compares them. `newest_version_folder(files)` is the last one, or None.

`uninstall_entries(stats, product_ids)` reads a registered loop of `ansible.windows.win_reg_stat` over Uninstall
keys (`item` = the key path, `sub_keys` = its sub keys) and returns the product ids found, `{product_id, key}`,
comparing without case and without braces. This is how win_package.ps1's registry provider decides that an
executable's product is installed (`Test-Path ...\\Uninstall\\<product_id>`).

`installer_exit_meaning(rc)` explains the Windows Installer exit codes an installer returns (winerror.h /
msi.h values): 1601, 1602, 1603, 1618, 1638, 3010 ...

`vcredist_diagnosis(...)` builds the `remediate_diagnosis` core {healthy, summary, findings, notes}: healthy when
the Windows Installer service can start (not Disabled in the service manager, and `Start` is not 4 in the
registry) and one of the Visual C++ 2013 x64 redistributable bundles is installed. Where the installer would come
from (newest plugin folder) and Error 1401 events are notes: they say what the next steps can do, not whether the
backup extension can run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

VERSION_RE = re.compile(r"^\d+(?:\.\d+)+$")
DISABLED = 4
EXIT_CODES = {
    0: "success",
    1601: "ERROR_INSTALL_SERVICE_FAILURE: the Windows Installer service could not be accessed (disabled, or its "
          "registration is broken: the next step re-registers it)",
    1602: "ERROR_INSTALL_USEREXIT: the installation was cancelled",
    1603: "ERROR_INSTALL_FAILURE: fatal error during installation (see the Application event log, e.g. Error 1401 "
          "on Software\\Classes: missing registry permissions)",
    1618: "ERROR_INSTALL_ALREADY_RUNNING: another installation is in progress",
    1638: "ERROR_PRODUCT_VERSION: another version of this product is already installed",
    3010: "ERROR_SUCCESS_REBOOT_REQUIRED: installed; a restart is needed to complete it",
}


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split("."))


def _files(found: Any) -> list[Mapping[str, Any]]:
    if isinstance(found, Mapping):
        found = found.get("files", [])
    if isinstance(found, (str, bytes)) or not isinstance(found, Iterable):
        raise AnsibleFilterError("version_folders expects the files of ansible.windows.win_find")
    return [f for f in found if isinstance(f, Mapping)]


def version_folders(found: Any) -> list[dict[str, Any]]:
    """The directories named like a version, oldest first (see the module docstring)."""
    folders = []
    for entry in _files(found):
        name = str(entry.get("filename") or "")
        if entry.get("isdir") and VERSION_RE.fullmatch(name):
            folders.append({"name": name, "path": str(entry.get("path")), "version": _version(name)})
    folders.sort(key=lambda f: f["version"])
    return [{"name": f["name"], "path": f["path"], "version": list(f["version"])} for f in folders]


def newest_version_folder(found: Any) -> dict[str, Any] | None:
    folders = version_folders(found)
    return folders[-1] if folders else None


def _id(product_id: Any) -> str:
    return str(product_id).strip().strip("{}").lower()


def uninstall_entries(stats: Any, product_ids: Any) -> list[dict[str, str]]:
    """The product ids that have an Uninstall key, in the order of the keys read then of `product_ids`."""
    if isinstance(product_ids, (str, bytes, Mapping)) or not isinstance(product_ids, Iterable):
        raise AnsibleFilterError("uninstall_entries expects product_ids as a list")
    results = stats.get("results") if isinstance(stats, Mapping) else stats
    if isinstance(results, (str, bytes)) or not isinstance(results, Iterable):
        raise AnsibleFilterError("uninstall_entries expects the registered loop of win_reg_stat")
    wanted = [str(p) for p in product_ids]
    found: list[dict[str, str]] = []
    for result in results:
        if not isinstance(result, Mapping):
            continue
        if result.get("failed"):
            raise AnsibleFilterError(f"uninstall_entries: reading {result.get('item')} failed: {result.get('msg')}")
        if result.get("skipped") or not result.get("exists"):
            continue
        present = {_id(sub): str(sub) for sub in result.get("sub_keys") or []}
        for product_id in wanted:
            if _id(product_id) in present:
                found.append({"product_id": product_id, "key": f"{result.get('item')}\\{present[_id(product_id)]}"})
    return found


def installer_exit_meaning(rc: Any) -> str:
    try:
        code = int(rc)
    except (TypeError, ValueError):
        return f"no exit code ({rc!r})"
    return EXIT_CODES.get(code, f"exit code {code} (see the installer's log and the Application event log)")


def _start_value(start: Mapping[str, Any] | None) -> int | None:
    if not isinstance(start, Mapping) or not start.get("exists"):
        return None
    try:
        return int(start.get("raw_value", start.get("value")))
    except (TypeError, ValueError):
        return None


def vcredist_diagnosis(service: Any, start: Any, installed: Any, folder: Any = None, installer: Any = None,
                       access_errors: Any = None, installer_name: str = "vcredist2013_x64.exe",
                       plugin_root: str = "") -> dict[str, Any]:
    """{healthy, summary, findings, notes}.

    service: the msiserver entry of win_service_info (None when not installed); start: win_reg_stat of its Start
    value; installed: uninstall_entries(...); folder: newest_version_folder(...); installer: win_stat of the
    installer in that folder; access_errors: events whose message reports Error 1401."""
    findings: list[dict[str, str]] = []
    notes: list[str] = []
    registry_start = _start_value(start if isinstance(start, Mapping) else None)
    if not isinstance(service, Mapping) or not service:
        findings.append({"check": "msiserver", "problem": "missing",
                         "message": "the Windows Installer service (msiserver) is not installed"})
    elif str(service.get("start_mode")) == "disabled":
        findings.append({"check": "msiserver", "problem": "disabled",
                         "message": "Windows Installer (msiserver) is disabled (Start = "
                                    f"{registry_start if registry_start is not None else '?'})"})
    elif registry_start == DISABLED:
        findings.append({"check": "msiserver", "problem": "disabled-at-next-boot",
                         "message": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Msiserver Start = 4 (edited in the "
                                    f"registry; the service manager still has {service.get('start_mode')}): "
                                    "Windows Installer will be disabled at the next boot"})
    bundles = list(installed or [])
    if not bundles:
        findings.append({"check": "vcredist", "problem": "missing",
                         "message": "the Visual C++ 2013 x64 redistributable is not installed"})
    if isinstance(installer, Mapping) and isinstance(installer.get("stat"), Mapping):
        installer = installer["stat"]  # a win_stat result
    if isinstance(folder, Mapping) and folder:
        if isinstance(installer, Mapping) and installer.get("exists"):
            notes.append(f"installer: {folder['path']}\\{installer_name}")
        else:
            notes.append(f"no {installer_name} in the newest plugin folder {folder['path']}")
    elif not bundles:
        notes.append(f"no plugin version folder under {plugin_root or 'the plugin folder'}")
    events = list(access_errors or [])
    if events:
        notes.append(f"{len(events)} Windows Installer event(s) report Error 1401 (a registry key could not be "
                     "created, e.g. Software\\Classes): fix the permissions by hand")
    if findings:
        summary = "; ".join(f["message"] for f in findings)
    else:
        summary = ("Windows Installer can start; Visual C++ 2013 x64 redistributable installed ("
                   + ", ".join(b["product_id"] for b in bundles) + ")")
    summary = "; ".join([summary, *notes])
    return {"healthy": not findings, "summary": summary, "findings": findings, "notes": notes}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "version_folders": version_folders,
            "newest_version_folder": newest_version_folder,
            "uninstall_entries": uninstall_entries,
            "installer_exit_meaning": installer_exit_meaning,
            "vcredist_diagnosis": vcredist_diagnosis,
        }

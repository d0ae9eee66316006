"""win_package, following win_package.ps1 (ansible.windows): providers, installed status, running the installer.

- Provider (`Get-InstalledStatus`, `$providerInfo` order msi, msix, msp, registry): with `path`, the first provider
  whose FileSupported accepts the file (msi: the file is an MSI database, here a `.msi` name; msix: `.appx`,
  `.appxbundle`, `.msix`, `.msixbundle`; msp: a patch, here `.msp`; registry: anything else, e.g. an `.exe`);
  without `path`, the first provider that finds `product_id` installed.
- Installed: msi = `product_id` in the host's `packages` (MsiQueryProductState), or the ProductCode the scenario
  gives the `.msi` file; registry = an `Uninstall\\<product_id>` key under HKLM or HKCU, SOFTWARE or
  SOFTWARE\\Wow6432Node (the provider's Test, lines "Search machine wide and user specific", "32 and 64-bit");
  `creates_path` (+ `creates_version`) or `creates_service` override either.
- Running the installer (`Invoke-Executable`): the command line is the escaped path plus `arguments`
  (registry provider) or `msiexec.exe /i <path> /L*V <log> /qn /norestart` (msi); its exit code is `rc`; a code not
  in `expected_return_code` (default 0, 3010) fails with `unexpected rc from '<command>': ...`; 3010 sets
  `reboot_required`. What the executable does is the scenario's `installer` entry of the file (see README):
  `exit_code`, `windows_installer` (its packages go through the Windows Installer service: 1601
  ERROR_INSTALL_SERVICE_FAILURE when msiserver is disabled or its registration is broken, as for every `.msi`),
  and `registry` (the keys and values it writes when it succeeds).
"""

from __future__ import annotations

import hashlib
import ntpath
import re
from typing import Any

from lab.windows import argspec, filestore, regstore, service_ops
from lab.windows.defaults import service_entry
from lab.windows.modules import ModuleContext, module

MODELLED = {
    "path",
    "product_id",
    "state",
    "arguments",
    "creates_path",
    "creates_service",
    "creates_version",
    "expected_return_code",
    "provider",
    "checksum_algorithm",
}
MSIX_EXTENSIONS = (".appx", ".appxbundle", ".msix", ".msixbundle")
UNINSTALL_KEYS = tuple(
    f"{hive}:\\{root}\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
    for hive in ("HKLM", "HKCU")
    for root in ("SOFTWARE", "SOFTWARE\\Wow6432Node")
)
INSTALLER_FIELDS = {"exit_code", "windows_installer", "registry"}
ERROR_INSTALL_SERVICE_FAILURE = 1601


def _key(product_id: str) -> str:
    return product_id.strip().strip("{}").lower()


def _escape(argument: str) -> str:
    """ConvertTo-EscapedArgument (Process.psm1): quote an argument holding white space or a double quote."""
    if not argument:
        return '""'
    if not re.search(r'[\s"]', argument):
        return argument
    argument = argument.replace('"', '\\"')
    argument = re.sub(r'(\\+)\\"', r'\1\1\\"', argument)
    argument = re.sub(r"(\\+)$", r"\1\1", argument)
    return f'"{argument}"'


def _arguments(value: Any) -> str | None:
    """A list of arguments is escaped and joined (win_package.ps1, before Import-PInvokeCode)."""
    if isinstance(value, list):
        return " ".join(_escape(str(v)) for v in value)
    return None if value is None else str(value)


def _file_provider(ctx: ModuleContext, path: str) -> str:
    extension = ntpath.splitext(path)[1].lower()
    if extension == ".msi":
        return "msi"
    if extension in MSIX_EXTENSIONS or extension == ".msp":
        ctx.fail(f"lab.windows simulator: win_package provider {'msp' if extension == '.msp' else 'msix'} "
                 "is not simulated")
    return "registry"


def _uninstall_key(ctx: ModuleContext, product_id: str | None) -> str | None:
    if not product_id:
        return None
    for root in UNINSTALL_KEYS:
        if regstore.key_exists(ctx.state, f"{root}\\{product_id}"):
            return f"{root}\\{product_id}"
    return None


def _msi_installed(ctx: ModuleContext, product_id: str | None) -> bool:
    return bool(product_id) and any(_key(pkg["product_id"]) == _key(product_id) for pkg in ctx.state["packages"])


def _status(ctx: ModuleContext, provider: str, product_id: str | None) -> tuple[str, bool]:
    """(provider, installed) before creates_* are considered."""
    if provider == "auto":  # no path: the first provider that has the product, else the last one (registry)
        if _msi_installed(ctx, product_id):
            return "msi", True
        return "registry", _uninstall_key(ctx, product_id) is not None
    if provider == "msi":
        return provider, _msi_installed(ctx, product_id)
    if provider == "registry":
        return provider, _uninstall_key(ctx, product_id) is not None
    ctx.fail(f"lab.windows simulator: win_package provider {provider} is not simulated")
    raise AssertionError  # unreachable


def _creates(ctx: ModuleContext, installed: bool) -> bool:
    p = ctx.params
    if p["creates_path"]:
        found = filestore.find(ctx.state, p["creates_path"])
        installed = found is not None
        if found is not None and p["creates_version"]:
            if found[1]["type"] == "directory":
                ctx.fail("creates_path must be a file not a directory when creates_version is set")
            installed = found[1].get("version") == p["creates_version"]
    if p["creates_service"]:
        installed = service_ops.find(ctx.state, p["creates_service"]) is not None
    return installed


def _installer(ctx: ModuleContext, entry: dict[str, Any] | None, path: str) -> dict[str, Any]:
    spec = dict((entry or {}).get("installer") or {})
    unknown = sorted(set(spec) - INSTALLER_FIELDS)
    if unknown:
        ctx.fail(f"lab.windows simulator: files.{path}.installer: unknown field(s) {', '.join(unknown)}")
    return spec


def _windows_installer_usable(ctx: ModuleContext) -> bool:
    service = service_ops.find(ctx.state, "msiserver")
    return service is not None and service.get("start_mode") != "disabled" and bool(ctx.state["msi_registered"])


def _run(ctx: ModuleContext, provider: str, path: str | None, product_id: str | None) -> None:
    """Invoke-Executable / Invoke-Msiexec: run, check the exit code, apply what a successful installer does."""
    p = ctx.params
    entry = filestore.find(ctx.state, path) if path else None
    spec = _installer(ctx, entry[1] if entry else None, path or "")
    arguments = _arguments(p["arguments"])
    if provider == "msi":
        action = ["/i", path] if p["state"] == "present" else ["/x", product_id or ""]
        log = f"C:\\Users\\{ctx.state['lab_user']}\\AppData\\Local\\Temp\\ansible-moduletmp\\msiexec.log"
        command = " ".join(_escape(str(a)) for a in ["C:\\Windows\\System32\\msiexec.exe", *action, "/L*V", log,
                                                      "/qn", "/norestart"])
    else:
        command = _escape(path) if path else f"(QuietUninstallString of {_uninstall_key(ctx, product_id)})"
    if arguments:
        command += f" {arguments}"
    if p["state"] == "present" and entry is not None:  # Get-FileHash before the installer runs
        content = str(entry[1].get("content", "")).encode()
        ctx.result["checksum"] = hashlib.new(p["checksum_algorithm"], content).hexdigest().upper()
    uses_msi = provider == "msi" or bool(spec.get("windows_installer"))
    if uses_msi and not _windows_installer_usable(ctx):
        rc = ERROR_INSTALL_SERVICE_FAILURE
    else:
        rc = int(spec.get("exit_code", 0))
    ctx.result["rc"] = rc
    if rc not in p["expected_return_code"]:
        ctx.result.update({"stdout": "", "stderr": ""})
        ctx.fail(f"unexpected rc from '{command}': see rc, stdout, and stderr for more details")
    ctx.result["failed"] = False  # else Ansible takes a non-zero rc for a failure (TaskExecutor)
    if rc == 3010:
        ctx.result["reboot_required"] = True
    if p["state"] == "present":
        _installed_effects(ctx, provider, path, product_id, spec)
    else:
        _removed_effects(ctx, provider, product_id)


def _installed_effects(
    ctx: ModuleContext, provider: str, path: str | None, product_id: str | None, spec: dict[str, Any]
) -> None:
    p = ctx.params
    ctx.state["packages"].append({"product_id": product_id or path, "path": path, "arguments": p["arguments"]})
    writes = spec.get("registry")
    if writes:
        for key, values in writes.items():
            regstore.create_key(ctx.state, key)
            for name, value in (values or {}).items():
                kind, data = (value["type"], value.get("data")) if isinstance(value, dict) else ("string", str(value))
                regstore.set_value(ctx.state, key, name, kind, data)
    elif provider == "registry" and product_id:
        # an installer whose writes the scenario does not describe registers the product id it was installed as
        regstore.create_key(ctx.state, f"{UNINSTALL_KEYS[0]}\\{product_id}")
    if p["creates_path"]:
        created = filestore.create(ctx.state, p["creates_path"], "file")
        if p["creates_version"]:
            created["version"] = p["creates_version"]
    if p["creates_service"] and service_ops.find(ctx.state, p["creates_service"]) is None:
        ctx.state["services"][p["creates_service"]] = service_entry(
            p["creates_service"], {"state": "running", "start_mode": "auto"}
        )


def _removed_effects(ctx: ModuleContext, provider: str, product_id: str | None) -> None:
    p = ctx.params
    if product_id:
        ctx.state["packages"] = [
            pkg for pkg in ctx.state["packages"] if _key(pkg["product_id"]) != _key(product_id)
        ]
        key = _uninstall_key(ctx, product_id) if provider == "registry" else None
        if key:
            regstore.delete_tree(ctx.state, key)
    if p["creates_path"]:
        filestore.remove(ctx.state, p["creates_path"])


@module("win_package")
def win_package(ctx: ModuleContext) -> None:
    p = ctx.params
    spec = argspec.options("win_package")
    given = sorted(
        k for k, v in p.items() if k not in MODELLED and v is not None and v != spec[k].get("default")
    )
    if given:
        ctx.fail(f"lab.windows simulator: win_package option(s) not simulated: {', '.join(given)}")
    path = p["path"]
    ctx.result["reboot_required"] = False
    if path and path.lower().startswith("http"):
        ctx.fail("lab.windows simulator: win_package from a URL (download) is not simulated")
    product_id = p["product_id"]
    entry = filestore.find(ctx.state, path) if path else None
    if path and entry is None and not ctx.check_mode:
        ctx.fail(f"the file at the path '{path}' cannot be reached")
    provider = p["provider"]
    if path and provider == "auto":
        provider = _file_provider(ctx, path)
    if provider == "msi" and not product_id and entry is not None:
        product_id = entry[1].get("product_id")  # an MSI carries its ProductCode
    provider, installed = _status(ctx, provider, product_id)
    if not product_id and not p["creates_path"] and not p["creates_service"]:
        ctx.fail(
            "lab.windows simulator: win_package needs product_id (or an MSI file with product_id in the "
            "scenario), creates_path or creates_service to decide whether the package is installed"
        )
    installed = _creates(ctx, installed)
    ctx.result["rc"] = 0
    changed = (p["state"] == "present") != installed
    if changed and not ctx.check_mode:
        _run(ctx, provider, path, product_id)
    ctx.result["changed"] = changed

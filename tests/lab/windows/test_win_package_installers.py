"""win_package in the lab follows win_package.ps1: the registry provider for an executable, the installer's exit
code against expected_return_code, 3010 = reboot required, and installers that need the Windows Installer service.
Also: win_service writes a new start type to the service's registry key, as ChangeServiceConfig does."""

from __future__ import annotations

import hashlib
from typing import Any

from .helpers import call, host_for

EXE = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.10\\vcredist2013_x64.exe"
BUNDLE = "{050d4fc8-5d48-4b8f-8972-47c82c46020f}"
ARP = f"HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{BUNDLE}"
MSISERVER_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Msiserver"


def _host(installer: dict[str, Any] | None = None, **spec: Any):
    entry: dict[str, Any] = {"type": "file", "size": 7194312, "content": "bundle"}
    if installer is not None:
        entry["installer"] = installer
    return host_for({"files": {EXE: entry}, **spec})


def _install(host, check: bool = False, **extra: Any) -> dict[str, Any]:
    return call(host, "win_package", check=check, path=EXE, product_id=BUNDLE,
                arguments="/install /quiet /norestart", **extra)


def test_an_executable_is_installed_when_its_uninstall_key_exists() -> None:
    # win_package.ps1 lines 1190-1193 (registry provider Test): HKLM/HKCU x SOFTWARE, SOFTWARE\Wow6432Node
    # \Microsoft\Windows\CurrentVersion\Uninstall\<Id>
    host = _host({"registry": {ARP: {"DisplayName": "Microsoft Visual C++ 2013 Redistributable (x64) - 12.0.30501"}}})
    check = _install(host, check=True)
    assert (check["changed"], check["rc"], check["reboot_required"]) == (True, 0, False)
    assert host.state["packages"] == [] and ARP not in host.state["registry"]
    done = _install(host)
    assert (done["changed"], done["rc"], done["reboot_required"]) == (True, 0, False)
    assert done["checksum"] == hashlib.sha1(b"bundle").hexdigest().upper()  # line 1416: Get-FileHash ... .Hash
    # the installer's own writes (the scenario's `installer.registry`), in the 32-bit view as a burn bundle does
    assert host.state["registry"][ARP]["DisplayName"]["data"].endswith("12.0.30501")
    assert host.state["packages"][0]["path"] == EXE
    assert _install(host)["changed"] is False  # found under SOFTWARE\Wow6432Node


def test_the_exit_code_decides_success_and_3010_means_reboot_required() -> None:
    # win_package.ps1 Invoke-Executable: line 655 rc not in expected_return_code (default 0, 3010: line 1305) ->
    # line 662 FailJson "unexpected rc from ..."; line 665 failed = $false; line 668 3010 -> reboot_required
    failing = _host({"exit_code": 1603})
    res = _install(failing)
    assert res["failed"] is True and res["rc"] == 1603 and res["changed"] is False
    assert res["msg"] == (f"unexpected rc from '{EXE} /install /quiet /norestart': see rc, stdout, and stderr for "
                          "more details")
    assert failing.state["packages"] == []
    accepted = _install(_host({"exit_code": 1603}), expected_return_code=[0, 1603])
    assert accepted["changed"] is True and accepted["rc"] == 1603
    reboot = _host({"exit_code": 3010})
    res = _install(reboot)
    assert (res["changed"], res["rc"], res["reboot_required"]) == (True, 3010, True)
    assert res["failed"] is False  # Invoke-Executable sets failed = $false: Ansible fails a result with rc != 0
    assert _install(reboot)["changed"] is False  # the undescribed installer registered the product id it was given


def test_an_installer_that_uses_windows_installer_fails_1601_while_msiserver_cannot_run() -> None:
    # ERROR_INSTALL_SERVICE_FAILURE (1601, winerror.h): the Windows Installer service could not be accessed
    disabled = _host({"windows_installer": True}, services={"msiserver": {"start_mode": "disabled"}})
    assert _install(disabled)["rc"] == 1601
    unregistered = _host({"windows_installer": True}, msi_registered=False)
    assert _install(unregistered)["rc"] == 1601
    call(unregistered, "win_command", _raw_params="msiexec /unregister")
    call(unregistered, "win_command", _raw_params="msiexec /regserver")
    assert _install(unregistered)["changed"] is True
    # an .msi always goes through the service (line 744: the msi provider; Invoke-Msiexec: msiexec.exe /i ...)
    msi = "C:\\Temp\\app.msi"
    host = host_for({"files": {msi: {"type": "file", "product_id": "{A}"}},
                     "services": {"msiserver": {"start_mode": "disabled"}}})
    res = call(host, "win_package", path=msi)
    assert res["rc"] == 1601 and "msiexec.exe /i C:\\Temp\\app.msi /L*V" in res["msg"]


def test_unknown_installer_fields_and_providers_fail_loudly() -> None:
    assert "unknown field(s) exitcode" in _install(_host({"exitcode": 0}))["msg"]
    host = host_for({"files": {"C:\\Temp\\app.msix": {"type": "file"}}})
    assert "provider msix is not simulated" in call(host, "win_package", path="C:\\Temp\\app.msix",
                                                    product_id="x")["msg"]


def test_win_service_start_mode_writes_the_start_value_a_registry_edit_does_not_reach_the_scm() -> None:
    # win_service.ps1 sets $service.StartType; SCManager.cs line 649 (StartType setter) calls ChangeServiceConfigW,
    # which updates the SCM and HKLM\SYSTEM\CurrentControlSet\Services\<name>\Start; a Start value
    # edited in the registry is read by the SCM only at boot ("You cannot change the starting rules for a service
    # by editing this entry", Services registry reference)
    host = host_for({"services": {"msiserver": {"start_mode": "disabled"}},
                     "registry": {MSISERVER_KEY: {"Start": {"type": "dword", "data": 4}}}})
    check = call(host, "win_service", check=True, name="msiserver", start_mode="manual")
    assert check["changed"] is True and host.state["registry"][MSISERVER_KEY]["Start"]["data"] == 4
    assert call(host, "win_service", name="msiserver", start_mode="manual")["changed"] is True
    assert host.state["services"]["msiserver"]["start_mode"] == "manual"
    assert host.state["registry"][MSISERVER_KEY]["Start"] == {"type": "dword", "data": 3}
    call(host, "win_regedit", path=MSISERVER_KEY, name="Start", data=4, type="dword")
    assert host.state["services"]["msiserver"]["start_mode"] == "manual"
    assert call(host, "win_service", name="msiserver", start_mode="manual")["changed"] is False
    assert host.state["registry"][MSISERVER_KEY]["Start"]["data"] == 4  # no change, no ChangeServiceConfig

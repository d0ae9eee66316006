"""Microsoft Defender cmdlets depend on the WinDefend service, in-process.

Fact followed: the Defender cmdlets (CIM class MSFT_MpPreference) fail with HRESULT 0x800106ba while Defender does
not run, e.g. when a third-party antivirus has stopped it: `Get-MpPreference : Operation failed with the following
error: 0x%1!x!` and `Add-MpPreference : Operation failed with the following error: 0x800106ba. Operation:
MpPreference. Target: ConfigListExtension.` (non-terminating: win_powershell returns them in `error`).
"""

from __future__ import annotations

import pytest

from lab.windows.commands import NotSimulated, run_script

from .helpers import call, host_for

STOPPED = {"platform": "windows", "services": {"WinDefend": {"state": "stopped"}},
           "defender": {"exclusion_paths": ["D:\\SQLData"]}}


def test_defender_cmdlets_fail_while_windefend_is_stopped() -> None:
    host = host_for(STOPPED)
    read = call(host, "win_powershell", script="(Get-MpPreference).ExclusionPath")
    assert read["output"] == [None]  # no object: the member of $null is $null, which the statement writes
    assert [e["output"].splitlines()[0] for e in read["error"]] == [
        "Get-MpPreference : Operation failed with the following error: 0x%1!x!"]
    add = call(host, "win_powershell", script="Add-MpPreference -ExclusionPath 'C:\\X'")
    assert "0x800106ba. Operation: MpPreference. Target: ConfigListExtension." in add["error"][0]["output"]
    assert host.state["defender"]["exclusion_paths"] == ["D:\\SQLData"]  # unchanged
    stopped = call(host, "win_powershell", script="Add-MpPreference -ExclusionPath 'C:\\X'", error_action="stop")
    assert stopped["failed"] is True


def test_defender_cmdlets_work_once_windefend_runs_again() -> None:
    host = host_for(STOPPED)
    run_script(host, "Start-Service WinDefend", shell="powershell")
    run_script(host, "Add-MpPreference -ExclusionPath 'C:\\X'", shell="powershell")
    assert run_script(host, "(Get-MpPreference).ExclusionPath", shell="powershell").objects == ["D:\\SQLData", "C:\\X"]


def test_defender_cmdlets_without_the_service_are_not_simulated() -> None:
    host = host_for({"platform": "windows", "services": {"WinDefend": None}})
    with pytest.raises(NotSimulated, match="without a WinDefend service"):
        run_script(host, "Get-MpPreference", shell="powershell")

"""Issue 10 item 11 (part): win_command / win_shell around the command, like win_command.ps1 / win_shell.ps1.

Check-mode ordering follows Ansible.Basic.cs (CheckArguments); creates/removes Test-AnsiblePath
(Ansible.ModuleUtils.FileUtil.psm1); chdir/stdin/output_encoding_override Start-AnsibleWindowsProcess
(ansible.windows module_utils/Process.psm1, Process.cs).
"""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Lab, call, host_for, task_results


def test_check_mode_skip_comes_after_the_unsupported_parameter_check_only() -> None:
    # Ansible.Basic.cs lines 978-987: CheckUnsupportedArguments, then the "does not support check mode" skip, then
    # mutually_exclusive / required / types / choices. So in check mode an unknown option still fails, while a
    # missing or doubled command is skipped (it would fail without check mode).
    host = host_for()
    unknown = call(host, "win_command", check=True, _raw_params="vssadmin list writers", colour="blue")
    assert unknown["failed"] is True and unknown["msg"].startswith("Unsupported parameters for (win_command) module")
    skipped = call(host, "win_command", check=True)
    assert skipped == {
        "changed": False,
        "skipped": True,
        "msg": "remote module (win_command) does not support check mode",
        "invocation": {"module_args": {}},
    }
    shell = call(host, "win_shell", check=True, _raw_params="Get-Service VSS", chdir="C:\\Nope")
    assert shell["skipped"] is True  # chdir is not looked at either
    assert shell["invocation"]["module_args"] == {"_raw_params": "Get-Service VSS", "cmd": "Get-Service VSS",
                                                  "chdir": "C:\\Nope"}  # fmt: skip  # GetAliases copies the alias
    assert host.state["commands_run"] == []


def test_creates_and_removes_use_test_ansible_path() -> None:
    # FileUtil.psm1 lines 12-44: a file system path exists when GetAttributes finds a file or a directory.
    # win_command.ps1 lines 83-93 skip with rc 0. Its spec types creates/removes as `path`, so Ansible.Basic.cs
    # ParsePath (line ~686, Path.GetFullPath on .NET Framework) refuses a PowerShell drive path such as HKLM:\ or
    # Cert:\ before the module runs: only file system paths reach Test-AnsiblePath from win_command.
    host = host_for({"certificates": [{"thumbprint": "AB" * 20}]})
    cases = [
        ("creates", "C:\\Windows", True),
        ("creates", "C:\\Nope\\x.txt", False),
        ("removes", "C:\\Nope\\x.txt", True),
        ("removes", "C:\\Windows", False),
    ]
    for option, path, skipped in cases:
        result = call(host, "win_command", _raw_params="vssadmin list writers", **{option: path})
        assert bool(result.get("skipped")) is skipped, (option, path, result)
        if skipped:
            assert result["rc"] == 0 and result["msg"].startswith("skipped, since")
    for path in ("HKLM:\\SOFTWARE\\Microsoft\\BcdrAgent", f"Cert:\\LocalMachine\\My\\{'ab' * 20}"):
        refused = call(host, "win_command", _raw_params="vssadmin list writers", creates=path)
        assert refused["failed"] is True
        assert refused["msg"].startswith("argument for creates is of type System.String and we were unable to "
                                         "convert to path")
    # a share of another machine: the lab has no network, so the check names what it cannot answer
    remote = call(host, "win_command", _raw_params="vssadmin list writers", creates="\\\\server\\share\\x")
    assert remote["failed"] is True and "not simulated: network (UNC) paths" in remote["msg"]


def test_chdir_must_exist_and_be_a_directory() -> None:
    # Process.psm1 line 192: Write-Error "Could not find specified -WorkingDirectory" (terminating under the module's
    # ErrorActionPreference Stop) → win_command.ps1 lines 115-129: rc 2, "Failed to run: '<cmd>': ...". A file makes
    # CreateProcessW fail with ERROR_DIRECTORY: rc 267. win_shell.ps1 line 170 names the unset $rawCmdLine: ''.
    host = host_for()
    missing = call(host, "win_command", _raw_params="net stop BITS", chdir="C:\\Nope")
    assert missing["rc"] == 2 and missing["msg"] == (
        "Failed to run: 'net stop BITS': Could not find specified -WorkingDirectory 'C:\\Nope'"
    )
    assert host.state["services"]["BITS"]["state"] == "running"  # the command never ran
    a_file = call(host, "win_command", _raw_params="vssadmin list writers",
                  chdir="C:\\WindowsAzure\\Packages\\WaAppAgent.exe")  # fmt: skip
    assert a_file["rc"] == 267 and "The directory name is invalid, Win32ErrorCode 267" in a_file["msg"]
    shell = call(host, "win_shell", _raw_params="Get-Service VSS", chdir="C:\\Nope")
    assert shell["msg"] == "Failed to run: '': Could not find specified -WorkingDirectory 'C:\\Nope'"
    ran = call(host, "win_command", _raw_params="vssadmin list writers", chdir="C:\\Windows", stdin="y")
    assert ran["rc"] == 0 and "Writer name: 'System Writer'" in ran["stdout"]


def test_output_encoding_override_decodes_and_an_unknown_name_fails_before_running() -> None:
    # Process.cs line 740: Encoding.GetEncoding(name) runs after the process was created suspended, so an unknown
    # name fails the module (rc 2) and the command never runs; a known one decodes the UTF-8 the process wrote.
    host = host_for({"locale": "fr-FR"})
    bad = call(host, "win_command", _raw_params="net stop BITS", output_encoding_override="no-such-encoding")
    assert bad["rc"] == 2 and "'no-such-encoding' is not a supported encoding name" in bad["msg"]
    assert host.state["services"]["BITS"]["state"] == "running"
    latin = call(host, "win_command", _raw_params="vssadmin list writers", output_encoding_override="windows-1252")
    assert "Ã‰tat" in latin["stdout"]  # "État" written as UTF-8, read as Windows-1252
    assert "État" in call(host, "win_command", _raw_params="vssadmin list writers")["stdout"]


def test_scripts_start_in_the_profile_directory_or_chdir() -> None:
    # A WinRS shell (and so the module's powershell.exe) starts in %USERPROFILE%; Start-AnsibleWindowsProcess starts
    # the command in -WorkingDirectory (chdir), where a script's relative paths resolve.
    host = host_for({"files": {"C:\\Data\\a.txt": {"type": "file", "content": "x"}}})
    assert call(host, "win_shell", _raw_params="(Get-Location).Path")["stdout"] == "C:\\Users\\u\r\n"
    moved = call(host, "win_shell", _raw_params="(Get-Location).Path; Test-Path a.txt", chdir="C:\\Data")
    assert moved["stdout"] == "C:\\Data\r\nTrue\r\n"
    assert call(host, "win_command", _raw_params="powershell.exe -Command Test-Path a.txt",
                chdir="C:\\Data")["stdout"] == "True\r\n"


def test_win_shell_trims_cmd() -> None:
    # win_shell.ps1 line 69: $cmd = $module.Params.cmd.Trim(); line 77: the result's cmd is the trimmed text.
    result = call(host_for(), "win_shell", _raw_params="  Get-Service VSS  ")
    assert result["cmd"] == "Get-Service VSS" and result["rc"] == 0


@pytest.mark.lab
def test_check_mode_through_ansible_playbook(make_lab: Any) -> None:
    """With real Ansible the skip message names the module as the task did (_ansible_module_name)."""
    lab: Lab = make_lab({"vm1": {"platform": "windows"}})
    document = lab.playbook(
        """
- hosts: vm1
  gather_facts: false
  tasks:
    - name: fqcn
      ansible.windows.win_command: net stop BITS
    - name: unknown option
      ansible.windows.win_shell:
        cmd: Get-Service BITS
        colour: blue
      ignore_errors: true
""",
        "--check",
    )
    results = task_results(document, "vm1")
    assert results["fqcn"]["msg"] == "remote module (ansible.windows.win_command) does not support check mode"
    # (Ansible.Basic names the module as the task did here too; argspec.py still says "(win_shell)")
    assert results["unknown option"]["msg"].startswith("Unsupported parameters for (")
    assert "module: colour. Supported parameters include:" in results["unknown option"]["msg"]
    assert lab.state("vm1")["services"]["BITS"]["state"] == "running"

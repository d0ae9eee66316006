"""The lab's PowerShell subset (lab.windows.powershell): what it runs behaves like Windows PowerShell 5.1, and
everything else fails naming the construct."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lab.windows import powershell
from lab.windows.payload import Invocation
from lab.windows.powershell import commands, providers
from lab.windows.powershell.errors import NotSimulated

from .helpers import call, host_for

DATA = "C:\\Data"


@pytest.fixture
def host() -> Any:
    return host_for({"platform": "windows", "hostname": "VM1", "files": {DATA: {"type": "directory"}}})


def run(host: Any, script: str, **kwargs: Any) -> powershell.Result:
    return powershell.run(host, script, **kwargs)


def out(host: Any, script: str) -> list[str]:
    result = run(host, script)
    assert result.stderr == "", result.stderr
    return result.stdout.split("\r\n")[:-1]


def test_statements_variables_and_string_expansion(host: Any) -> None:
    script = """
    # comments and blank lines are ignored
    $name = 'lab'; $n = 2
    "host $name has $($n + 1) items`ttab"   # double quotes expand, backtick escapes
    'no $expansion'
    "${name}:\\path"
    @"
  here $name
"@
    $env:COMPUTERNAME
    """
    assert out(host, script) == ["host lab has 3 items\ttab", "no $expansion", "lab:\\path", "  here lab", "VM1"]


def test_collections_members_and_methods(host: Any) -> None:
    script = """
    $h = @{ Name = 'VSS'; Count = 3 }      # hashtable keys compare case-insensitively
    $h.name; $h['COUNT']; $h.ContainsKey('count')
    $list = @('b', 'a'); $list += 'c'
    $list.Count; ($list -join ',').ToUpper(); 'A,B'.Split(',')[1]
    @(@{p = 1}, @{p = 2}).p                 # member enumeration
    """
    assert out(host, script) == ["VSS", "3", "True", "3", "B,A,C", "B", "1", "2"]


def test_operators_are_case_insensitive_and_filter_arrays(host: Any) -> None:
    script = """
    'ABC' -eq 'abc'; 'ABC' -ceq 'abc'; 'setup.EXE' -like '*.exe'; 'v 12' -match 'v (\\d+)'; $Matches[1]
    1, 2, 3 -gt 1
    2 -in 1, 2; @('a') -contains 'A'; 'a-b' -replace '-', '+'; ('x y' -split ' ').Count
    '{0:x2}|{1,3}|' -f 255, 7; [version]'1.10' -gt [version]'1.9'; 5 + '1'; '5' + 1
    """
    assert out(host, script) == ["True", "False", "True", "True", "12", "2", "3", "True", "True", "a+b", "2",
                                 "ff|  7|", "True", "6", "51"]


def test_control_flow_functions_and_param_blocks(host: Any) -> None:
    script = """
    $kind = if (Test-Path -LiteralPath C:\\Data -PathType Container) { 'dir' } elseif ($true) { 'x' } else { 'none' }
    $kind
    foreach ($i in 1..3) { if ($i -eq 2) { continue }; $i }
    function Get-Double { param([int]$Value = 1) $Value * 2 }
    Get-Double -Value 4; Get-Double 5; Get-Double
    $n = 0; while ($n -lt 2) { $n++ }; $n
    """
    assert out(host, script) == ["dir", "1", "3", "8", "10", "2", "2"]


def test_param_block_takes_win_powershell_parameters(host: Any) -> None:
    # win_powershell.ps1 adds `parameters` to the script with $ps.AddParameters (bound to its param() block)
    result = call(host, "win_powershell", script="param([string]$Path, [switch]$Force)\n\"$Path/$Force\"",
                  parameters={"Path": "C:\\x"})
    assert result["output"] == ["C:\\x/False"] and result["changed"] is True
    unknown = call(host, "win_powershell", script="param([string]$Path)\n$Path", parameters={"Other": 1})
    assert unknown["failed"] is True
    assert unknown["error"][0]["exception"]["message"] == \
        "A parameter cannot be found that matches parameter name 'Other'."


def test_pipelines_with_script_blocks_and_selections(host: Any) -> None:
    script = """
    Get-Service | Where-Object { $_.Name -like 'V*' } | ForEach-Object { $_.Name.ToLower() }
    Get-Service | Where-Object Name -eq 'BITS' | Select-Object -ExpandProperty StartType
    Get-Service VSS | Select-Object Name, @{ Name = 'Up'; Expression = { $_.Status -eq 'Running' } } |
        ConvertTo-Json -Compress
    """
    assert out(host, script) == ["vss", "Manual", '{"Name":"VSS","Up":true}']


def test_convert_to_json_renders_like_windows_powershell_5_1(host: Any) -> None:
    # one object -> an object, several -> an array, none -> nothing; `"key":  value` with two spaces and nested
    # values aligned after their key; JavaScriptSerializer escapes ' < > &; -Depth 2 turns deeper levels to text
    assert run(host, "Get-Service -Name NoSuch -ErrorAction SilentlyContinue | ConvertTo-Json").stdout == ""
    assert run(host, "ConvertTo-Json -InputObject @()").stdout == "[\r\n\r\n]\r\n"
    assert run(host, "@{ a = @(1, 2) } | ConvertTo-Json").stdout == (
        '{\r\n    "a":  [\r\n              1,\r\n              2\r\n          ]\r\n}\r\n'
    )
    assert run(host, "'It''s <b>&' | ConvertTo-Json").stdout == '"It\\u0027s \\u003cb\\u003e\\u0026"\r\n'
    deep = json.loads(run(host, "@{ a = @{ b = @{ c = @{ d = 1 } } } } | ConvertTo-Json").stdout)
    assert deep == {"a": {"b": {"c": "System.Collections.Hashtable"}}}
    several = json.loads(run(host, "Get-Service VSS, BITS | Select-Object Name | ConvertTo-Json").stdout)
    assert several == [{"Name": "VSS"}, {"Name": "BITS"}]


def test_an_empty_pipeline_assigned_to_a_variable_enumerates_as_nothing(host: Any) -> None:
    # the variable holds AutomationNull: it compares equal to $null but @($x) is empty (the win_acl read-backs
    # rely on it: ConvertTo-Json -InputObject @($ace_list) prints "[", "", "]")
    script = "$x = Get-ChildItem C:\\Nope -ErrorAction SilentlyContinue\n@($x).Count\n$null -eq $x\n@($null).Count"
    assert out(host, script) == ["0", "True", "1"]


def test_errors_non_terminating_terminating_and_caught(host: Any) -> None:
    continued = run(host, "Get-Item C:\\Nope\n'after'")
    assert continued.stdout == "after\r\n" and continued.rc == 0
    assert continued.stderr == "Get-Item : Cannot find path 'C:\\Nope' because it does not exist.\r\n"
    stopped = run(host, "$ErrorActionPreference = 'Stop'\nGet-Item C:\\Nope\n'after'")
    assert stopped.stdout == "" and stopped.rc == 1 and stopped.terminated
    caught = out(host, "try { Get-Item C:\\Nope -ErrorAction Stop } catch { 'caught: ' + $_.Exception.Message }"
                       " finally { 'finally' }")
    assert caught == ["caught: Cannot find path 'C:\\Nope' because it does not exist.", "finally"]
    # a .NET method that throws is a statement-terminating MethodInvocationException
    method = run(host, "(New-Object System.Security.Principal.NTAccount('nobody'))."
                       "Translate([System.Security.Principal.SecurityIdentifier])\n'next'")
    assert method.stdout == "next\r\n"
    assert method.errors[0].message == ('Exception calling "Translate" with "1" argument(s): "Some or all '
                                        'identity references could not be translated."')
    assert run(host, "throw 'boom'").rc == 1


def test_native_commands_write_lines_and_set_lastexitcode(host: Any) -> None:
    assert out(host, "vssadmin list writers | Select-Object -First 1") == [
        "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool"
    ]
    result = run(host, "net start VSS")
    assert result.rc == 2 and "already been started" in result.stderr
    assert out(host, "net start VSS 2>$null\n$LASTEXITCODE") == ["2"]


def test_get_acl_objects_and_translate(host: Any) -> None:
    script = """
    $acl = Get-Acl -LiteralPath C:\\Data
    $acl.AreAccessRulesProtected; $acl.Owner
    $acl.Access | ForEach-Object {
        '{0}|{1}|{2}|{3}' -f $_.IdentityReference.Value, $_.FileSystemRights, $_.IsInherited, $_.InheritanceFlags
    }
    $sid = [System.Security.Principal.SecurityIdentifier]
    ($acl.Access | Select-Object -First 1).IdentityReference.Translate($sid).Value
    (Get-Item -LiteralPath C:\\Data -Force).PSProvider.Name
    """
    assert out(host, script) == [
        "False",
        "BUILTIN\\Administrators",
        "NT AUTHORITY\\SYSTEM|FullControl|True|ContainerInherit, ObjectInherit",
        "BUILTIN\\Administrators|FullControl|True|ContainerInherit, ObjectInherit",
        "S-1-5-18",
        "FileSystem",
    ]


def test_set_acl_with_a_new_directory_security(host: Any) -> None:
    # the setup of the upstream win_acl_inheritance target: a protected DACL built in .NET, then a child folder
    # that inherits it
    script = """
    $everyone = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList @(
        [System.Security.Principal.WellKnownSidType]::WorldSid, $null)
    $sd = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
    $sd.SetAccessRuleProtection($true, $false)
    $sd.AddAccessRule(
        (New-Object -TypeName System.Security.AccessControl.FileSystemAccessRule -ArgumentList @(
            $everyone,
            [System.Security.AccessControl.FileSystemRights]::Read,
            [System.Security.AccessControl.InheritanceFlags]"ContainerInherit, ObjectInherit",
            [System.Security.AccessControl.PropagationFlags]::None,
            [System.Security.AccessControl.AccessControlType]::Allow
        ))
    )
    Set-Acl -LiteralPath C:\\Data -AclObject $sd
    $null = New-Item -Path C:\\Data\\sub -ItemType Directory
    icacls C:\\Data\\sub
    """
    assert out(host, script)[0] == "C:\\Data\\sub Everyone:(I)(OI)(CI)(R)"


def test_the_win_acl_read_back_of_the_upstream_tests(host: Any) -> None:
    # the shape of roles/win_acl/tasks/tests.yml test_ace_cmd (New-PSDrive, Push-Location, `if` as a value,
    # ."$name" member access, hashtables in ForEach-Object, ConvertTo-Json -InputObject @(...))
    read_back = """$path = 'C:\\Data'; # read the explicit entries
    New-PSDrive -Name HKU -PSProvider Registry -Root HKEY_USERS > $null
    Push-Location -LiteralPath (Split-Path -Path $path -Qualifier)
    $rights_key = if ((Get-Item -LiteralPath $path -Force).PSProvider.Name -eq "Registry") {
        "RegistryRights"
    } else {
        "FileSystemRights"
    }
    $ace_list = (Get-Acl -LiteralPath $path).Access | Where-Object { $_.IsInherited -eq $false } | ForEach-Object {
        @{
            rights = $_."$rights_key".ToString()
            identity = $_.IdentityReference.Value.ToString()
        }
    }
    Pop-Location
    ConvertTo-Json -InputObject @($ace_list)
    """
    assert run(host, read_back).stdout.splitlines() == ["[", "", "]"]
    call(host, "win_acl", path=DATA, user="Guests", rights="Write", type="allow")
    assert json.loads(run(host, read_back).stdout) == [{"rights": "Write, Synchronize", "identity": "BUILTIN\\Guests"}]


def test_win_powershell_ansible_variable_output_and_errors(host: Any) -> None:
    # win_powershell.ps1: $Ansible.Changed/Result set the result; output objects go through Convert-OutputObject
    # (enums become {Type, String, Value}); error_action=stop makes the first error terminating (failed)
    script = ("$Ansible.Changed = $false\n$Ansible.Result = @{ n = 1 }\n"
              "[System.Security.AccessControl.FileSystemRights]'Read'")
    result = call(host, "win_powershell", script=script)
    assert result["changed"] is False and result["result"] == {"n": 1}
    assert result["output"] == [{"Type": "System.Security.AccessControl.FileSystemRights", "String": "Read",
                                 "Value": 131209}]
    failed = call(host, "win_powershell", script="Get-Item C:\\Nope\n'after'", error_action="stop")
    assert failed["failed"] is True and failed["output"] == []
    assert failed["error"][0]["exception"]["message"] == "Cannot find path 'C:\\Nope' because it does not exist."
    kept = call(host, "win_powershell", script="Get-Item C:\\Nope\n'after'")
    assert "failed" not in kept and kept["output"] == ["after"] and len(kept["error"]) == 1


@pytest.mark.parametrize(
    "script, named",
    [
        ("Get-Process", "Get-Process"),
        ("Get-Service | Sort-Object Name", "pipeline stage: Sort-Object Name"),
        ("Get-Item C:\\Data -Stream x", "the parameter -Stream of Get-Item"),
        ("(Get-Item C:\\Data).CreationTime", "the property CreationTime of [System.IO.DirectoryInfo]"),
        ("[System.Diagnostics.Process]::GetCurrentProcess()", "the .NET type [System.Diagnostics.Process]"),
        ("switch (1) { 1 { 'one' } }", "the PowerShell 'switch' statement"),
        ("Test-Path \\\\server\\share", "network (UNC) paths"),
        ("Get-Acl HKLM:\\SOFTWARE", "Get-Acl (ACLs) on Registry paths"),
        ("$Host.Name", "the automatic variable $Host"),
    ],
)
def test_anything_outside_the_subset_is_not_simulated_and_named(host: Any, script: str, named: str) -> None:
    with pytest.raises(NotSimulated, match=named.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                       .replace("[", "\\[").replace("]", "\\]").replace("$", "\\$").replace(".", "\\.")):
        run(host, script)


def test_adding_a_provider_is_one_class(host: Any) -> None:
    # a drive whose provider the lab does not simulate names it ...
    with pytest.raises(NotSimulated, match="the WSMan provider"):
        run(host, "Test-Path WSMan:\\localhost\\Shell")

    # ... and adding one is a single class (see README "Extending the PowerShell subset")
    class WSMan(providers.Provider):
        name = "WSMan"

        def exists(self, ctx: Any, path: str) -> bool:
            return path.lower() in ("\\", "\\localhost", "\\localhost\\shell")

    providers.provider(WSMan)
    try:
        assert out(host, "Test-Path WSMan:\\localhost\\Shell; Test-Path WSMan:\\localhost\\Nope") == ["True", "False"]
        with pytest.raises(NotSimulated, match="Get-Item on WSMan paths"):
            run(host, "Get-Item WSMan:\\localhost")
    finally:
        del providers.PROVIDERS["wsman"]


def test_the_environment_drive_and_env_variables_are_the_module_environment(host: Any) -> None:
    # $env:, Env:\ and [Environment] read one environment: the machine's and the WinRM user's variables
    # (lab.windows.environment), plus the task's `environment:` (module_wrapper.ps1 sets them before the module).
    assert out(host, "$env:USERPROFILE; Test-Path Env:\\TEMP; Test-Path Env:\\NOPE; (Get-Item Env:windir).Value\n"
                     "[Environment]::ExpandEnvironmentVariables('%SystemRoot%\\x %NOPE%')") == [
        "C:\\Users\\u", "True", "False", "C:\\Windows", "C:\\Windows\\x %NOPE%"]
    args = {"_raw_params": "$env:LAB_VAR; Get-Content Env:\\LAB_VAR", "_ansible_check_mode": False}
    invocation = Invocation(kind="module", name="win_shell", fqcn="ansible.windows.win_shell", args=args,
                            actions=["module_wrapper.ps1"], params={"Environment": {"LAB_VAR": "from the task"}})
    stdout, _, _ = host.execute(invocation)
    assert json.loads(stdout)["stdout"] == "from the task\r\nfrom the task\r\n"


def test_adding_a_cmdlet_is_one_function(host: Any) -> None:
    @commands.cmdlet("Get-LabThing", commands.Param("Name", position=0), pipeline=True)
    def get_lab_thing(call: commands.Call) -> list[Any]:
        return [f"thing {call.get('Name')}"]

    try:
        assert out(host, "Get-LabThing x") == ["thing x"]
        with pytest.raises(NotSimulated, match="the parameter -Size of Get-LabThing"):
            run(host, "Get-LabThing -Size 1")
    finally:
        del commands.REGISTRY["get-labthing"]


LEGACY_MODULE = """#!powershell
#AnsibleRequires -PowerShell Ansible.ModuleUtils.Legacy
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0
$params = Parse-Args $args -supports_check_mode $false
$path = Get-AnsibleParam -obj $params 'path' -type 'str' -failifempty $true
$result = @{ changed = $false }
$acl = Get-Acl -LiteralPath $path
$result.inherited = $acl.AreAccessRulesProtected -eq $false
$result.count = @($acl.Access).Count
Exit-Json $result
"""


def library_module(host: Any, source: str, check: bool = False, **args: Any) -> dict[str, Any]:
    invocation = Invocation(kind="module", name="probe", fqcn="ansible.legacy.probe", source=source,
                            args=dict(args, _ansible_check_mode=check), actions=["module_wrapper.ps1"])
    stdout, _, _ = host.execute(invocation)
    return json.loads(stdout)


def test_role_library_legacy_modules_run_their_own_powershell(host: Any) -> None:
    # a `library/*.ps1` legacy module (roles/win_acl_inheritance/library/test_get_acl.ps1 is one) runs its real
    # source; Parse-Args / Get-AnsibleParam / Exit-Json follow Ansible.ModuleUtils.Legacy.psm1
    assert library_module(host, LEGACY_MODULE, path=DATA) == {"changed": False, "inherited": True, "count": 2}
    missing = library_module(host, LEGACY_MODULE)
    assert missing == {"changed": False, "failed": True, "msg": "Get-AnsibleParam: Missing required argument: path"}
    skipped = library_module(host, LEGACY_MODULE, check=True, path=DATA)
    assert skipped == {"skipped": True, "changed": False, "msg": "remote module does not support check mode"}
    crashed = library_module(host, LEGACY_MODULE, path="C:\\Nope")
    assert crashed["msg"] == ("Unhandled exception while executing module: Cannot find path 'C:\\Nope' because "
                              "it does not exist.")
    basic = library_module(host, "#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n$x = 1\n")
    assert basic["msg"] == "lab.windows simulator: module ansible.legacy.probe is not simulated (Ansible.Basic)"

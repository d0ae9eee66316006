"""win_service / win_service_info behave as win_service.ps1 and win_service_info.ps1 do on Windows (issue 10).

Each test states the real behaviour and the line of the module (or PowerShell / SCManager source) it follows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lab.windows import service_ops
from lab.windows.commands import run_script
from lab.windows.payload import Invocation

from .helpers import Lab, call, host_for, task_results

NOT_TRANSLATED = (
    'Unhandled exception while executing module: Exception calling "Translate" with "1" argument(s): '
    '"Some or all identity references could not be translated."'
)


def _host(**spec: Any):
    return host_for({"platform": "windows", "hostname": "VM1", **spec})


# -- item 2: accounts compare by SID ----------------------------------------------------------------------------
def test_account_spellings_compare_by_sid_not_by_name() -> None:
    # win_service.ps1 line 309-310: the wanted account is ConvertTo-SecurityIdentifier'd and compared by SID
    # (Set-ServiceAccount); `LocalSystem` is the module's own special case (line 105), `.\` means COMPUTERNAME.
    host = _host(accounts=[{"name": "svc_backup"}])
    for spelling in ("NT AUTHORITY\\NetworkService", "NETWORK SERVICE", "nt authority\\network service", "S-1-5-20"):
        result = call(host, "win_service", name="CryptSvc", username=spelling)
        assert result["changed"] is False, spelling
        assert result["username"] == "NT AUTHORITY\\NETWORK SERVICE"
    for spelling in ("LocalSystem", "localsystem", "SYSTEM", "NT AUTHORITY\\SYSTEM", "S-1-5-18"):
        result = call(host, "win_service", name="VSS", username=spelling)
        assert result["changed"] is False and result["username"] == "LocalSystem", spelling
    changed = call(host, "win_service", name="BITS", username=".\\svc_backup")
    assert changed["changed"] is True and changed["username"] == "VM1\\svc_backup"
    assert host.state["services"]["BITS"]["username"] == "VM1\\svc_backup"  # the SCM keeps the translated name
    for spelling in ("VM1\\svc_backup", "svc_backup", ".\\SVC_BACKUP", "vm1\\Svc_Backup"):
        assert call(host, "win_service", name="BITS", username=spelling)["changed"] is False, spelling


def test_unknown_account_fails_like_ntaccount_translate() -> None:
    # win_service.ps1 line 309: NTAccount.Translate throws IdentityNotMappedException, which the module does not
    # catch: module_wrapper.ps1 reports it as an unhandled exception; nothing was changed before it.
    host = _host()
    for name in ("nobody", "CONTOSO\\svc_sql", ".\\nobody", "NT AUTHORITY\\Everyone"):
        result = call(host, "win_service", name="VSS", username=name, start_mode="disabled")
        assert result["failed"] is True and result["msg"] == NOT_TRANSLATED, name
        assert "exists" not in result
    assert host.state["services"]["VSS"]["start_mode"] == "manual"
    # a SID with no account: ConvertTo-SecurityIdentifier accepts it, the diff's Translate (line 310) fails
    assert call(host, "win_service", name="VSS", username="S-1-5-21-1-2-3-4242")["msg"] == NOT_TRANSLATED


def test_leaving_system_clears_desktop_interact_first() -> None:
    # win_service.ps1 Set-ServiceAccount: a change away from SYSTEM calls Set-ServiceType -DesktopInteract
    # $false, and the account change is applied before Set-ServiceType fails on desktop_interact (line 917).
    host = _host()
    call(host, "win_service", name="VSS", desktop_interact=True)
    assert host.state["services"]["VSS"]["desktop_interact"] is True
    failed = call(host, "win_service", name="VSS", username="NT AUTHORITY\\LocalService", desktop_interact=True)
    assert failed["msg"] == "Can only set 'desktop_interact' to true when 'username' equals 'SYSTEM'"
    assert host.state["services"]["VSS"]["username"] == "NT AUTHORITY\\LOCAL SERVICE"
    assert host.state["services"]["VSS"]["desktop_interact"] is False


# -- item 4: restarted with force_dependent_services ------------------------------------------------------------
def test_forced_restart_starts_again_the_dependents_it_stopped() -> None:
    # win_service.ps1 line 851: Restart-Service -Force. RestartServiceCommand (PowerShell Service.cs) starts
    # again every service DoStopService returned: the running dependents and the service. Their writers come
    # back to vssadmin. Stop-Service -Force (line 846) and `net stop /y` leave the dependents stopped.
    spec = {
        "services": {
            "SQLWriter": {"state": "running", "dependencies": ["CryptSvc"]},
            "SQLAgent": {"state": "running", "dependencies": ["SQLWriter"]},
            "Idle": {"state": "stopped", "dependencies": ["CryptSvc"]},
        },
        "vss_writers": [
            {"name": "System Writer", "service": "CryptSvc"},
            {"name": "SqlServerWriter", "service": "SQLWriter", "state": 8},
        ],
    }
    host = _host(**spec)
    refused = call(host, "win_service", name="CryptSvc", state="restarted")
    assert refused["msg"].startswith("Unhandled exception while executing module: Cannot stop service "
                                     "'Cryptographic Services (CryptSvc)' because it has dependent services.")
    result = call(host, "win_service", name="CryptSvc", state="restarted", force_dependent_services=True)
    assert result["changed"] is True and sorted(result["depended_by"]) == ["Idle", "SQLAgent", "SQLWriter"]
    services = host.state["services"]
    assert [services[n]["state"] for n in ("CryptSvc", "SQLWriter", "SQLAgent", "Idle")] == [
        "running", "running", "running", "stopped"]
    assert host.state["service_restarts"] == ["CryptSvc", "SQLWriter", "SQLAgent"]
    listing = run_script(host, "vssadmin list writers", shell="cmd").stdout
    assert "'SqlServerWriter'" in listing and "[1] Stable" in listing and "[8]" not in listing
    call(host, "win_service", name="CryptSvc", state="stopped", force_dependent_services=True)
    assert [services[n]["state"] for n in ("CryptSvc", "SQLWriter", "SQLAgent")] == ["stopped"] * 3
    assert "'SqlServerWriter'" not in run_script(host, "vssadmin list writers", shell="cmd").stdout


def test_a_paused_dependent_blocks_an_unforced_stop() -> None:
    # PowerShell DoStopService: without -Force any dependent that is not Stopped is an error (paused too).
    host = _host(services={"Child": {"state": "paused", "dependencies": ["BITS"], "can_pause_and_continue": True}})
    assert "because it has dependent services" in call(host, "win_service", name="BITS", state="stopped")["msg"]
    assert host.state["services"]["BITS"]["state"] == "running"


# -- item 5: case-insensitive domain accounts, the returned username ------------------------------------------
def test_domain_account_case_and_returned_username() -> None:
    # win_service.ps1 line 1085-1095: the result's username is the diff's after.username: the account translated
    # from its SID when `username` is given, the raw SCM start name otherwise; SYSTEM is returned as LocalSystem.
    host = _host(accounts=[{"name": "CONTOSO\\svc_sql"}],
                 services={"SQLWriter": {"state": "running", "username": "contoso\\SVC_SQL"}})
    raw = call(host, "win_service", name="SQLWriter")
    assert raw["changed"] is False and raw["username"] == "contoso\\SVC_SQL"
    same = call(host, "win_service", name="SQLWriter", username="CONTOSO\\svc_sql")
    assert same["changed"] is False and same["username"] == "CONTOSO\\svc_sql"
    assert same["diff"]["before"]["username"] == "contoso\\SVC_SQL"
    assert call(host, "win_service_info", name="SQLWriter")["services"][0]["username"] == "contoso\\SVC_SQL"
    to_system = call(host, "win_service", name="SQLWriter", username="SYSTEM")
    assert to_system["changed"] is True and to_system["username"] == "LocalSystem"
    assert to_system["diff"]["after"]["username"] == "NT AUTHORITY\\SYSTEM"
    assert host.state["services"]["SQLWriter"]["username"] == "LocalSystem"
    assert call(host, "win_service_info", name="SQLWriter")["services"][0]["username"] == "NT AUTHORITY\\SYSTEM"


def test_a_bare_local_user_comes_back_translated_like_the_read_back() -> None:
    # win_service.ps1 line 310: the diff's (and so the result's) username is
    # $desiredSid.Translate([NTAccount]).Value: a bare local name comes back as HOST\name, which is what the upstream
    # test's read-back ([NTAccount]'user' -> SecurityIdentifier -> NTAccount) prints.
    host = _host(user="labadmin")  # the WinRM user, a local account of the host
    read_back = "$user = [System.Security.Principal.NTAccount]'labadmin'\n" \
                "$user.Translate([System.Security.Principal.SecurityIdentifier]).Translate(" \
                "[System.Security.Principal.NTAccount]).Value"
    expected = run_script(host, read_back, shell="powershell").stdout.strip()
    result = call(host, "win_service", name="BITS", username="labadmin", password="p")
    assert result["changed"] is True and result["username"] == expected == "VM1\\labadmin"


# -- item 6: name only on a missing service ----------------------------------------------------------------
def test_name_only_on_a_missing_service_reports_it_absent() -> None:
    # win_service.ps1 line 1068: nothing to detect -> after = before = "" -> exists false, no failure.
    host = _host()
    result = call(host, "win_service", name="iamnotaservice")
    assert result.get("failed") is not True and result["changed"] is False and result["exists"] is False
    assert "name" not in result
    assert call(host, "win_service", name="iamnotaservice", state="absent")["exists"] is False
    assert call(host, "win_service", name="iamnotaservice", state="started")["msg"] == (
        "Service 'iamnotaservice' is not installed, need to set 'path' to create a new service"
    )


# -- item 7: win_service_info name matching ------------------------------------------------------------------
def test_info_wildcards_match_service_names_only() -> None:
    # win_service_info.ps1 line 23: an exact name first (Where-Object $_.Name -eq $name: `[*abc]` is no
    # wildcard there), then line 29 Get-Service -Name: wildcards on the service name only
    # (MatchingServicesByServiceName); a plain name is opened as ServiceController(name): service or display
    # name. Get-Service without -Name lists no drivers.
    host = _host(services={"svc [*abc]": {"display_name": "Alpha Display"}, "svc2": {}, "other": {}})
    exact = call(host, "win_service_info", name="svc [*abc]")
    assert [s["name"] for s in exact["services"]] == ["svc [*abc]"]
    assert [s["name"] for s in call(host, "win_service_info", name="SVC*")["services"]] == ["svc [*abc]", "svc2"]
    assert call(host, "win_service_info", name="Alpha*")["exists"] is False  # display names: no wildcards
    assert [s["name"] for s in call(host, "win_service_info", name="alpha display")["services"]] == ["svc [*abc]"]
    assert [s["name"] for s in call(host, "win_service_info", name="svc[0-9]")["services"]] == ["svc2"]
    everything = [s["name"] for s in call(host, "win_service_info")["services"]]
    assert "cdrom" not in everything and everything == sorted(everything, key=str.lower)
    assert call(host, "win_service_info", name="cdrom")["services"][0]["service_type"] == "kernel_driver"


# -- the other win_service options -------------------------------------------------------------------------
def test_failure_actions_follow_the_scm_rules() -> None:
    # win_service.ps1 Set-ServiceFailureAction (line ~500-600) + SCManager.cs FailureActions setter: null keeps,
    # '' deletes (line 577: PowerShell hands $null to the string field as ''), an empty action list deletes the
    # actions and the reset period; the diff's failure_actions_on_non_crash_failure is null when the option is
    # given (line 512 reads the misspelt $ActionOnCrashFailure).
    host = _host()
    args = {"failure_actions": [{"type": "restart"}, {"type": "run_command", "delay": 1000}],
            "failure_actions_on_non_crash_failure": True, "failure_command": "cmd", "failure_reboot_msg": "msg",
            "failure_reset_period_sec": "0xFFFFFFFF"}
    check = call(host, "win_service", check=True, name="BITS", **args)
    assert check["changed"] is True and host.state["services"]["BITS"]["failure_actions"] == []
    first = call(host, "win_service", name="BITS", **args)
    assert first["changed"] is True and first["diff"]["after"]["failure_actions_on_non_crash_failure"] is None
    info = call(host, "win_service_info", name="BITS")["services"][0]
    assert info["failure_actions"] == [{"type": "restart", "delay_ms": 0}, {"type": "run_command", "delay_ms": 1000}]
    assert (info["failure_command"], info["failure_reboot_msg"], info["failure_reset_period_sec"]) == (
        "cmd", "msg", 4294967295)
    assert call(host, "win_service", name="BITS", **args)["changed"] is False
    call(host, "win_service", name="BITS", failure_command="new")
    info = call(host, "win_service_info", name="BITS")["services"][0]
    assert info["failure_command"] == "new" and len(info["failure_actions"]) == 2
    call(host, "win_service", name="BITS", failure_actions=[], failure_reboot_msg="")
    info = call(host, "win_service_info", name="BITS")["services"][0]
    assert (info["failure_actions"], info["failure_reset_period_sec"], info["failure_reboot_msg"]) == ([], 0, None)
    # SCManager.cs: a reset period alone needs existing actions
    assert call(host, "win_service", name="BITS", failure_reset_period_sec=5)["msg"].startswith(
        'Unhandled exception while executing module: Exception setting "FailureActions"')


def test_plain_scm_settings_with_check_mode_and_idempotence() -> None:
    # win_service.ps1 Set-ServiceErrorControl, -LoadOrderGroup, -PreShutdownTimeout, -RequiredPrivilege,
    # -SidInfo, -StartMode (delayed), -ServiceType: changed in check mode, nothing written, idempotent after.
    host = _host()
    settings = {"error_control": "ignore", "load_order_group": "group", "pre_shutdown_timeout_ms": 4294967295,
                "required_privileges": ["SeBackupPrivilege", "SeRestorePrivilege"], "sid_info": "restricted",
                "start_mode": "delayed", "service_type": "win32_share_process", "description": "d"}
    before = json.dumps(host.state["services"]["BITS"], sort_keys=True)
    for key, value in settings.items():
        assert call(host, "win_service", check=True, name="BITS", **{key: value})["changed"] is True, key
    assert json.dumps(host.state["services"]["BITS"], sort_keys=True) == before
    for key, value in settings.items():
        assert call(host, "win_service", name="BITS", **{key: value})["changed"] is True, key
        assert call(host, "win_service", name="BITS", **{key: value})["changed"] is False, key
    info = call(host, "win_service_info", name="BITS")["services"][0]
    assert {k: info[k] for k in settings} == settings and info["start_mode"] == "delayed"
    # win_service.ps1 line 422: an empty description removes it (null), idempotently
    assert call(host, "win_service", name="BITS", description="")["description"] == ""
    assert call(host, "win_service_info", name="BITS")["services"][0]["description"] is None
    assert call(host, "win_service", name="BITS", description="")["changed"] is False


def test_desktop_interact_only_for_system_and_cleared_by_default() -> None:
    # win_service.ps1 Set-ServiceType (line ~900-930): desktop_interact needs SYSTEM (line 917); when not asked
    # for (default false) the interactive flag is removed.
    host = _host()
    assert call(host, "win_service", name="VSS", desktop_interact=True)["desktop_interact"] is True
    assert call(host, "win_service", name="VSS", desktop_interact=True)["changed"] is False
    assert call(host, "win_service", name="VSS", description="x")["desktop_interact"] is False
    refused = call(host, "win_service", name="CryptSvc", desktop_interact=True)
    assert refused["msg"] == "Can only set 'desktop_interact' to true when 'username' equals 'SYSTEM'"


def test_pause_needs_a_running_service_that_accepts_it() -> None:
    # win_service.ps1 line 856-857: ControlsAccepted must hold PauseContinue, which a stopped service never
    # reports (SERVICE_STATUS). can_pause_and_continue reads the same flag after Refresh().
    host = _host(services={"Pausable": {"state": "stopped", "start_mode": "manual",
                                        "can_pause_and_continue": True}})
    stopped = call(host, "win_service", name="Pausable", state="paused")
    assert stopped["msg"] == "failed to pause service Pausable: The service does not support pausing"
    assert call(host, "win_service", name="Pausable")["can_pause_and_continue"] is False
    assert call(host, "win_service", name="Pausable", state="started")["can_pause_and_continue"] is True
    assert call(host, "win_service", name="Pausable", state="paused")["state"] == "paused"
    assert call(host, "win_service_info", name="Pausable")["services"][0]["state"] == "paused"
    resumed = call(host, "win_service", name="Pausable", state="started")
    assert resumed["changed"] is True and host.state["services"]["Pausable"]["state"] == "running"
    assert call(host, "win_service", name="VSS", state="paused")["msg"].endswith("does not support pausing")


def test_created_service_defaults_and_check_mode_creation() -> None:
    # win_service.ps1 New-Service (line ~1030): auto start, LocalSystem, never started (win32_exit_code 1077);
    # in check mode nothing exists, the [String] parameters of the Set-* functions come back as ''.
    host = _host()
    check = call(host, "win_service", check=True, name="New", path="C:\\x.exe")
    assert check["changed"] is True and check["exists"] is True and "New" not in host.state["services"]
    assert (check["start_mode"], check["state"], check["username"], check["can_pause_and_continue"]) == (
        "", "", None, None)
    created = call(host, "win_service", name="New", path="C:\\x.exe")
    assert (created["start_mode"], created["state"], created["username"]) == ("auto", "stopped", "LocalSystem")
    info = call(host, "win_service_info", name="New")["services"][0]
    assert (info["win32_exit_code"], info["description"], info["controls_accepted"]) == (1077, None, [])


def _call_with_environment(host: Any, environment: dict[str, str], **args: Any) -> dict[str, Any]:
    """One module call carrying a task `environment:` the way ansible-core sends it (module_wrapper params)."""
    invocation = Invocation(
        kind="module", name="win_service", fqcn="ansible.windows.win_service",
        args=dict(args, _ansible_check_mode=False, _ansible_diff=False, _ansible_no_log=False),
        params={"Environment": environment}, actions=["module_wrapper.ps1"],
    )
    stdout, _, _ = host.execute(invocation)
    return json.loads(stdout)


def test_path_expands_the_task_environment() -> None:
    # win_service.ps1 line 84: [Environment]::ExpandEnvironmentVariables($path), in a process whose variables
    # module_wrapper.ps1 set from the task's environment; unknown variables stay as written.
    host = _host()
    result = _call_with_environment(host, {"TEST_SERVICE_PATH": "C:\\temp"}, name="BITS",
                                    path='"%TEST_SERVICE_PATH%\\test.exe"')
    assert result["changed"] is True and result["path"] == '"C:\\temp\\test.exe"'
    again = _call_with_environment(host, {"TEST_SERVICE_PATH": "C:\\temp"}, name="BITS",
                                   path='"%TEST_SERVICE_PATH%\\test.exe"')
    assert again["changed"] is False
    assert call(host, "win_service", name="BITS", path="%SystemRoot%\\%NOPE%.exe")["path"] == (
        "C:\\Windows\\%NOPE%.exe")


def test_drivers_keep_no_account() -> None:
    # win_service.ps1 Get-ServiceDiff: no username/password for kernel and file system drivers, and
    # Set-ServiceAccount is skipped for them (issue ansible.windows#115).
    host = _host()
    result = call(host, "win_service", name="cdrom", display_name="Renamed")
    assert result["changed"] is True and "username" not in result["diff"]["before"]
    assert service_ops.account_value(host.state["services"]["cdrom"]) is None


def test_sc_triggerinfo_is_read_back_by_win_service_info() -> None:
    # sc.exe triggerinfo replaces the triggers (ChangeServiceConfig2 SERVICE_CONFIG_TRIGGER_INFO);
    # win_service_info.ps1 reports binary data as base64, multi-strings as lists.
    host = _host()
    line = ("sc.exe triggerinfo BITS start/namedpipe/abc "
            "start/custom/0e0682e2-9951-4e6d-a36a-a0047e616f28/11223344 start/portopen/1234;tcp;img;svc")
    assert run_script(host, line, shell="cmd").stdout == "[SC] ChangeServiceConfig2 SUCCESS\r\n"
    triggers = call(host, "win_service_info", name="BITS")["services"][0]["triggers"]
    assert [(t["type"], t["sub_type"]) for t in triggers] == [
        ("network_endpoint", "named_pipe_event"), ("custom", "custom"), ("firewall_port_event", "firewall_port_open")]
    assert triggers[1]["data_items"] == [{"type": "binary", "data": "ESIzRA=="}]
    assert triggers[2]["data_items"] == [{"type": "string", "data": ["1234", "tcp", "img", "svc"]}]
    assert run_script(host, "sc.exe triggerinfo Nope delete", shell="cmd").rc == 1060
    assert run_script(host, "sc.exe triggerinfo BITS start/bogus", shell="cmd").rc == 87


def test_get_service_lists_services_not_drivers_and_opens_by_any_name() -> None:
    # ServiceController.GetServices (Get-Service without -Name) lists Win32 services only, sorted by name; -Name with
    # wildcards matches service names, a plain name opens a service, a driver or a display name; StartType of a
    # driver is Boot / System (ServiceStartMode); `sc` in PowerShell is Set-Content, `sc.exe` the executable.
    host = _host()
    names = run_script(host, "Get-Service | ForEach-Object Name", shell="powershell").objects
    assert "cdrom" not in names and names == sorted(names, key=str.lower)
    cdrom = run_script(host, "Get-Service cdrom | ForEach-Object { [string]$_.StartType }", shell="powershell")
    assert cdrom.objects == ["System"]
    assert run_script(host, "Get-Service -Name 'Background Intelligent Transfer Service', Win* | ForEach-Object Name",
                      shell="powershell").objects == ["BITS", "WinDefend", "WindowsAzureGuestAgent", "Winmgmt",
                                                      "WinRM"]
    assert run_script(host, "Get-Service Nope*", shell="powershell").stderr == ""
    alias = run_script(host, "sc triggerinfo BITS delete", shell="powershell")
    assert "A positional parameter cannot be found that accepts argument 'delete'." in alias.stderr
    assert run_script(host, "sc.exe triggerinfo BITS delete; $LASTEXITCODE", shell="powershell").objects == [
        "[SC] ChangeServiceConfig2 SUCCESS", 0]


@pytest.mark.lab
def test_playbook_environment_and_forced_restart_reach_the_lab(make_lab: Any) -> None:
    # The task environment travels in module_wrapper's Environment parameter (ansible-core module_manifest.py);
    # a forced restart heals the writer of a dependent service (vssadmin lists it again).
    lab: Lab = make_lab({"vm1": {
        "platform": "windows",
        "services": {"SQLWriter": {"state": "running", "dependencies": ["VSS"]}},
        "vss_writers": [{"name": "SqlServerWriter", "service": "SQLWriter", "state": 8}],
    }})
    document = lab.playbook("""
- hosts: vm1
  gather_facts: false
  tasks:
    - name: path from the environment
      ansible.windows.win_service:
        name: BITS
        path: '"%SVC_DIR%\\bits.exe"'
      environment:
        SVC_DIR: D:\\svc
    - name: restart VSS and its dependents
      ansible.windows.win_service:
        name: VSS
        state: restarted
        force_dependent_services: true
    - name: writers
      ansible.windows.win_command: vssadmin list writers
""")
    results = task_results(document, "vm1")
    assert results["path from the environment"]["path"] == '"D:\\svc\\bits.exe"'
    assert "'SqlServerWriter'" in results["writers"]["stdout"]
    assert lab.state("vm1")["service_restarts"] == ["VSS", "SQLWriter"]

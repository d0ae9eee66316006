"""Module and command semantics in-process (no Ansible start-up): fast checks of the simulated Windows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.windows import argspec
from lab.windows.commands import NotSimulated, run_script
from lab.windows.payload import PayloadError, decode

from .helpers import call, host_for, scenario


def test_defaults_aliases_and_choices_come_from_the_collection_documentation() -> None:
    params = argspec.validate("win_regedit", {"key": "HKLM:\\X", "entry": "v"})
    assert params["path"] == "HKLM:\\X" and params["name"] == "v"
    assert params["type"] == "string" and params["state"] == "present" and params["delete_key"] is True
    assert argspec.validate("win_stat", {"dest": "C:\\x"})["checksum_algorithm"] == "sha1"
    with pytest.raises(argspec.ArgumentError, match="missing required arguments: name"):
        argspec.validate("win_service", {"state": "started"})
    with pytest.raises(argspec.ArgumentError, match="value of type must be one of"):
        argspec.validate("win_regedit", {"path": "HKLM:\\X", "type": "float"})
    assert (
        argspec.validate(
            "win_acl",
            {
                "path": "C:\\",
                "user": "u",
                "rights": "Read",
                "type": "allow",
                "inherit": "ContainerInherit, ObjectInherit",
            },
        )["inherit"]
        == "ContainerInherit, ObjectInherit"
    )


def test_win_service_restart_records_and_heals_writers_check_mode_does_not() -> None:
    host = host_for(scenario("vss-default.yml")["vm1"])
    result = call(host, "win_service", check=True, name="SQLWriter", state="restarted")
    assert result["changed"] is True and host.state["service_restarts"] == []
    assert [w["state"] for w in host.state["vss_writers"] if w["name"] == "SqlServerWriter"] == [7]
    result = call(host, "win_service", name="SQLWriter", state="restarted")
    assert result["changed"] is True and result["state"] == "running" and result["username"] == "LocalSystem"
    assert host.state["service_restarts"] == ["SQLWriter"]
    assert [w["state"] for w in host.state["vss_writers"] if w["name"] == "SqlServerWriter"] == [1]
    assert call(host, "win_service", name="SQLWriter", state="started")["changed"] is False


def test_win_service_account_start_mode_and_disabled_start() -> None:
    host = host_for()
    result = call(host, "win_service", name="MSDTC", username="NT AUTHORITY\\NetworkService")
    assert result["changed"] is False and result["username"] == "NT AUTHORITY\\NETWORK SERVICE"
    result = call(host, "win_service", name="MSDTC", username="LocalSystem", start_mode="manual")
    assert result["changed"] is True and result["username"] == "LocalSystem"
    assert (
        result["diff"]["before"]["start_mode"] == "auto" and result["diff"]["after"]["start_mode"] == "manual"
    )
    call(host, "win_service", name="BITS", start_mode="disabled", state="stopped")
    failed = call(host, "win_service", name="BITS", state="started")
    assert failed["failed"] is True and "cannot be started" in failed["msg"]
    info = call(host, "win_service_info", name="msdtc")
    assert info["services"][0]["username"] == "NT AUTHORITY\\SYSTEM"
    assert call(host, "win_service", name="VSS", state="absent", check=True)["changed"] is True
    assert "VSS" in host.state["services"]


def test_stopping_vss_fails_its_writers_until_restarted() -> None:
    host = host_for()
    run_script(host, "net stop VSS", shell="cmd")
    assert {w["state"] for w in host.state["vss_writers"] if w["service"] == "VSS"} == {7}
    assert "[7] Failed" in run_script(host, "vssadmin list writers", shell="cmd").stdout
    again = run_script(host, "net stop VSS", shell="cmd")
    assert again.rc == 2 and "is not started" in again.stderr
    run_script(host, 'net start "Volume Shadow Copy"', shell="cmd")
    assert {w["state"] for w in host.state["vss_writers"]} == {1}
    assert host.state["service_restarts"] == ["VSS"]
    assert run_script(host, "net start VSS", shell="cmd").rc == 2
    assert run_script(host, "net stop NoSuch", shell="cmd").rc == 2


def test_stopped_writer_service_hides_its_writer() -> None:
    host = host_for(scenario("vss-default.yml")["vm1"])
    run_script(host, "net stop SQLWriter", shell="cmd")
    assert "SqlServerWriter" not in run_script(host, "vssadmin list writers", shell="cmd").stdout


def test_french_vssadmin_and_raw_override() -> None:
    host = host_for(scenario("vss-french.yml")["vm1"])
    text = run_script(host, "vssadmin list writers", shell="cmd").stdout
    assert text.startswith("vssadmin 1.1 - Outil ligne de commande")
    assert "   ID de l'enregistreur : {a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}" in text
    assert "   Dernière erreur : Délai d'attente dépassé" in text
    custom = host_for(
        {"command_outputs": {"vssadmin list writers": "Writer name: 'X'\r\n   State: [5] Waiting"}}
    )
    assert run_script(custom, "vssadmin list writers", shell="cmd").stdout.startswith("Writer name: 'X'")


def test_msdtc_reinstall_resets_configuration_and_msiexec() -> None:
    host = host_for(
        {"msdtc_config": {"network_dtc_access": True}, "services": {"MSDTC": {"username": "LocalSystem"}}}
    )
    run_script(host, "msdtc -uninstall", shell="cmd")
    assert "MSDTC" not in host.state["services"] and host.state["msdtc"]["installed"] is False
    run_script(host, "msdtc -install", shell="cmd")
    assert host.state["services"]["MSDTC"]["username"] == "NT AUTHORITY\\NETWORK SERVICE"
    assert host.state["msdtc"]["config"]["network_dtc_access"] is False
    run_script(host, "MSIEXEC /UNREGISTER", shell="cmd")
    assert host.state["msi_registered"] is False
    run_script(host, "msiexec /REGISTER", shell="cmd")
    assert host.state["msi_registered"] is True


def test_reg_add_and_query_and_win_reg_stat() -> None:
    host = host_for()
    out = run_script(
        host,
        'reg add "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys" /v SnapshotMethod '
        "/t REG_SZ /d firstHostThenGuest /f",
        shell="cmd",
    )
    assert out.stdout == "The operation completed successfully.\r\n"
    stat = call(
        host,
        "win_reg_stat",
        path="HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys",
        name="snapshotmethod",
    )
    assert stat["exists"] is True and stat["type"] == "REG_SZ" and stat["value"] == "firstHostThenGuest"
    assert (
        run_script(
            host,
            "reg add HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys /v SnapshotMethod "
            "/t REG_SZ /d onlyGuest",
            shell="cmd",
        ).rc
        == 1
    )
    query = run_script(
        host, "reg query HKLM\\SYSTEM\\CurrentControlSet\\Services\\Msiserver /v Start", shell="cmd"
    )
    assert "    Start    REG_DWORD    0x3" in query.stdout
    assert call(host, "win_reg_stat", path="HKLM\\SOFTWARE")["failed"] is True  # no colon: invalid path
    key = call(host, "win_reg_stat", path="HKLM:\\SOFTWARE\\Microsoft")
    assert "BcdrAgentPersistentKeys" in key["sub_keys"]


def test_win_regedit_check_diff_apply_idempotent_absent() -> None:
    host = host_for()
    args = {
        "path": "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
        "name": "SchUseStrongCrypto",
        "data": 1,
        "type": "dword",
    }
    check = call(host, "win_regedit", check=True, **args)
    assert check["changed"] is True
    assert check["diff"]["after"][args["path"]]["SchUseStrongCrypto"] == {
        "type": "DWord",
        "value": "0x00000001",
    }
    assert host.state["registry"][args["path"]] == {}
    assert call(host, "win_regedit", **args)["changed"] is True
    assert call(host, "win_regedit", **args)["changed"] is False
    changed = call(host, "win_regedit", **{**args, "data": "True", "type": "string"})
    assert changed["data_type_changed"] is True and changed["data_changed"] is True
    assert call(host, "win_regedit", path=args["path"], name="SchUseStrongCrypto", state="absent")["changed"]
    assert call(host, "win_regedit", path="HKLM:\\SOFTWARE\\Nope", state="absent")["changed"] is False


def test_icacls_acl_and_inheritance() -> None:
    host = host_for()
    path = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
    text = run_script(host, f"icacls {path}", shell="cmd").stdout
    assert text.splitlines()[0] == f"{path} Everyone:(R,W)"
    assert "BUILTIN\\Administrators:(F)" in text and "Successfully processed 1 files" in text
    rule = {"path": path, "user": "Everyone", "rights": "Read,Write", "type": "allow", "inherit": "None"}
    assert call(host, "win_acl", **rule)["msg"] == "the specified rule already exists"
    assert call(host, "win_acl", **{**rule, "state": "absent"})["changed"] is True
    assert (
        call(host, "win_acl", path="C:\\Nope", user="Everyone", rights="Read", type="allow")["failed"] is True
    )
    assert call(host, "win_acl_inheritance", path=path, state="absent")["changed"] is False
    assert call(host, "win_acl_inheritance", path=path, state="present")["changed"] is True


def test_defender_events_bitlocker_agent_version_dhcp() -> None:
    host = host_for(scenario("vss-default.yml")["vm1"])
    ps = "powershell"
    run_script(host, "Add-MpPreference -ExclusionPath 'C:\\A','C:\\B'", shell=ps)
    run_script(host, 'Add-MpPreference -ExclusionPath "C:\\a"', shell=ps)
    assert host.state["defender"]["exclusion_paths"] == ["C:\\A", "C:\\B"]
    assert run_script(
        host, "Get-MpPreference | Select-Object -ExpandProperty ExclusionPath", shell=ps
    ).objects == ["C:\\A", "C:\\B"]
    events = run_script(
        host,
        "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='VSS'} "
        "-MaxEvents 10 | ConvertTo-Json",
        shell=ps,
    )
    assert [e["Id"] for e in json.loads(events.stdout)] == [8224, 12290]
    bare = run_script(
        host,
        "Get-WinEvent -FilterHashtable @{LogName='Application'; Id=12290}"
        " | Where-Object Message -like '*timed out*'"
        " | Select-Object -First 1 | Select-Object -ExpandProperty Id",
        shell=ps,
    )
    assert bare.objects == [12290] and bare.stdout == "12290\r\n"
    none = run_script(
        host, "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='Nope'}", shell=ps
    )
    assert none.rc == 1 and "No events were found" in none.stderr
    bitlocker = run_script(host, "Get-BitLockerVolume | Select-Object MountPoint, ProtectionStatus", shell=ps)
    assert bitlocker.objects == [{"MountPoint": "C:", "ProtectionStatus": "Off"}]
    version = run_script(
        host, "(Get-Item 'C:\\WindowsAzure\\Packages\\WaAppAgent.exe').VersionInfo.FileVersion", shell=ps
    )
    assert version.stdout == "2.7.41491.1102\r\n"
    dhcp = run_script(
        host, "Get-NetIPInterface -AddressFamily IPv4 | Select-Object InterfaceAlias, Dhcp", shell=ps
    )
    assert dhcp.objects == [{"InterfaceAlias": "Ethernet", "Dhcp": "Enabled"}]
    run_script(host, "Set-NetIPInterface -InterfaceAlias Ethernet -Dhcp Disabled", shell=ps)
    assert host.state["network_adapters"][0]["dhcp_enabled"] is False
    wrapped = run_script(
        host, 'powershell.exe -NoProfile -Command "Get-BitLockerVolume | ConvertTo-Json"', shell="cmd"
    )
    assert json.loads(wrapped.stdout)["MountPoint"] == "C:"
    with pytest.raises(NotSimulated, match="Get-Process"):
        run_script(host, "Get-Process", shell=ps)
    with pytest.raises(NotSimulated, match="Get-BitLockerVolume"):
        run_script(host, "Get-BitLockerVolume", shell="cmd")  # cmdlets need PowerShell


def test_win_powershell_check_mode_and_output() -> None:
    host = host_for()
    skipped = call(host, "win_powershell", check=True, script="Add-MpPreference -ExclusionPath 'C:\\X'")
    assert skipped["changed"] is True and skipped["msg"] == "skipped, running in check mode"
    assert host.state["defender"]["exclusion_paths"] == []
    applied = call(
        host,
        "win_powershell",
        script="Add-MpPreference -ExclusionPath 'C:\\X'\n(Get-MpPreference).ExclusionPath",
    )
    assert applied["output"] == ["C:\\X"] and applied["changed"] is True
    quiet = call(host, "win_powershell", script="Get-BitLockerVolume\n$Ansible.Changed = $false")
    assert quiet["changed"] is False and quiet["output"][0]["MountPoint"] == "C:"
    assert call(host, "win_command", check=True, _raw_params="vssadmin list writers")["skipped"] is True
    assert call(host, "win_shell", check=True, _raw_params="Get-BitLockerVolume")["skipped"] is True


def test_win_file_stat_certificates() -> None:
    host = host_for(
        {"certificates": [{"thumbprint": "aa" * 20, "issuer": "CN=Windows Azure CRP Certificate Generator"}]}
    )
    assert (
        call(host, "win_file", path="C:\\Temp\\x.txt", state="file")["msg"]
        == "path C:\\Temp\\x.txt will not be created"
    )
    assert call(host, "win_file", path="C:\\Temp\\d", state="directory")["changed"] is True
    assert call(host, "win_stat", path="C:\\temp\\D")["stat"]["isdir"] is True
    assert call(host, "win_file", path="C:\\Temp", state="absent")["changed"] is True
    assert call(host, "win_stat", path="C:\\Temp\\d")["stat"] == {"exists": False}
    info = call(host, "win_certificate_info")
    assert info["certificates"][0]["thumbprint"] == "AA" * 20
    assert info["certificates"][0]["issued_by"] == "Windows Azure CRP Certificate Generator"
    assert call(host, "win_certificate_store", state="absent", thumbprint="AA" * 20)["changed"] is True
    assert call(host, "win_certificate_store", state="absent", thumbprint="AA" * 20)["changed"] is False
    assert call(host, "win_certificate_store", state="present", path="C:\\c.pfx")["failed"] is True


def test_payload_decode_rejects_unknown_formats() -> None:
    with pytest.raises(PayloadError, match="not Ansible's bootstrap wrapper"):
        decode("cmd.exe", ["/c", "dir"], b"input")
    import base64

    encoded = base64.b64encode("param([string]$InputFile)\n".encode("utf-16-le")).decode()
    with pytest.raises(PayloadError, match="no exec manifest"):
        decode(f"powershell -EncodedCommand {encoded}", [], b'{"old": "format"}')


def test_state_file_written_atomically_after_mutation(tmp_path: Path) -> None:
    from lab.windows.host import SimulatedHost

    host = SimulatedHost("vm9", {}, workdir=tmp_path, user="u", password="p")
    call(host, "win_regedit", path="HKLM:\\SOFTWARE\\X", name="a", data="b")
    saved = json.loads((tmp_path / "vm9.json").read_text())
    assert saved["registry"]["HKLM:\\SOFTWARE\\X"] == {"a": {"type": "string", "data": "b"}}
    assert not list(tmp_path.glob(".*.tmp"))


def test_dependent_services_block_a_stop_unless_forced() -> None:
    host = host_for({"services": {"iphlpsvc": {"state": "running", "dependencies": ["Winmgmt"]}}})
    failed = call(host, "win_service", name="Winmgmt", state="restarted")
    assert failed["failed"] is True and "because it has dependent services" in failed["msg"]
    assert host.state["services"]["Winmgmt"]["state"] == "running"
    assert run_script(host, "net stop Winmgmt", shell="cmd").rc == 2
    forced = call(host, "win_service", name="Winmgmt", state="restarted", force_dependent_services=True)
    assert forced["changed"] is True and forced["depended_by"] == ["iphlpsvc"]
    # Restart-Service -Force starts again the dependents it stopped (RestartServiceCommand, PowerShell Service.cs)
    assert host.state["services"]["iphlpsvc"]["state"] == "running"
    assert host.state["service_restarts"] == ["Winmgmt", "iphlpsvc"]


def test_win_package_idempotence_and_loud_gaps() -> None:
    exe = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0\\vcredist2013_x64.exe"
    host = host_for({"files": {exe: {"type": "file"}}})
    missing = call(host, "win_package", path="C:\\nope.exe", product_id="{X}")
    assert missing["msg"] == "the file at the path 'C:\\nope.exe' cannot be reached"
    assert "needs product_id" in call(host, "win_package", path=exe)["msg"]
    assert "not simulated: validate_certs" in call(host, "win_package", path=exe, validate_certs=False)["msg"]
    assert "URL" in call(host, "win_package", path="https://example.invalid/x.msi", product_id="{X}")["msg"]
    args = {
        "path": exe,
        "creates_path": "C:\\Windows\\System32\\msvcr120.dll",
        "creates_version": "12.0.40660.0",
    }
    assert call(host, "win_package", check=True, **args)["changed"] is True
    assert host.state["packages"] == []
    assert call(host, "win_package", **args)["changed"] is True
    assert call(host, "win_package", **args)["changed"] is False
    assert call(host, "win_package", state="absent", **args)["changed"] is True
    assert call(host, "win_stat", path=args["creates_path"])["stat"]["exists"] is False


def test_unknown_spec_fields_fail_loudly(tmp_path: Path) -> None:
    import lab.windows

    spec = {"platform": "windows", "vss_writer": [], "faults": {"http500": True}}
    with pytest.raises(ValueError, match=r"host vm1: unknown or invalid field vss_writer, faults\.http500"):
        lab.windows.start({"vm1": spec}, tmp_path / "lab")
    with pytest.raises(ValueError, match=r"vss_writers\[0\]\.status"):
        host_for({"vss_writers": [{"name": "X", "status": 7}]})


def test_cim_adapters_get_service_and_get_itemproperty() -> None:
    host = host_for(
        {"network_adapters": [{"name": "Ethernet", "dhcp_enabled": False, "ipv4_address": "10.0.0.5"}]}
    )
    ps = "powershell"
    cim = run_script(
        host,
        'Get-CimInstance -ClassName Win32_NetworkAdapterConfiguration -Filter "IPEnabled=True"'
        " | Select-Object Description, DHCPEnabled",
        shell=ps,
    )
    assert cim.objects == [
        {"Description": "Microsoft Hyper-V Network Adapter (Ethernet)", "DHCPEnabled": False}
    ]
    assert run_script(host, "Get-Service VSS", shell=ps).objects[0]["Status"] == "Running"
    assert run_script(host, "Get-Service -Name Nope", shell=ps).rc == 1
    start = run_script(
        host,
        "Get-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Msiserver' "
        "-Name Start | Select-Object -ExpandProperty Start",
        shell=ps,
    )
    assert start.objects == [3]
    missing = "Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys'"
    assert run_script(host, missing, shell=ps).rc == 1
    assert run_script(host, missing + " -ErrorAction SilentlyContinue", shell=ps).rc == 0


def test_secrets_are_redacted_from_results() -> None:
    host = host_for({"accounts": [{"name": "svc"}]})  # .\svc must exist: win_service translates it to a SID
    result = call(host, "win_service", name="MSDTC", username=".\\svc", password="s3cret!")
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result["diff"]["after"]["password"] == "CHANGED REDACTED"
    failed = call(host, "win_package", path="C:\\x.msi", product_id="{X}", url_password="s3cret!")
    assert "s3cret!" not in json.dumps(failed) and "s3cret!" not in json.dumps(host.state)


def test_acl_rights_compare_as_flags_like_windows() -> None:
    host = host_for()
    path = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
    special = (
        "ListDirectory, ReadAttributes, ReadExtendedAttributes, CreateFiles, CreateDirectories, "
        "WriteAttributes, WriteExtendedAttributes, ReadPermissions"
    )
    same = call(host, "win_acl", path=path, user="Everyone", rights=special, type="allow", inherit="None")
    assert same["changed"] is False and same["msg"] == "the specified rule already exists"
    call(host, "win_acl", path=path, user="BUILTIN\\Users", rights="ReadAndExecute, Write", type="allow")
    text = run_script(host, f"icacls {path}", shell="cmd").stdout
    assert "BUILTIN\\Users:(OI)(CI)(RX,W)" in text
    bad = call(host, "win_acl", path=path, user="Everyone", rights="ReadEverything", type="allow")
    assert bad["failed"] is True and "ReadEverything" in bad["msg"]

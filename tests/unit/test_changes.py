"""Plan lines for change approvers, from the diff shapes the real modules return (see each module's .ps1)."""

from __future__ import annotations

from orchestrator.changes import describe


def test_registry_value_created_changed_retyped_and_deleted() -> None:
    # win_regedit.ps1 Get-DiffValue: {type = RegistryValueKind.ToString(); value = data | "0x{0:x8}" for dwords}
    key = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgent"
    created = describe("ansible.windows.win_regedit", {"path": key, "name": "USEVSSCOPYBACKUP"},
                       [{"before": {}, "after": {key: {"USEVSSCOPYBACKUP": {"type": "String", "value": "TRUE"}}}}])
    assert created == [f"{key}: key created", f'{key}\\USEVSSCOPYBACKUP: (absent) → "TRUE" (REG_SZ)']
    retyped = describe("win_regedit", {}, [{
        "before": {key: {"SchUseStrongCrypto": {"type": "String", "value": "1"}}},
        "after": {key: {"SchUseStrongCrypto": {"type": "DWord", "value": "0x00000001"}}}}])
    assert retyped == [f'{key}\\SchUseStrongCrypto: "1" (REG_SZ) → 1 (REG_DWORD)']
    deleted = describe("win_regedit", {}, [{"before": {key: {"X": {"type": "String", "value": "a"}}},
                                            "after": {key: {}}}])
    assert deleted == [f'{key}\\X: "a" (REG_SZ) → (deleted)']
    unchanged = describe("win_regedit", {}, [{"before": {key: {"X": {"type": "String", "value": "a"}}},
                                              "after": {key: {"X": {"type": "String", "value": "a"}}}}])
    assert unchanged == []


def test_service_restart_and_account_change() -> None:
    # win_service.ps1 Set-ServiceState: Diff.after.state = $State ('restarted'); before uses started/stopped
    restart = describe("ansible.windows.win_service", {"name": "SQLWriter", "state": "restarted"},
                       [{"before": {"state": "started", "username": "LocalSystem", "password": "REDACTED"},
                         "after": {"state": "restarted", "username": "LocalSystem", "password": "REDACTED"}}])
    assert restart == ["service SQLWriter — state: running → restarted"]
    account = describe("win_service", {"name": "MSDTC", "username": "NT AUTHORITY\\NetworkService"},
                       [{"before": {"state": "started", "username": "LocalSystem", "password": "REDACTED"},
                         "after": {"state": "started", "username": "NT AUTHORITY\\NETWORK SERVICE",
                                   "password": "CHANGED REDACTED"}}])
    assert account == ["service MSDTC — username: LocalSystem → NT AUTHORITY\\NETWORK SERVICE; password: changed"]


def test_acl_rules_and_inheritance_from_the_arguments() -> None:
    path = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys"
    add = describe("ansible.windows.win_acl", {"path": path, "user": "Everyone", "rights": "ReadData, WriteData",
                                               "type": "allow", "state": "present", "inherit": "None",
                                               "propagation": "None"}, [])
    assert add == [f"{path}: add allow Everyone: ReadData, WriteData (inherit None)"]
    remove = describe("win_acl", {"path": path, "user": "CONTOSO\\ops", "rights": "FullControl",
                                  "type": "allow", "state": "absent"}, [])
    assert remove == [f"{path}: remove allow CONTOSO\\ops: FullControl"]
    off = describe("win_acl_inheritance", {"path": path, "state": "absent", "reorganize": False}, [])
    assert off == [f"{path}: inheritance enabled → disabled"]


def test_certificate_removal_names_thumbprint_and_subject() -> None:
    lines = describe("ansible.windows.win_certificate_store",
                     {"thumbprint": "3A1F00", "state": "absent", "store_location": "LocalMachine",
                      "store_name": "My"}, [], item="3A1F00 CN=Windows Azure CRP Certificate Generator")
    assert lines == ["LocalMachine\\My: remove certificate 3A1F00 (CN=Windows Azure CRP Certificate Generator)"]  # once


def test_text_files_get_a_unified_diff_and_secrets_never_show() -> None:
    lines = describe("community.general.ini_file", {}, [{"before": "a = 1\n", "after": "a = 2\n",
                                                         "before_header": "x (content)", "after_header": "x"}])
    assert "-a = 1" in lines and "+a = 2" in lines
    generic = describe("some.module", {"password": "p"}, [{"before": {"password": "old", "mode": "a"},
                                                           "after": {"password": "new", "mode": "b"}}])
    assert generic == ["mode: a → b"]
    assert describe("ansible.windows.win_shell", {"_raw_params": "$Ansible.Changed = $true\nmsdtc -uninstall"},
                    []) == ["runs: msdtc -uninstall"]


def test_package_install_names_the_installer_and_product() -> None:
    lines = describe("ansible.windows.win_package", {
        "path": "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.10\\vcredist2013_x64.exe",
        "product_id": "{050d4fc8-5d48-4b8f-8972-47c82c46020f}", "arguments": "/install /quiet /norestart"}, [])
    assert lines == ["install C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot\\1.0.10\\"
                     "vcredist2013_x64.exe /install /quiet /norestart (product {050d4fc8-5d48-4b8f-8972-47c82c46020f})"]

"""Registry values as the registry fixes meet them on real Windows: names without case, type changes, keys that
must not be created. In-process (no Ansible start-up)."""

from __future__ import annotations

from lab.windows import regstore

from .helpers import call, host_for, scenario

BCDR = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
NET64 = "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework"
NET32 = "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework"


def test_setting_an_existing_value_named_in_another_case_keeps_its_stored_name() -> None:
    # win_regedit.ps1 line 306 finds the value with RegistryKey.GetValue (names without case) and line 331 calls
    # SetValue; the kernel's CmSetValueKey then rewrites the existing value cell (CmpSetValueKeyExisting, which
    # is not given the name): the value keeps the name it was created with, only its type and data change.
    host = host_for(scenario("snapshot-timeout-registry.yml")["vm1"])
    result = call(host, "win_regedit", path=BCDR, name="SnapshotMethod", data="firstHostThenGuest")
    assert result["changed"] is True and result["data_changed"] is True and result["data_type_changed"] is False
    values = host.state["registry"][BCDR]
    assert values["snapshotmethod"] == {"type": "string", "data": "firstHostThenGuest"}
    assert "SnapshotMethod" not in values
    # the diff names the value as the task gave it (Set-StatePresent uses $Name for the diff keys)
    assert result["diff"]["after"] == {BCDR: {"SnapshotMethod": {"type": "String", "value": "firstHostThenGuest"}}}

    # type change (line 312): a REG_DWORD 1 becomes REG_SZ "True"; the other values stay as they are
    result = call(host, "win_regedit", path=BCDR, name="calculatesnapshottimefromhost", data="True", type="string")
    assert result["changed"] is True and result["data_type_changed"] is True
    assert values["CalculateSnapshotTimeFromHost"] == {"type": "string", "data": "True"}
    assert values["SnapshotWithoutThreads"] == {"type": "string", "data": "True"}
    assert values["IsCommonProviderInstalled"] == {"type": "string", "data": "True"}
    assert call(host, "win_regedit", path=BCDR, name="SNAPSHOTMETHOD", data="firstHostThenGuest")["changed"] is False

    # reg.exe goes through the same RegSetValueEx
    regstore.set_value(host.state, BCDR, "SNAPSHOTWITHOUTTHREADS", "string", "False")
    assert values["SnapshotWithoutThreads"] == {"type": "string", "data": "False"}


def test_win_reg_stat_reads_the_dotnet_version_keys_that_exist_and_only_those() -> None:
    # win_reg_stat.ps1 line 91-123: OpenSubKey; a missing key is exists=false (no properties, nothing created);
    # an existing key lists its values (GetValueNames) and sub keys
    host = host_for(scenario("strong-crypto.yml")["tls1"])
    before = {k: dict(v) for k, v in host.state["registry"].items()}
    # a legacy module (Parse-Args): its result carries no invocation
    assert call(host, "win_reg_stat", path=f"{NET32}\\v2.0.50727") == {"changed": False, "exists": False}
    v4 = call(host, "win_reg_stat", path=f"{NET64}\\v4.0.30319")
    assert v4["exists"] is True and v4["sub_keys"] == []
    assert v4["properties"] == {
        "SchUseStrongCrypto": {"type": "REG_SZ", "value": "1", "raw_value": "1"},
        "SystemDefaultTlsVersions": {"type": "REG_DWORD", "value": 1, "raw_value": 1},
    }
    root = call(host, "win_reg_stat", path=NET64)
    assert root["sub_keys"] == ["v2.0.50727", "v4.0.30319"]
    assert call(host, "win_reg_stat", path=f"{NET64}\\v2.0.50727")["properties"] == {}
    assert host.state["registry"] == before

    # REG_SZ "1" -> REG_DWORD 1 (win_regedit.ps1 line 312: another type is always rewritten)
    result = call(host, "win_regedit", path=f"{NET64}\\v4.0.30319", name="SchUseStrongCrypto", data=1, type="dword")
    assert result["changed"] is True and result["data_type_changed"] is True
    assert host.state["registry"][f"{NET64}\\v4.0.30319"]["SchUseStrongCrypto"] == {"type": "dword", "data": 1}
    assert call(host, "win_reg_stat", path=f"{NET64}\\v4.0.30319", name="schusestrongcrypto")["value"] == 1

"""The registry comparison and SQL Server detection filters (playbooks/filter_plugins/registry_values.py), no
Ansible run. The comparison must agree with win_regedit.ps1 (Set-StatePresent), otherwise a diagnose says
"unhealthy" where the fix changes nothing and the ladder never converges."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location(
    "registry_values_filter", ROOT / "playbooks/filter_plugins/registry_values.py"
)
assert _SPEC and _SPEC.loader
reg = importlib.util.module_from_spec(_SPEC)
sys.modules["registry_values_filter"] = reg
_SPEC.loader.exec_module(reg)

KEY = "HKLM:\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
EXPECTED = {"SnapshotMethod": "firstHostThenGuest", "CalculateSnapshotTimeFromHost": "True"}


def stat(properties: dict[str, tuple[str, Any]] | None, item: str | None = None) -> dict[str, Any]:
    """A win_reg_stat result for a key read without `name` (None: the key does not exist)."""
    result: dict[str, Any] = {"changed": False, "exists": properties is not None}
    if properties is not None:
        result["properties"] = {n: {"type": t, "value": v, "raw_value": v} for n, (t, v) in properties.items()}
        result["sub_keys"] = []
    if item is not None:
        result["item"] = item
    return result


def problems(findings: list[dict]) -> dict[str, str]:
    return {f["name"]: f["problem"] for f in findings}


def test_expected_values_present_are_no_finding_and_other_values_are_not_judged() -> None:
    current = stat({"SnapshotMethod": ("REG_SZ", "firstHostThenGuest"), "CalculateSnapshotTimeFromHost":
                    ("REG_SZ", "True"), "IsCommonProviderInstalled": ("REG_DWORD", 7)})
    assert reg.registry_mismatches(current, EXPECTED, "string", KEY) == []


def test_missing_key_means_every_value_missing() -> None:
    findings = reg.registry_mismatches(stat(None), EXPECTED, "string", KEY)
    assert problems(findings) == {"SnapshotMethod": "missing", "CalculateSnapshotTimeFromHost": "missing"}
    assert "(the key does not exist)" in findings[0]["message"]
    assert findings[0]["expected"] == {"type": "REG_SZ", "data": "firstHostThenGuest"}


def test_another_type_is_a_finding_even_with_the_same_text() -> None:
    # win_regedit.ps1 line 312: a type other than the requested one is always rewritten
    current = stat({"SnapshotMethod": ("REG_EXPAND_SZ", "firstHostThenGuest"),
                    "CalculateSnapshotTimeFromHost": ("REG_DWORD", 1)})
    findings = reg.registry_mismatches(current, EXPECTED, "string", KEY)
    assert problems(findings) == {"SnapshotMethod": "wrong-type", "CalculateSnapshotTimeFromHost": "wrong-type"}
    assert findings[1]["message"] == (f"{KEY}\\CalculateSnapshotTimeFromHost is REG_DWORD 1, "
                                      'expected REG_SZ "True"')


def test_string_data_compares_case_sensitively_names_do_not() -> None:
    # win_regedit.ps1 line 171 (`-cne`) rewrites "true" to "True"; GetValue finds "snapshotmethod" for SnapshotMethod
    current = stat({"snapshotmethod": ("REG_SZ", "firstHostThenGuest"),
                    "CalculateSnapshotTimeFromHost": ("REG_SZ", "true")})
    findings = reg.registry_mismatches(current, EXPECTED, "string", KEY)
    assert problems(findings) == {"CalculateSnapshotTimeFromHost": "wrong-data"}
    wrong = reg.registry_mismatches(stat({"snapshotmethod": ("REG_SZ", "onlyGuest")}), {"SnapshotMethod": "x"},
                                    "string", KEY)
    assert wrong[0]["stored_name"] == "snapshotmethod" and f"{KEY}\\snapshotmethod is" in wrong[0]["message"]


def test_expand_strings_compare_unexpanded_like_win_regedit() -> None:
    # win_regedit.ps1 line 306 reads with DoNotExpandEnvironmentNames: win_reg_stat's raw_value, not its value
    current = stat({"Path": ("REG_EXPAND_SZ", "%windir%\\x")})
    current["properties"]["Path"]["value"] = "C:\\Windows\\x"
    assert reg.registry_mismatches(current, {"Path": "%windir%\\x"}, "expandstring", KEY) == []
    assert problems(reg.registry_mismatches(current, {"Path": "C:\\Windows\\x"}, "expandstring", KEY)) == {
        "Path": "wrong-data"}


def test_expected_string_data_is_converted_like_the_playbook_does() -> None:
    # bcdr_agent_registry.yml writes `item.value | string`: a YAML true is "True", a number its digits
    current = stat({"A": ("REG_SZ", "True"), "B": ("REG_SZ", "1")})
    assert reg.registry_mismatches(current, {"A": True, "B": 1}, "string", KEY) == []


def test_dword_values_compare_by_number_over_a_registered_loop() -> None:
    loop = {"results": [
        stat({"SchUseStrongCrypto": ("REG_DWORD", 1), "SystemDefaultTlsVersions": ("REG_DWORD", 1)}, item="K1"),
        stat({"SchUseStrongCrypto": ("REG_SZ", "1")}, item="K2"),
        stat({"SchUseStrongCrypto": ("REG_DWORD", 0)}, item="K3"),
        stat({}, item="K4"),
    ]}
    findings = reg.registry_mismatches(loop, {"SchUseStrongCrypto": "0x1"}, "dword")
    assert [(f["key"], f["problem"]) for f in findings] == [("K2", "wrong-type"), ("K3", "wrong-data"),
                                                             ("K4", "missing")]
    assert findings[0]["expected"] == {"type": "REG_DWORD", "data": 1}


@pytest.mark.parametrize(("expected", "value_type", "match"), [
    ({}, "string", "non-empty dict"),
    ({"A": "x"}, "multistring", "value_type must be one of"),
    ({"A": "yes"}, "dword", "is not a dword number"),
    ({"A": 2**32}, "dword", "out of range"),
])
def test_bad_expectations_fail_loudly(expected: dict, value_type: str, match: str) -> None:
    with pytest.raises(AnsibleFilterError, match=match):
        reg.registry_mismatches(stat({}), expected, value_type, KEY)


def test_a_failed_read_or_a_missing_key_path_fails_loudly() -> None:
    with pytest.raises(AnsibleFilterError, match="reading K failed: boom"):
        reg.registry_mismatches({"failed": True, "msg": "boom"}, {"A": "x"}, "string", "K")
    with pytest.raises(AnsibleFilterError, match="give the key path"):
        reg.registry_mismatches(stat({}), {"A": "x"})


def test_diagnosis_is_healthy_only_without_findings_and_one_line() -> None:
    healthy = reg.registry_diagnosis([], [[KEY, ["SnapshotMethod"]], ["K2", []]], "SQL Server installed (X)")
    assert healthy == {"healthy": True, "findings": [],
                       "summary": f"as expected: {KEY}\\SnapshotMethod; SQL Server installed (X)"}
    findings = reg.registry_mismatches(stat(None), EXPECTED, "string", KEY)
    sick = reg.registry_diagnosis(findings, {KEY: list(EXPECTED)}, "")
    assert sick["healthy"] is False and sick["summary"].startswith("2 registry value(s) to fix: ")
    assert "\n" not in sick["summary"]
    with pytest.raises(AnsibleFilterError, match="findings with a message"):
        reg.registry_diagnosis([{"name": "x"}], [])


def test_key_paths_join_roots_and_versions_with_one_backslash() -> None:
    roots = ["HKLM:\\SOFTWARE\\Microsoft\\.NETFramework", "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\"]
    assert reg.registry_key_paths(roots, ["v2.0.50727", "v4.0.30319"]) == [
        "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v2.0.50727",
        "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
        "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v2.0.50727",
        "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319",
    ]
    with pytest.raises(AnsibleFilterError, match="roots as a list"):
        reg.registry_key_paths("HKLM:\\X", ["v4.0.30319"])


def test_sql_server_is_a_database_engine_service_not_the_vss_writer_alone() -> None:
    services = [
        {"name": "SQLWriter", "display_name": "SQL Server VSS Writer", "state": "started", "start_mode": "auto"},
        {"name": "MSSQLFDLauncher$PROD", "display_name": "SQL Full-text Filter Daemon Launcher (PROD)"},
        {"name": "MSSQLServerOLAPService", "display_name": "SQL Server Analysis Services (MSSQLSERVER)"},
        {"name": "SQLAgent$PROD", "display_name": "SQL Server Agent (PROD)"},
        {"name": "MSSQL$", "display_name": "not an instance name"},
    ]
    assert reg.sql_server_instances(services) == []
    services += [{"name": "mssqlserver", "display_name": "SQL Server (MSSQLSERVER)", "state": "stopped",
                  "start_mode": "manual"},
                 {"name": "MSSQL$PROD", "display_name": "SQL Server (PROD)", "state": "started", "start_mode": "auto"}]
    engines = reg.sql_server_instances({"exists": True, "services": services})
    assert [(e["name"], e["instance"], e["state"]) for e in engines] == [
        ("mssqlserver", "MSSQLSERVER", "stopped"), ("MSSQL$PROD", "PROD", "started")]
    with pytest.raises(AnsibleFilterError, match="services list of win_service_info"):
        reg.sql_server_instances("MSSQLSERVER")

"""Filters for the registry-based Windows fixes: `registry_mismatches`, `registry_diagnosis` and
`sql_server_instances`.

`registry_mismatches(stat, expected, value_type, key)` compares what `ansible.windows.win_reg_stat` read (a key
read without `name`: `exists` and `properties`) with the values a fix sets, exactly the way
`ansible.windows.win_regedit` decides whether to change a value (win_regedit.ps1, Set-StatePresent):

- value names are case-insensitive (RegistryKey.GetValue finds `snapshotmethod` for `SnapshotMethod`), so the
  value is looked up without case; its name as stored is reported;
- a value of another type is always rewritten (line 312: `$Type -ne $existing_type`): a finding;
- same type: strings compare case-sensitively (line 171: `$existing -cne $new`) on the unexpanded data (line 306
  reads it with DoNotExpandEnvironmentNames, win_reg_stat's `raw_value`), numbers by value;
- a missing key means every expected value is missing (win_regedit creates the key).

Expected data is converted the way the playbooks send it to win_regedit: string types take the Jinja `string`
of the data (a YAML true becomes "True"), dword/qword take an integer (decimal, or 0x hex text).

`registry_diagnosis(findings, checked, notes)` turns findings into the `remediate_diagnosis` core: healthy,
summary (one line), findings.

`registry_key_paths(roots, subkeys)` joins every root key with every sub key name (`HKLM:\\X` + `v4.0.30319` ->
`HKLM:\\X\\v4.0.30319`), roots first; a template cannot hold a lone backslash literal.

`sql_server_instances(services)` picks the SQL Server database engine services out of
`ansible.windows.win_service_info` results: `MSSQLSERVER` (the default instance) and `MSSQL$<instance>` (named
instances). `SQLWriter` (SQL Server VSS Writer) alone is not SQL Server: it is a shared component that stays
after the instances are removed, and without an engine there is no database for a VSS full backup to delay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

# win_regedit `type` -> the type name win_reg_stat reports
REG_TYPES = {
    "string": "REG_SZ",
    "expandstring": "REG_EXPAND_SZ",
    "dword": "REG_DWORD",
    "qword": "REG_QWORD",
}
_LIMITS = {"dword": 0xFFFFFFFF, "qword": 0xFFFFFFFFFFFFFFFF}
DEFAULT_INSTANCE = "MSSQLSERVER"
NAMED_INSTANCE_PREFIX = "MSSQL$"
BACKSLASH = "\\"


def _expected_data(name: str, data: Any, value_type: str) -> str | int:
    if value_type in _LIMITS:
        try:
            number = int(data, 0) if isinstance(data, str) else int(data)
        except (TypeError, ValueError) as exc:
            raise AnsibleFilterError(f"registry_mismatches: {name} = {data!r} is not a {value_type} number") from exc
        if not 0 <= number <= _LIMITS[value_type]:
            raise AnsibleFilterError(f"registry_mismatches: {name} = {data!r} is out of range for {value_type}")
        return number
    return str(data)


def _show(reg_type: str, data: Any) -> str:
    if isinstance(data, str):
        return f'{reg_type} "{data}"'
    return f"{reg_type} {data!r}"


def _stats(stat: Any) -> list[Mapping[str, Any]]:
    if isinstance(stat, Mapping) and isinstance(stat.get("results"), list):
        return list(stat["results"])  # a registered loop
    if isinstance(stat, Mapping):
        return [stat]
    if isinstance(stat, Iterable) and not isinstance(stat, (str, bytes)):
        return list(stat)
    raise AnsibleFilterError("registry_mismatches expects win_reg_stat result(s)")


def _one_key(stat: Mapping[str, Any], expected: Mapping[str, Any], value_type: str, key: str) -> list[dict]:
    if stat.get("failed"):
        raise AnsibleFilterError(f"registry_mismatches: reading {key} failed: {stat.get('msg', 'no message')}")
    reg_type = REG_TYPES[value_type]
    properties = (stat.get("properties") or {}) if stat.get("exists") else {}
    by_lower = {str(name).lower(): name for name in properties}
    findings = []
    for name, data in expected.items():
        want = _expected_data(str(name), data, value_type)
        stored = by_lower.get(str(name).lower())
        current = properties.get(stored) if stored is not None else None
        finding = {"key": key, "name": str(name), "expected": {"type": reg_type, "data": want}}
        if current is None:
            where = "" if stat.get("exists") else " (the key does not exist)"
            findings.append(finding | {
                "stored_name": None, "actual": None, "problem": "missing",
                "message": f"{key}\\{name} is missing{where}, expected {_show(reg_type, want)}"})
            continue
        # win_regedit reads the data unexpanded (DoNotExpandEnvironmentNames): win_reg_stat's raw_value
        actual = {"type": current.get("type"), "data": current.get("raw_value", current.get("value"))}
        if actual["type"] != reg_type:
            problem = "wrong-type"
        elif isinstance(want, int):
            problem = None if _as_int(actual["data"]) == want else "wrong-data"
        else:
            problem = None if actual["data"] == want else "wrong-data"
        if problem:
            findings.append(finding | {
                "stored_name": stored, "actual": actual, "problem": problem,
                "message": f"{key}\\{stored} is {_show(str(actual['type']), actual['data'])}, "
                           f"expected {_show(reg_type, want)}"})
    return findings


def _as_int(data: Any) -> int | None:
    try:
        return int(data)
    except (TypeError, ValueError):
        return None


def registry_mismatches(stat: Any, expected: Any, value_type: str = "string", key: str | None = None) -> list[dict]:
    """Findings for the expected values that win_regedit would change (see the module docstring).

    `stat` is one win_reg_stat result (then `key` names the key) or a registered loop / list of results whose
    `item` is the key path."""
    if not isinstance(expected, Mapping) or not expected:
        raise AnsibleFilterError("registry_mismatches expects a non-empty dict of value name -> data")
    if value_type not in REG_TYPES:
        raise AnsibleFilterError(f"registry_mismatches: value_type must be one of {', '.join(REG_TYPES)}")
    findings: list[dict] = []
    for one in _stats(stat):
        path = key if key is not None else one.get("item")
        if not isinstance(path, str) or not path:
            raise AnsibleFilterError("registry_mismatches: give the key path (key=...) or loop over the paths")
        findings.extend(_one_key(one, expected, value_type, path))
    return findings


def _checked_names(checked: Any) -> list[str]:
    pairs = checked.items() if isinstance(checked, Mapping) else (checked or [])
    names = []
    for pair in pairs:
        if isinstance(pair, str):
            names.append(pair)
            continue
        key, values = pair
        names.extend(f"{key}\\{name}" for name in values)
    return names


def registry_diagnosis(findings: Any, checked: Any, notes: Any = None) -> dict[str, Any]:
    """{healthy, summary, findings}: healthy when there is no finding. `checked` says what was compared, for the
    healthy summary: a dict (or list of pairs) key path -> value names, or plain strings. `notes` are extra
    one-line facts appended to the summary."""
    found = list(findings or [])
    for f in found:
        if not isinstance(f, Mapping) or "message" not in f:
            raise AnsibleFilterError(f"registry_diagnosis expects findings with a message, got {f!r}")
    checked = _checked_names(checked)
    extra = [str(n) for n in ([notes] if isinstance(notes, str) else (notes or [])) if n]
    if found:
        summary = f"{len(found)} registry value(s) to fix: " + "; ".join(str(f["message"]) for f in found)
    elif checked:
        summary = "as expected: " + ", ".join(checked)
    else:
        summary = "nothing to check"
    summary = "; ".join([summary, *extra])
    return {"healthy": not found, "summary": " ".join(summary.split()), "findings": found}


def registry_key_paths(roots: Any, subkeys: Any) -> list[str]:
    """Every root joined with every sub key name, in order (see the module docstring)."""
    for name, value in (("roots", roots), ("subkeys", subkeys)):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise AnsibleFilterError(f"registry_key_paths expects {name} as a list of names")
    return [str(root).rstrip(BACKSLASH) + BACKSLASH + str(sub).strip(BACKSLASH) for root in roots for sub in subkeys]


def sql_server_instances(services: Any) -> list[dict[str, Any]]:
    """The SQL Server database engine services in a win_service_info `services` list (see the docstring)."""
    if isinstance(services, Mapping) and "services" in services:
        services = services["services"]
    if not isinstance(services, Iterable) or isinstance(services, (str, bytes, Mapping)):
        raise AnsibleFilterError("sql_server_instances expects the services list of win_service_info")
    engines = []
    for service in services:
        if not isinstance(service, Mapping) or "name" not in service:
            raise AnsibleFilterError(f"sql_server_instances expects services with a name, got {service!r}")
        name = str(service["name"])
        upper = name.upper()
        if upper == DEFAULT_INSTANCE:
            instance = DEFAULT_INSTANCE
        elif upper.startswith(NAMED_INSTANCE_PREFIX) and len(name) > len(NAMED_INSTANCE_PREFIX):
            instance = name[len(NAMED_INSTANCE_PREFIX):]
        else:
            continue
        engines.append({"name": name, "instance": instance, "display_name": service.get("display_name"),
                        "state": service.get("state"), "start_mode": service.get("start_mode")})
    return engines


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "registry_mismatches": registry_mismatches,
            "registry_diagnosis": registry_diagnosis,
            "registry_key_paths": registry_key_paths,
            "sql_server_instances": sql_server_instances,
        }

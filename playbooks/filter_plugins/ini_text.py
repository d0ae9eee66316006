"""Filters `ini_sections` and `ini_mismatches`.

`ini_sections`: parse INI text (e.g. a slurped /etc/azure/vmbackup.conf) into {section: {key: value}}.

Keys are kept as written; duplicate keys keep the last value (what the backup extension reads). Lines before the
first section land in section "".
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^\s*([^=:#;\s][^=:]*?)\s*[=:]\s*(.*?)\s*$")


def ini_sections(text: str) -> dict[str, dict[str, str]]:
    if not isinstance(text, str):
        raise AnsibleFilterError(f"ini_sections expects text, got {type(text).__name__}")
    sections: dict[str, dict[str, str]] = {"": {}}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = _SECTION.match(line)
        if m:
            current = m.group(1).strip()
            sections.setdefault(current, {})
            continue
        m = _KEY.match(line)
        if m:
            sections[current][m.group(1)] = m.group(2)
    return sections


def ini_mismatches(current: dict[str, str], expected: dict[str, object]) -> list[dict[str, object]]:
    """The expected keys whose current value differs (compared case-insensitively, as the extension reads them)."""
    if not isinstance(current, dict) or not isinstance(expected, dict):
        raise AnsibleFilterError("ini_mismatches expects two mappings")
    out: list[dict[str, object]] = []
    for key, want in expected.items():
        have = current.get(key)
        if have is None or str(have).strip().lower() != str(want).strip().lower():
            out.append({"key": key, "expected": str(want), "actual": have})
    return out


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"ini_sections": ini_sections, "ini_mismatches": ini_mismatches}

"""Shared pieces of the command simulation: the outcome record, NotSimulated, and quoting helpers."""

from __future__ import annotations

import dataclasses
import re
from typing import Any


class NotSimulated(Exception):
    """A command (or pipeline segment) the simulator does not know."""


class PSEnum(str):
    """A .NET enum value in a cmdlet's output object (e.g. BitLockerVolumeLockStatus 'Locked' = 1).

    It is its name wherever PowerShell shows or compares the name (Format-List, -eq 'Locked', -like); ConvertTo-Json
    of Windows PowerShell 5.1 writes its number, and win_powershell returns {Type, String, Value} (see
    `ps_output`).
    """

    type_name: str
    value: int

    def __new__(cls, type_name: str, table: dict[str, int], name: str) -> PSEnum:
        if name not in table:
            raise NotSimulated(f"{type_name} value {name!r} (known: {', '.join(table)})")
        member = super().__new__(cls, name)
        member.type_name = type_name
        member.value = table[name]
        return member


def ps_output(value: Any, depth: int) -> Any:
    """Enums as win_powershell's Convert-OutputObject returns them (win_powershell.ps1: `[Enum]` with Depth >= 0 ->
    @{Type; String; Value}; deeper, an enum is a value type kept as is, which Ansible.Basic's ToJson (ConvertTo-Json)
    writes as its number). Lists and objects recurse with depth - 1. Below depth 0 the real module turns a list or
    an object into a string ([string]$InputObject): not simulated, it fails naming the depth."""
    if isinstance(value, PSEnum):
        if depth >= 0:
            return {"Type": value.type_name, "String": str(value), "Value": value.value}
        return value.value
    if isinstance(value, (list, dict)) and depth < 0:
        raise NotSimulated("win_powershell output deeper than 'depth' (the module turns it into a string)")
    if isinstance(value, list):
        return [ps_output(v, depth - 1) for v in value]
    if isinstance(value, dict):
        return {k: ps_output(v, depth - 1) for k, v in value.items()}
    return value


def json_value(value: Any) -> Any:
    """ConvertTo-Json of Windows PowerShell 5.1 writes an enum as its number."""
    if isinstance(value, PSEnum):
        return value.value
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


@dataclasses.dataclass
class Outcome:
    stdout: str = ""
    stderr: str = ""
    rc: int = 0
    objects: list[Any] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)


def split_outside(text: str, sep: str) -> list[str]:
    """Split on sep outside quotes, braces and parentheses."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif char == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def tokens(text: str) -> list[str]:
    """Windows-style tokens: whitespace separated, double or single quotes group (backslashes are literal)."""
    return [a or b or c for a, b, c in re.findall(r'"([^"]*)"|\'([^\']*)\'|(\S+)', text)]


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text

"""How output leaves PowerShell: the console text (Out-Default), ConvertTo-Json as Windows PowerShell 5.1 writes it,
and win_powershell's conversion of output objects (Convert-OutputObject in win_powershell.ps1).
"""

from __future__ import annotations

from typing import Any

from lab.windows.powershell.values import (
    DotNetObject,
    EnumValue,
    PSHashtable,
    Rendered,
    ScriptBlock,
    format_float,
    to_string,
)

# -- console text ----------------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "{" + ", ".join(_shown(v) for v in value) + "}"
    return to_string(value)


def properties(obj: Any) -> list[tuple[str, Any]] | None:
    """The properties Format-List shows, or None for a value printed as text."""
    if isinstance(obj, PSHashtable):
        return None
    if isinstance(obj, dict):
        return [(str(k), v) for k, v in obj.items()]
    if isinstance(obj, DotNetObject) and not isinstance(obj, EnumValue) and obj.DISPLAY:
        return obj.properties()
    return None


def _list_block(props: list[tuple[str, Any]]) -> list[str]:
    width = max((len(k) for k, _ in props), default=0)
    return [f"{key.ljust(width)} : {_shown(value)}" for key, value in props]


def _table_block(table: PSHashtable) -> list[str]:
    lines = ["Name".ljust(30) + " Value", "----".ljust(30) + " -----"]
    for key, value in table.items():
        name = to_string(key)
        lines.append((name if len(name) <= 30 else name[:27] + "...").ljust(30) + " " + _shown(value))
    return lines


def render(items: list[Any]) -> str:
    """Out-Default: text one value a line, objects as Format-List blocks, hashtables as Name/Value tables."""
    out: list[str] = []
    in_group = False
    for obj in items:
        if obj is None:
            continue
        if isinstance(obj, Rendered):
            if in_group:
                out += ["", ""]
                in_group = False
            out.append(obj.text.rstrip("\r\n"))
            continue
        if isinstance(obj, PSHashtable):
            out += ["", *_table_block(obj)]
            in_group = True
            continue
        props = properties(obj)
        if props is not None:
            out += ["", *_list_block(props)]
            in_group = True
            continue
        if in_group:
            out += ["", ""]
            in_group = False
        out.append(to_string(obj))
    if in_group:
        out += ["", ""]
    return "".join(line + "\r\n" for line in out)


def format_list(items: list[Any]) -> str:
    out: list[str] = []
    for obj in items:
        props = properties(obj)
        if props is None:
            out.append(to_string(obj))
        else:
            out += ["", *_list_block(props)]
    return "".join(line + "\r\n" for line in [*out, "", ""])


# -- ConvertTo-Json (Windows PowerShell 5.1) -------------------------------------------------------------------------


def json_value(obj: Any, depth: int, max_depth: int) -> Any:
    """ConvertToJsonCommand.ProcessValue: nesting beyond -Depth becomes the object's string form."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, EnumValue):
        return obj.value
    if depth > max_depth or isinstance(obj, (ScriptBlock, Rendered)):
        return to_string(obj)
    if isinstance(obj, dict):
        return {to_string(k): json_value(v, depth + 1, max_depth) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_value(v, depth + 1, max_depth) for v in obj]
    if isinstance(obj, DotNetObject):
        return {name: json_value(value, depth + 1, max_depth) for name, value in obj.properties()}
    return to_string(obj)


def _quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ch in "<>'&":
            out.append(f"\\u{ord(ch):04x}")  # JavaScriptSerializer escapes these too
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def compact_json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return "[" + ",".join(compact_json(v) for v in value) + "]"
    return "{" + ",".join(f"{_quote(str(k))}:{compact_json(v)}" for k, v in value.items()) + "}"


def _string_end(text: str, index: int, out: list[str]) -> int:
    """Copy a JSON string starting after its opening quote; return the index of the closing quote."""
    i = index
    while i < len(text):
        out.append(text[i])
        if text[i] == "\\":
            out.append(text[i + 1])
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return i


def _pretty_list(text: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    out.append("\r\n")
    new_pad = pad + " " * spaces + "    "
    head = True
    i = index
    while i < len(text):
        ch = text[i]
        if ch == "{":
            out += [new_pad, ch]
            i = _pretty_dict(text, i + 1, out, new_pad, 0)
            head = False
        elif ch == "[":
            out += [new_pad, ch]
            i = _pretty_list(text, i + 1, out, new_pad, 0)
            head = False
        elif ch == "]":
            out += ["\r\n", pad, " " * spaces, ch]
            return i
        elif ch == '"':
            if head:
                out.append(new_pad)
            out.append(ch)
            i = _string_end(text, i + 1, out)
            head = False
        elif ch == ",":
            out += [ch, "\r\n"]
            head = True
        else:
            if head:
                out.append(new_pad)
            out.append(ch)
            head = False
        i += 1
    return i


def _pretty_dict(text: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    out.append("\r\n")
    new_pad = pad + " " * spaces + "    "
    before_key = True
    key_width = 0
    i = index
    while i < len(text):
        ch = text[i]
        if ch == "{":
            out.append(ch)
            i = _pretty_dict(text, i + 1, out, new_pad, key_width)
        elif ch == "[":
            out.append(ch)
            i = _pretty_list(text, i + 1, out, new_pad, key_width)
        elif ch == "}":
            out += ["\r\n", pad, " " * spaces, ch]
            return i
        elif ch == '"':
            if before_key:
                out.append(new_pad)
            out.append(ch)
            end = _string_end(text, i + 1, out)
            if before_key:
                key_width = end - i + 1
            before_key = False
            i = end
        elif ch == ":":
            out += [ch, "  "]
            key_width += 3
        elif ch == ",":
            out += [ch, "\r\n"]
            before_key = True
        else:
            out.append(ch)
        i += 1
    return i


def pretty_json(compact: str) -> str:
    """ConvertToJsonCommand's formatting in 5.1: 4-space indent, `"key":  value`, nested values aligned after
    their key."""
    out: list[str] = []
    if compact.startswith("{"):
        out.append("{")
        _pretty_dict(compact, 1, out, "", 0)
    elif compact.startswith("["):
        out.append("[")
        _pretty_list(compact, 1, out, "", 0)
    else:
        return compact
    return "".join(out)


def convert_to_json(value: Any, depth: int = 2, compress: bool = False) -> str:
    compact = compact_json(json_value(value, 0, depth))
    return compact if compress else pretty_json(compact)


# -- win_powershell output ------------------------------------------------------------------------------------------


def ansible_value(obj: Any, depth: int) -> Any:
    """Convert-OutputObject (win_powershell.ps1 line 443): enums as {Type, String, Value} (line 485), objects as
    dictionaries of their properties, anything else beyond the depth as its string (line 546). Below depth 0 an
    enum is a value type kept as it is (line 540), which Ansible.Basic.cs ToJson (line 510, ConvertTo-Json) writes
    as its number."""
    if obj is None:
        return None
    if isinstance(obj, EnumValue):
        if depth >= 0:
            return {"Type": obj.type_name, "String": obj.to_string(), "Value": obj.value}
        return obj.value
    if isinstance(obj, (str, bool, int, float)):
        return obj
    if depth < 0:
        return to_string(obj)
    if isinstance(obj, list):
        return [ansible_value(item, depth - 1) for item in obj]
    if isinstance(obj, dict):
        return {to_string(k): ansible_value(v, depth - 1) for k, v in obj.items()}
    if isinstance(obj, DotNetObject):
        return {name: ansible_value(value, depth - 1) for name, value in obj.properties()}
    return to_string(obj)

"""Pipeline stages (Where-Object, Select-Object, ConvertTo-Json, Format-List) and text rendering."""

from __future__ import annotations

import json
import re
from typing import Any

from lab.windows.commands.base import NotSimulated, json_value, unquote


def apply_segment(objects: list[Any], segment: str) -> tuple[list[Any], str | None]:
    """Apply one pipeline stage; returns (objects, rendering) where rendering is 'json' / 'list' / None."""
    where = re.match(
        r"^(?:Where-Object|where|\?)\s*(?:\{\s*\$_\.(?P<prop>\w+)|(?:-Property\s+)?(?P<bare>\w+))"
        r"\s+-(?P<op>like|match|eq|ne|notlike)\s+(?P<value>'[^']*'|\"[^\"]*\"|[^\s}]+)\s*(?P<close>\}?)$",
        segment,
        re.I,
    )
    if where and bool(where["prop"]) != bool(where["close"]):
        where = None
    if where:
        prop, op, value = where["prop"] or where["bare"], where["op"].lower(), unquote(where["value"])

        def keep(obj: Any) -> bool:
            field = str((obj or {}).get(prop, "")) if isinstance(obj, dict) else ""
            if op in ("like", "notlike"):
                pattern = "^" + re.escape(value).replace(r"\*", ".*").replace(r"\?", ".") + "$"
                hit = re.match(pattern, field, re.I | re.S) is not None
                return hit if op == "like" else not hit
            if op == "match":
                return re.search(value, field, re.I) is not None
            return (field.lower() == value.lower()) == (op == "eq")

        return [o for o in objects if keep(o)], None
    first = re.match(r"^Select-Object\s+-First\s+(\d+)$", segment, re.I)
    if first:
        return objects[: int(first.group(1))], None
    expand = re.match(r"^Select-Object\s+-ExpandProperty\s+(\w+)$", segment, re.I)
    if expand:
        out: list[Any] = []
        for obj in objects:
            value = obj.get(expand.group(1)) if isinstance(obj, dict) else None
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out, None
    select = re.match(r"^Select-Object\s+(?:-Property\s+)?(?P<props>[\w\s,]+)$", segment, re.I)
    if select:
        props = [p.strip() for p in select["props"].split(",") if p.strip()]
        return [{p: (o.get(p) if isinstance(o, dict) else None) for p in props} for o in objects], None
    if re.match(r"^ConvertTo-Json(\s+-Depth\s+\d+)?(\s+-Compress)?$", segment, re.I):
        return objects, "json"
    if re.match(r"^(Format-List|fl|Format-Table|ft|Out-String)$", segment, re.I):
        return objects, "list"
    raise NotSimulated(f"pipeline stage: {segment}")


def render(objects: list[Any], mode: str | None) -> str:
    if mode == "json":
        if not objects:
            return ""
        payload = json_value(objects[0] if len(objects) == 1 else objects)
        return json.dumps(payload, indent=4) + "\r\n"
    lines = []
    for obj in objects:
        if isinstance(obj, dict):
            width = max(len(k) for k in obj) if obj else 0
            lines.append("")
            for key, value in obj.items():
                shown = (
                    "{" + ", ".join(map(str, value)) + "}"
                    if isinstance(value, list)
                    else ("" if value is None else str(value))
                )
                lines.append(f"{key.ljust(width)} : {shown}")
        else:
            lines.append(str(obj))
    if objects and isinstance(objects[0], dict):
        lines += ["", ""]
    return "\r\n".join(lines) + ("\r\n" if lines and not isinstance(objects[0], dict) else "")

"""win_regedit and win_reg_stat."""

from __future__ import annotations

from typing import Any

from lab.windows import regstore
from lab.windows.modules import ModuleContext, module


def _coerce(ctx: ModuleContext, kind: str, data: Any) -> Any:
    if kind in ("binary", "none"):
        if data is None:
            return []
        if isinstance(data, str):
            text = data.lower().removeprefix("hex:").replace(",", ":")
            parts = (
                [p for p in text.split(":") if p]
                if ":" in text
                else [text[i : i + 2] for i in range(0, len(text), 2)]
            )
            return [int(p, 16) for p in parts]
        if isinstance(data, int):
            return [data]
        return [int(b) for b in data]
    if kind in ("dword", "qword"):
        value = int(str(data), 0) if isinstance(data, str) else int(data or 0)
        limit = 0xFFFFFFFF if kind == "dword" else 0xFFFFFFFFFFFFFFFF
        if value > limit:
            ctx.fail(f"data cannot be larger than {hex(limit)} when type is {kind}")
        return value
    if kind == "multistring":
        if data is None:
            return []
        return [str(d) for d in data] if isinstance(data, list) else [str(data)]
    if data is None:
        return None if ctx.params["name"] is None else ""
    return data if isinstance(data, str) else str(data)


def _diff_value(kind: str, data: Any) -> dict[str, Any]:
    dotnet = regstore.DOTNET_KIND[kind]
    if kind in ("binary", "none"):
        return {"type": dotnet, "value": [f"0x{b:02x}" for b in data]}
    if kind == "dword":
        return {"type": dotnet, "value": f"0x{int(data):08x}"}
    if kind == "qword":
        return {"type": dotnet, "value": f"0x{int(data):016x}"}
    return {"type": dotnet, "value": data}


@module("win_regedit")
def win_regedit(ctx: ModuleContext) -> None:
    p = ctx.params
    state = ctx.state
    path, name, kind = p["path"], p["name"], p["type"]
    if p["hive"]:
        ctx.fail("lab.windows simulator: win_regedit option 'hive' (loading a hive file) is not simulated")
    if name is None and kind != "string":
        ctx.warnings.append(
            "the data type when name is not specified can only be 'string', the type has "
            "automatically been converted"
        )
        kind = "string"
    if not regstore.valid_ps_path(path):
        ctx.fail(f"path: {path} is not a valid powershell path, see module documentation for examples.")
    if name == "":
        name = None
    value_name = name if name is not None else ""
    ctx.result["data_changed"] = False
    ctx.result["data_type_changed"] = False
    exists = regstore.key_exists(state, path)
    if p["state"] == "absent":
        if not exists:
            return
        if p["delete_key"] and not name:
            if not ctx.check_mode:
                regstore.delete_tree(state, path)
            ctx.result["changed"] = True
            ctx.diff["before"] = {path: {}}
            ctx.diff["after"] = {}
            return
        current = regstore.get_value(state, path, value_name)
        if current is None:
            return
        if not ctx.check_mode:
            regstore.delete_value(state, path, value_name)
        ctx.result["changed"] = True
        ctx.diff["before"] = {path: {value_name: _diff_value(current[1]["type"], current[1]["data"])}}
        ctx.diff["after"] = {path: {}}
        return
    data = _coerce(ctx, kind, p["data"])
    if not exists:
        if not ctx.check_mode:
            regstore.create_key(state, path)
        ctx.result["changed"] = True
        ctx.diff["before"] = {}
        ctx.diff["after"] = {path: {}}
        if ctx.check_mode:
            return  # the real module has no key handle in check mode and stops here
    else:
        ctx.diff["before"] = {path: {}}
        ctx.diff["after"] = {path: {}}
    if data is None:
        return
    current = regstore.get_value(state, path, value_name)
    if current is not None:
        existing_kind, existing_data = current[1]["type"], current[1]["data"]
        change = False
        if existing_kind != kind:
            change = True
            ctx.result["data_type_changed"] = True
        if existing_data != data:
            change = True
            ctx.result["data_changed"] = True
        if change:
            if not ctx.check_mode:
                regstore.set_value(state, path, value_name, kind, data)
            ctx.result["changed"] = True
            ctx.diff["before"][path][value_name] = _diff_value(existing_kind, existing_data)
            ctx.diff["after"][path][value_name] = _diff_value(kind, data)
        else:
            ctx.diff["before"][path][value_name] = _diff_value(kind, data)
            ctx.diff["after"][path][value_name] = _diff_value(kind, data)
    else:
        if not ctx.check_mode:
            regstore.set_value(state, path, value_name, kind, data)
        ctx.result["changed"] = True
        ctx.diff["after"][path][value_name] = _diff_value(kind, data)


def _stat_value(value: dict[str, Any]) -> dict[str, Any]:
    kind, data = value["type"], value["data"]
    raw: Any = data
    if kind in ("binary", "none"):
        raw = [f"0x{b:02x}" for b in data]
    return {"type": regstore.REG_TYPES[kind], "value": data, "raw_value": raw}


@module("win_reg_stat")
def win_reg_stat(ctx: ModuleContext) -> None:
    path, name = ctx.params["path"], ctx.params["name"]
    state = ctx.state
    if not regstore.valid_ps_path(path):
        ctx.fail(f"path: {path} is not a valid registry path, see module documentation for examples.")
    if not regstore.key_exists(state, path):
        ctx.result["exists"] = False
        return
    if name is None:
        ctx.result["exists"] = True
        ctx.result["properties"] = {n: _stat_value(v) for n, v in regstore.values(state, path).items()}
        ctx.result["sub_keys"] = regstore.subkeys(state, path)
        return
    current = regstore.get_value(state, path, name)
    if current is None:
        ctx.result["exists"] = False
        return
    ctx.result["exists"] = True
    ctx.result.update(_stat_value(current[1]))

"""win_regedit (Ansible.Basic) and win_reg_stat (Ansible.ModuleUtils.Legacy), following their PowerShell source.

Values are read the way RegistryKey.GetValue returns them: REG_DWORD / REG_QWORD as signed Int32 / Int64,
REG_BINARY / REG_NONE as byte[], REG_MULTI_SZ as string[], REG_EXPAND_SZ expanded with the module process's
environment unless DoNotExpandEnvironmentNames is asked for.
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows import environment, ps_types, regstore
from lab.windows.modules import ModuleContext, legacy_param, module

BINARY_KINDS = ("binary", "none")
BITS = {"dword": 32, "qword": 64}


# -- reading, as RegistryKey.GetValue ----------------------------------------------------------------------------
def _get_value(ctx: ModuleContext, path: str, name: str, *, expand: bool) -> tuple[str, Any] | None:
    """(kind, .NET value) of a value, or None when it does not exist (GetValue returns $null)."""
    found = regstore.get_value(ctx.state, path, name)
    if found is None:
        return None
    kind, data = found[1]["type"], found[1]["data"]
    if kind in BITS:
        return kind, ps_types.hex_to_signed(int(data), BITS[kind])  # .NET returns the signed integer
    if kind == "expandstring" and expand:
        return kind, environment.expand(ctx.host, str(data))
    if kind in BINARY_KINDS:
        return kind, list(data or [])
    if kind == "multistring":
        return kind, list(data or [])
    return kind, data


def _diff_value(kind: str, value: Any) -> dict[str, Any]:
    """Get-DiffValue (win_regedit.ps1 lines 175-198)."""
    diff: dict[str, Any] = {"type": regstore.DOTNET_KIND[kind], "value": value}
    if kind in BINARY_KINDS:
        diff["value"] = [f"0x{b:02x}" for b in value]
    elif kind in BITS:
        diff["value"] = f"0x{value & (2 ** BITS[kind] - 1):0{BITS[kind] // 4}x}"
    return diff


# -- win_regedit: data conversion (win_regedit.ps1 lines 375-464) ---------------------------------------------
def _hex_string_bytes(ctx: ModuleContext, text: str) -> list[int]:
    """Convert-RegExportHexStringToByteArray (lines 135-163): 'hex:be,ef', 'be:ef', 'beef', spaces allowed."""
    text = re.sub(r"^hex:", "", text.lower())
    text = re.sub(r"[^a-f0-9\\,x\-:]", "", text).replace(",", ":")
    try:
        if not text:
            return []
        if len(text) == 1:
            return [ps_types.hex_byte(text)]
        if len(text) % 2 == 0 and ":" not in text:
            return [ps_types.hex_byte(text[i : i + 2]) for i in range(0, len(text), 2)]
        if ":" in text:
            return [ps_types.hex_byte(part) for part in re.split(r":+", text)]
    except ps_types.ConversionError as exc:
        ctx.unhandled(str(exc))
    return []


def _not_simulated(ctx: ModuleContext, kind: str, data: Any) -> None:
    ctx.fail(
        f"lab.windows simulator: win_regedit data of YAML type {type(data).__name__} for type={kind} is not "
        "simulated (the real module hands it to RegistryKey.SetValue unconverted)"
    )


def _convert_data(ctx: ModuleContext, kind: str, data: Any, named: bool) -> Any:
    if kind in BINARY_KINDS:
        if data is None:
            data = ""
        if isinstance(data, str):
            return _hex_string_bytes(ctx, data)
        if isinstance(data, int) and not isinstance(data, bool) and -(2**31) <= data < 2**31:
            if data > 255:
                ctx.fail(
                    f"cannot convert binary data '{data}' to byte array, please specify this value as a yaml byte "
                    "array or a comma separated hex value string"
                )
            return [_byte(ctx, data)]
        if isinstance(data, list):
            return [_byte(ctx, item) for item in data]
        _not_simulated(ctx, kind, data)
    if kind in BITS:
        return _convert_number(ctx, kind, 0 if data is None else data)
    if kind in ("string", "expandstring"):
        if data is None:
            return "" if named else None
        if isinstance(data, (list, dict)):
            _not_simulated(ctx, kind, data)
        return ps_types.ps_string(data)  # RegistryKey.SetValue(String) stores value.ToString()
    if kind == "multistring":
        if data is None:
            return []
        items = data if isinstance(data, list) else [data]
        for item in items:
            if item is None:
                ctx.unhandled("You cannot call a method on a null-valued expression.")
            if isinstance(item, (list, dict)):
                ctx.unhandled('Cannot find an overload for "ToString" and the argument count: "1".')
        return [ps_types.ps_string(item) for item in items]  # $entry.ToString([CultureInfo]::InvariantCulture)
    return data


def _byte(ctx: ModuleContext, value: Any) -> int:
    try:
        return ps_types.to_byte(value)
    except ps_types.ConversionError as exc:
        ctx.unhandled(str(exc))
        raise  # unreachable


def _convert_number(ctx: ModuleContext, kind: str, data: Any) -> int:
    """Lines 396-443: strings go through [UInt64] (PowerShell's cast: "010" is 10, hex, "1.1" is 1), floats must
    be whole, then the range check and the [Int32] / [Int64] cast (a value above the signed maximum is read as hex,
    i.e. as its two's complement). Returns the signed value SetValue receives."""
    bits, limit = BITS[kind], 2 ** BITS[kind] - 1
    too_large = False
    if isinstance(data, str):
        try:
            data = ps_types.to_uint64(data)
        except ps_types.ConversionError as exc:
            ctx.unhandled(str(exc))
    elif isinstance(data, float):
        if data % 1 != 0:
            ctx.fail(
                f"data '{ps_types.ps_string(data)}' cannot be a decimal or float value with a remainder when type "
                "is dword or qword"
            )
        elif data > ps_types.UINT64_MAX:
            too_large = True
        elif data < 0:  # [UInt64]$data of a negative Decimal (line 418)
            ctx.unhandled(
                f'Cannot convert value "{ps_types.ps_string(data)}" to type "System.UInt64". Error: '
                f'"{ps_types.OVERFLOW["System.UInt64"]}"'
            )
        else:
            data = int(data)
    elif isinstance(data, bool):
        data = int(data)  # $true -gt [UInt32]::MaxValue is $false; [Int32]$true is 1
    elif not isinstance(data, int):
        _not_simulated(ctx, kind, data)
    if too_large or data > limit:
        ctx.fail(f"data cannot be larger than 0x{limit:x} when type is {kind}")
    if data > 2 ** (bits - 1) - 1:
        return ps_types.hex_to_signed(data, bits)
    try:
        return ps_types.to_signed(data, bits)
    except ps_types.ConversionError as exc:
        ctx.unhandled(str(exc))
        raise  # unreachable


def _stored(kind: str, value: Any) -> Any:
    """How the lab keeps a value: integers unsigned (as reg.exe and win_reg_stat show them)."""
    return value & (2 ** BITS[kind] - 1) if kind in BITS else value


# -- win_regedit: comparison (Compare-RegistryProperty, lines 165-173) --------------------------------------------
def _differs(existing: Any, new: Any) -> bool:
    if isinstance(existing, list):
        # Compare-Object -SyncWindow 0: element by element, case-insensitive, the difference cast to the reference
        difference = new if isinstance(new, list) else [new]
        if len(existing) != len(difference):
            return True
        return not all(ps_types.loosely_equal(r, d) for r, d in zip(existing, difference, strict=True))
    # $existing -cne $new: the right side takes the left side's type; strings compare case-sensitively
    if isinstance(existing, str):
        return existing != ps_types.ps_string(new)
    if isinstance(new, str):
        try:
            return existing != ps_types.to_uint64(new)
        except ps_types.ConversionError:
            return True
    return existing != new


def _write(ctx: ModuleContext, apply: Any) -> None:
    try:
        apply()
    except regstore.NotSimulatedWrite as exc:
        ctx.fail(str(exc))


def _state_absent(ctx: ModuleContext, print_path: str, name: str, delete_key: bool, diff: dict[str, Any]) -> None:
    """Set-StateAbsent (lines 200-264)."""
    state = ctx.state
    if not regstore.key_exists(state, print_path):
        return
    if delete_key and not name:
        if not ctx.check_mode:
            _write(ctx, lambda: regstore.delete_tree(state, print_path))
        ctx.result["changed"] = True
        diff["before"], diff["after"] = {print_path: {}}, {}
        return
    current = _get_value(ctx, print_path, name, expand=True)  # $key.GetValue($Name): expanded
    if current is None:
        return
    if not ctx.check_mode:
        _write(ctx, lambda: regstore.delete_value(state, print_path, name))
    ctx.result["changed"] = True
    diff["before"] = {print_path: {name: _diff_value(*current)}}
    diff["after"] = {print_path: {}}


def _state_present(
    ctx: ModuleContext, print_path: str, name: str, data: Any, kind: str, diff: dict[str, Any]
) -> None:
    """Set-StatePresent (lines 266-368)."""
    state = ctx.state
    if not regstore.key_exists(state, print_path):
        if not ctx.check_mode:
            _write(ctx, lambda: regstore.create_key(state, print_path))
        ctx.result["changed"] = True
        diff["before"], diff["after"] = {}, {print_path: {}}
        if ctx.check_mode:
            return  # no key handle in check mode: the real module stops here
    else:
        diff["before"], diff["after"] = {print_path: {}}, {print_path: {}}
    if data is None:
        return
    current = _get_value(ctx, print_path, name, expand=False)  # DoNotExpandEnvironmentNames
    if current is None:
        if not ctx.check_mode:
            _write(ctx, lambda: regstore.set_value(state, print_path, name, kind, _stored(kind, data)))
        ctx.result["changed"] = True
        diff["after"][print_path][name] = _diff_value(kind, data)
        return
    existing_kind, existing = current
    change = False
    if kind != existing_kind:
        change = True
        ctx.result["data_type_changed"] = True
        if _differs(existing, data):
            ctx.result["data_changed"] = True
    elif _differs(existing, data):
        change = True
        ctx.result["data_changed"] = True
    if change:
        if not ctx.check_mode:
            _write(ctx, lambda: regstore.set_value(state, print_path, name, kind, _stored(kind, data)))
        ctx.result["changed"] = True
        diff["before"][print_path][name] = _diff_value(existing_kind, existing)
        diff["after"][print_path][name] = _diff_value(kind, data)
    else:
        diff["before"][print_path][name] = diff["after"][print_path][name] = _diff_value(existing_kind, existing)


@module("win_regedit")
def win_regedit(ctx: ModuleContext) -> None:
    p = ctx.params
    path, name, kind = p["path"], p["name"], p["type"]
    ctx.result["data_changed"] = False
    ctx.result["data_type_changed"] = False
    diff: dict[str, Any] = {"before": "", "after": ""}  # $module.Diff.before/after = "" (lines 42-43)
    try:
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
        data = _convert_data(ctx, kind, p["data"], name is not None)
        if p["hive"]:
            ctx.fail("lab.windows simulator: win_regedit option 'hive' (loading a hive file) is not simulated")
        value_name = name or ""  # a [String] parameter turns $null into ""
        if p["state"] == "present":
            _state_present(ctx, path, value_name, data, kind, diff)
        else:
            _state_absent(ctx, path, value_name, p["delete_key"], diff)
    finally:
        if ctx.diff_mode:
            ctx.result["diff"] = diff  # Ansible.Basic returns Diff whenever it has keys (here always)


# -- win_reg_stat (Ansible.ModuleUtils.Legacy) ------------------------------------------------------------------
def _property(ctx: ModuleContext, path: str, name: str) -> dict[str, Any] | None:
    """Get-PropertyValue (win_reg_stat.ps1 lines 18-71)."""
    expanded = _get_value(ctx, path, name, expand=True)
    if expanded is None:
        return None
    kind, value = expanded
    raw = _get_value(ctx, path, name, expand=False)[1]  # type: ignore[index]
    if name == "":
        return {"type": "REG_SZ", "value": value, "raw_value": raw}  # the (Default) is always reported as a string
    if kind in BINARY_KINDS:
        raw = [f"0x{b:02x}" for b in value]
    elif kind in BITS:
        value = raw = _stored(kind, value)  # [UInt32]("0x{0:x}" -f $value): unsigned
    return {"type": regstore.REG_TYPES[kind], "value": value, "raw_value": raw}


@module("win_reg_stat", legacy=True)
def win_reg_stat(ctx: ModuleContext) -> None:
    path = legacy_param(ctx, "path", aliases=("key",), kind="str", failifempty=True)
    name = legacy_param(ctx, "name", aliases=("entry", "value"), kind="str")
    if path is None or not regstore.valid_ps_path(path):
        ctx.fail(f"path: {path or ''} is not a valid registry path, see module documentation for examples.")
    if not regstore.key_exists(ctx.state, path):
        ctx.result["exists"] = False
        return
    if name is None:
        properties = {n: _property(ctx, path, n) for n in regstore.values(ctx.state, path)}
        default = _property(ctx, path, "")
        if default is not None:
            properties[""] = default
        ctx.result.update(exists=True, properties=properties, sub_keys=regstore.subkeys(ctx.state, path))
        return
    found = _property(ctx, path, name)
    ctx.result["exists"] = found is not None
    if found is not None:
        ctx.result.update(found)

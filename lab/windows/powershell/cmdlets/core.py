"""Pipeline and utility cmdlets: Where-Object, ForEach-Object, Select-Object, ConvertTo/From-Json, Format-*,
Out-*, Write-*, New-Object, Add-Type, Import-Module, Set-StrictMode."""

from __future__ import annotations

import json
import re
from typing import Any

from lab.windows.powershell import types as pstypes
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.errors import NotSimulated
from lab.windows.powershell.members import VOID, get_member, invoke_method
from lab.windows.powershell.output import convert_to_json, format_list, render
from lab.windows.powershell.values import (
    PSHashtable,
    Rendered,
    ScriptBlock,
    enumerate_value,
    to_int,
    to_string,
    truthy,
)

WHERE_OPERATORS = (
    "EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains", "NotContains", "In",
    "NotIn", "CEQ", "CNE", "CLike", "CNotLike", "CMatch", "CNotMatch", "Is", "IsNot",
)  # fmt: skip


def _input(call: Call) -> list[Any]:
    return list(call.input or [])


@cmdlet(
    "Where-Object",
    Param("Property", position=0),
    Param("FilterScript"),
    Param("Value", position=1),
    *(Param(op, switch=True) for op in WHERE_OPERATORS),
    aliases=("where", "?"),
    pipeline=True,
)
def where_object(call: Call) -> list[Any]:
    block = call.get("FilterScript", call.get("Property"))
    if isinstance(block, ScriptBlock):
        return [item for item in _input(call) if truthy(_collect(call.ctx.call_scriptblock(block, dollar=item)))]
    prop = call.get("Property")
    if prop is None:
        raise NotSimulated(f"Where-Object without a filter ({call.args})")
    operators = [op for op in WHERE_OPERATORS if call.flag(op)]
    kept = []
    for item in _input(call):
        value = get_member(call.ctx, item, to_string(prop))
        if not operators:
            keep = truthy(value)
        else:
            keep = truthy(call.ctx.binary("-" + operators[0].lower(), value, call.get("Value")))
        if keep:
            kept.append(item)
    return kept


def _collect(items: list[Any]) -> Any:
    if not items:
        return None
    return items[0] if len(items) == 1 else items


@cmdlet(
    "ForEach-Object",
    Param("Process", position=0),
    Param("Begin"),
    Param("End"),
    Param("MemberName"),
    Param("ArgumentList", aliases=("Args",)),
    aliases=("foreach", "%"),
    pipeline=True,
)
def foreach_object(call: Call) -> list[Any]:
    ctx = call.ctx
    out: list[Any] = []
    process = call.get("Process")
    member = call.get("MemberName")
    if isinstance(process, str) and member is None:
        member, process = process, None
    if call.get("Begin") is not None:
        out += ctx.call_scriptblock(call.get("Begin"))
    blocks = process if isinstance(process, list) else [process]
    for item in _input(call):
        if member is not None:
            args = enumerate_value(call.get("ArgumentList")) if call.has("ArgumentList") else None
            if args is not None:
                value = invoke_method(ctx, item, to_string(member), args)
            else:
                value = get_member(ctx, item, to_string(member))
            if value is not VOID:
                out += enumerate_value(value) if value is not None else []
            continue
        for block in blocks:
            if not isinstance(block, ScriptBlock):
                raise NotSimulated(f"ForEach-Object -Process {to_string(block)}")
            out += ctx.call_scriptblock(block, dollar=item)
    if call.get("End") is not None:
        out += ctx.call_scriptblock(call.get("End"))
    return out


def _property_value(call: Call, item: Any, spec: Any) -> tuple[str, Any]:
    if isinstance(spec, PSHashtable):
        name = spec.get_ci("Name", spec.get_ci("N", spec.get_ci("Label", spec.get_ci("L"))))
        expression = spec.get_ci("Expression", spec.get_ci("E"))
        if isinstance(expression, ScriptBlock):
            return to_string(name), _collect(call.ctx.call_scriptblock(expression, dollar=item))
        return to_string(name or expression), get_member(call.ctx, item, to_string(expression))
    return to_string(spec), get_member(call.ctx, item, to_string(spec))


@cmdlet(
    "Select-Object",
    Param("Property", position=0),
    Param("ExpandProperty"),
    Param("First"),
    Param("Last"),
    Param("Skip"),
    Param("Unique", switch=True),
    aliases=("select",),
    pipeline=True,
)
def select_object(call: Call) -> list[Any]:
    items = _input(call)
    if call.has("Skip"):
        items = items[to_int(call.get("Skip")) :]
    if call.has("First"):
        items = items[: to_int(call.get("First"))]
    if call.has("Last"):
        count = to_int(call.get("Last"))
        items = items[-count:] if count else []
    if call.flag("Unique"):
        raise NotSimulated("Select-Object -Unique")
    if call.has("ExpandProperty"):
        if call.has("Property"):
            raise NotSimulated("Select-Object -Property with -ExpandProperty")
        out: list[Any] = []
        for item in items:
            value = get_member(call.ctx, item, to_string(call.get("ExpandProperty")))
            if value is None:
                call.error(f"Property \"{to_string(call.get('ExpandProperty'))}\" cannot be found.",
                           category="InvalidArgument", error_id="ExpandPropertyNotFound")
                continue
            out += enumerate_value(value)
        return out
    if call.has("Property"):
        specs = enumerate_value(call.get("Property"))
        wild = [to_string(s) for s in specs if isinstance(s, str) and re.search(r"[*?\[]", s)]
        if wild:
            raise NotSimulated(f"Select-Object -Property with wildcards ({', '.join(wild)})")
        return [dict(_property_value(call, item, spec) for spec in specs) for item in items]
    return items


@cmdlet(
    "ConvertTo-Json",
    Param("InputObject", position=0),
    Param("Depth"),
    Param("Compress", switch=True),
    pipeline=True,
)
def convert_to_json_cmdlet(call: Call) -> list[str]:
    depth = to_int(call.get("Depth", 2))
    if call.has("InputObject"):
        value = call.get("InputObject")
    else:
        items = _input(call)
        if not items:
            return []
        value = items[0] if len(items) == 1 else items
    return [convert_to_json(value, depth, call.flag("Compress"))]


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


@cmdlet("ConvertFrom-Json", Param("InputObject", position=0), pipeline=True)
def convert_from_json(call: Call) -> list[Any]:
    text = to_string(call.get("InputObject")) if call.has("InputObject") else "\n".join(
        to_string(i) for i in _input(call))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        call.fail(f"Invalid JSON primitive: {text[:20]}.", exception_type="System.ArgumentException",
                  category="NotSpecified", error_id="System.ArgumentException")
        raise AssertionError from exc
    return enumerate_value(_from_json(value))


@cmdlet("Format-List", Param("Property", position=0), aliases=("fl",), pipeline=True)
def format_list_cmdlet(call: Call) -> list[Any]:
    if call.has("Property"):
        raise NotSimulated("Format-List -Property")
    return [Rendered(format_list(_input(call)))]


@cmdlet("Format-Table", Param("Property", position=0), Param("AutoSize", switch=True), aliases=("ft",),
        pipeline=True)
def format_table(call: Call) -> list[Any]:
    if call.has("Property"):
        raise NotSimulated("Format-Table -Property")
    return [Rendered(render(_input(call)))]  # the lab prints objects as lists (README: deviations)


@cmdlet("Out-String", Param("InputObject"), Param("Stream", switch=True), Param("Width"), pipeline=True)
def out_string(call: Call) -> list[str]:
    items = enumerate_value(call.get("InputObject")) if call.has("InputObject") else _input(call)
    text = render(items)
    if call.flag("Stream"):
        return text.replace("\r\n", "\n").rstrip("\n").split("\n") if text else []
    return [text]


@cmdlet("Out-Null", Param("InputObject"), pipeline=True)
def out_null(call: Call) -> list[Any]:
    return []


@cmdlet("Write-Output", Param("InputObject", position=0), Param("NoEnumerate", switch=True), aliases=("echo",),
        pipeline=True)
def write_output(call: Call) -> list[Any]:
    if call.input is not None and not call.has("InputObject"):
        return _input(call)
    value = call.get("InputObject")
    return [value] if call.flag("NoEnumerate") else enumerate_value(value)


@cmdlet("Write-Host", Param("Object", position=0), Param("NoNewline", switch=True),
        Param("ForegroundColor"), Param("BackgroundColor"), Param("Separator"))
def write_host(call: Call) -> list[Any]:
    text = " ".join(to_string(v) for v in enumerate_value(call.get("Object")) if v is not None)
    call.ctx.host_out.append(text + ("" if call.flag("NoNewline") else "\r\n"))
    return []


@cmdlet("Write-Error", Param("Message", position=0), Param("Category"), Param("ErrorId"), Param("TargetObject"))
def write_error(call: Call) -> list[Any]:
    call.error(to_string(call.get("Message")), exception_type="Microsoft.PowerShell.Commands.WriteErrorException",
               error_id=to_string(call.get("ErrorId")) or "Microsoft.PowerShell.Commands.WriteErrorException",
               target=call.get("TargetObject"))
    return []


@cmdlet("Write-Warning", Param("Message", position=0))
def write_warning(call: Call) -> list[Any]:
    call.ctx.warnings.append(to_string(call.get("Message")))
    return []


@cmdlet("Write-Verbose", Param("Message", position=0))
def write_verbose(call: Call) -> list[Any]:
    call.ctx.verbose.append(to_string(call.get("Message")))
    return []


@cmdlet("Write-Debug", Param("Message", position=0))
def write_debug(call: Call) -> list[Any]:
    return []


@cmdlet("New-Object", Param("TypeName", position=0), Param("ArgumentList", position=1, aliases=("Args",)),
        Param("Property"), Param("ComObject"))
def new_object(call: Call) -> list[Any]:
    if call.has("ComObject"):
        raise NotSimulated(f"New-Object -ComObject {to_string(call.get('ComObject'))}")
    type_name = to_string(call.get("TypeName"))
    info = pstypes.find(type_name)
    args = enumerate_value(call.get("ArgumentList")) if call.has("ArgumentList") else []
    if info.new is None:
        raise NotSimulated(f"New-Object {type_name}")
    from lab.windows.acl import DotNetException
    from lab.windows.powershell.members import method_error

    try:
        obj = info.new(call.ctx, args)
    except DotNetException as exc:
        error = method_error(".ctor", args, exc)
        error.command = "New-Object"
        raise error from exc
    if call.has("Property"):
        for key, value in call.get("Property").items():
            from lab.windows.powershell.members import set_member

            set_member(call.ctx, obj, to_string(key), value)
    return [obj]


KNOWN_ASSEMBLIES = {
    "system.directoryservices.accountmanagement", "system.directoryservices", "system.security",
    "system.web", "system.web.extensions", "system.core", "system.management.automation",
}  # fmt: skip
KNOWN_MODULES = {
    "microsoft.powershell.security", "microsoft.powershell.management", "microsoft.powershell.utility",
}  # fmt: skip


@cmdlet("Add-Type", Param("AssemblyName", aliases=("AN",)), Param("TypeDefinition", position=0), Param("Path"),
        Param("Language"), Param("ReferencedAssemblies"))
def add_type(call: Call) -> list[Any]:
    names = [to_string(n).lower() for n in enumerate_value(call.get("AssemblyName"))] if call.has(
        "AssemblyName") else []
    if not names or any(n not in KNOWN_ASSEMBLIES for n in names) or len(call.args) > 1:
        raise NotSimulated(f"Add-Type {' '.join(f'-{k} {to_string(v)}' for k, v in call.args.items())}")
    return []


@cmdlet("Import-Module", Param("Name", position=0))
def import_module(call: Call) -> list[Any]:
    names = [to_string(n).lower() for n in enumerate_value(call.get("Name"))]
    unknown = [n for n in names if n not in KNOWN_MODULES]
    if unknown:
        raise NotSimulated(f"Import-Module {', '.join(unknown)}")
    return []


@cmdlet("Set-StrictMode", Param("Version"), Param("Off", switch=True))
def set_strict_mode(call: Call) -> list[Any]:
    call.ctx.strict_mode = not call.flag("Off") and to_string(call.get("Version", "")) not in ("", "0")
    return []


@cmdlet("Start-Sleep", Param("Seconds", position=0), Param("Milliseconds"))
def start_sleep(call: Call) -> list[Any]:
    return []  # the lab does not wait


"""Ansible.ModuleUtils.Legacy (the `#Requires -Module Ansible.ModuleUtils.Legacy` / `# POWERSHELL_COMMON` helpers)
for role-library modules: Parse-Args, Get-AnsibleParam, Exit-Json, Fail-Json, Add-Warning, ConvertTo-Bool.

They follow Ansible.ModuleUtils.Legacy.psm1 of the installed ansible-core; Exit-Json / Fail-Json end the module
with its result (LegacyExit).
"""

from __future__ import annotations

from typing import Any

from lab.windows import argspec, environment, ps_types
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.errors import FlowSignal, NotSimulated
from lab.windows.powershell.values import PSHashtable, enumerate_value, to_string, truthy


class LegacyExit(FlowSignal):
    """Exit-Json / Fail-Json: the module's result."""

    def __init__(self, result: Any) -> None:
        super().__init__("module exit")
        self.result = result


def to_ps(value: Any) -> Any:
    """Module arguments as PowerShell sees them (dictionaries become hashtables)."""
    if isinstance(value, dict):
        table = PSHashtable()
        for key, item in value.items():
            table.set_ci(key, to_ps(item))
        return table
    if isinstance(value, list):
        return [to_ps(item) for item in value]
    return value


def _exit(obj: Any, failed: bool, message: Any = None) -> LegacyExit:
    result = obj if isinstance(obj, PSHashtable) else PSHashtable()
    if failed:
        result.set_ci("msg", message)
        result.set_ci("failed", True)
    if not result.has("changed"):
        result.set_ci("changed", False)
    return LegacyExit(result)


@cmdlet("Parse-Args", Param("arguments", position=0), Param("supports_check_mode", position=1))
def parse_args(call: Call) -> list[Any]:
    arguments = call.get("arguments")
    if arguments:
        raise NotSimulated("Parse-Args with a file argument")
    params = to_ps(call.ctx.module_args or {})
    if params.get_ci("_ansible_check_mode") and not truthy(call.get("supports_check_mode", False)):
        raise _exit(PSHashtable(skipped=True, changed=False, msg="remote module does not support check mode"),
                    failed=False)
    return [params]


@cmdlet(
    "Get-AnsibleParam",
    Param("obj", position=0),
    Param("name", position=1),
    Param("default", position=2),
    Param("resultobj", position=3),
    Param("failifempty", position=4),
    Param("emptyattributefailmessage", position=5),
    Param("ValidateSet", position=6),
    Param("ValidateSetErrorMessage", position=7),
    Param("type", position=8),
    Param("aliases", position=9),
    aliases=("Get-attr",),
)
def get_ansible_param(call: Call) -> list[Any]:
    obj = call.get("obj")
    name = to_string(call.get("name"))
    result_obj = call.get("resultobj", PSHashtable())
    names = [name, *[to_string(a) for a in enumerate_value(call.get("aliases", []))]]
    found = next((n for n in names if isinstance(obj, PSHashtable) and obj.has(n)), None)
    if found is None:
        if not truthy(call.get("failifempty", False)):
            value = call.get("default")
        else:
            message = call.get("emptyattributefailmessage") or f"Get-AnsibleParam: Missing required argument: {name}"
            raise _exit(result_obj, True, message)
    else:
        value = obj.get_ci(found)
        validate = call.get("ValidateSet")
        if validate:
            allowed = enumerate_value(validate)
            if not any(to_string(a).lower() == to_string(value).lower() for a in allowed):
                message = call.get("ValidateSetErrorMessage") or (
                    f"Get-AnsibleParam: Argument {found} needs to be one of {','.join(to_string(a) for a in allowed)}"
                    f" but was {to_string(value)}."
                )
                raise _exit(result_obj, True, message)
    if value is None:
        return [None]
    kind = to_string(call.get("type", "")).lower()
    try:
        value = argspec.legacy_typed(found or name, kind, value, environment.variables(call.ctx.host))
    except argspec.ArgumentError as exc:
        raise _exit(result_obj, True, str(exc)) from exc
    return [value]  # a list is one object: `return , $value`


@cmdlet("Exit-Json", Param("obj", position=0), Param("message", position=1))
def exit_json(call: Call) -> list[Any]:
    raise _exit(call.get("obj"), failed=False)


@cmdlet("Fail-Json", Param("obj", position=0), Param("message", position=1))
def fail_json(call: Call) -> list[Any]:
    obj, message = call.get("obj"), call.get("message")
    if isinstance(obj, str) and message is None:
        obj, message = PSHashtable(), obj
    raise _exit(obj, True, message)


@cmdlet("Add-Warning", Param("obj", position=0), Param("message", position=1))
def add_warning(call: Call) -> list[Any]:
    obj = call.get("obj")
    warnings = obj.get_ci("warnings") or []
    obj.set_ci("warnings", [*enumerate_value(warnings), call.get("message")])
    return []


@cmdlet("ConvertTo-Bool", Param("obj", position=0), pipeline=True)
def convert_to_bool_cmdlet(call: Call) -> list[bool]:
    values = call.input if call.input is not None else [call.get("obj")]
    return [ps_types.legacy_bool(v) for v in values]

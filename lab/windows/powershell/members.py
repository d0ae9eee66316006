"""Member access on PowerShell values: properties, methods (a whitelist per type), static members.

Strings, arrays, hashtables and numbers get the members scripts commonly use; simulated .NET objects
(values.DotNetObject) define their own. A method that is not listed is NotSimulated, never a silent $null.
Member enumeration (PowerShell 3+) applies: `$array.Prop` / `$array.Method()` act on each element.
"""

from __future__ import annotations

from typing import Any

from lab.windows.acl import DotNetException
from lab.windows.powershell.errors import NotSimulated, PSError
from lab.windows.powershell.values import (
    DotNetObject,
    EnumValue,
    PSHashtable,
    ScriptBlock,
    collect,
    equals,
    format_float,
    to_int,
    to_string,
)

VOID = object()  # what a void method returns: writes nothing to the pipeline


class DictionaryEntry(DotNetObject):
    TYPE = "System.Collections.DictionaryEntry"
    DISPLAY = ("Name", "Value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key, self.value = key, value

    def p_key(self) -> Any:
        return self.key

    def p_name(self) -> Any:
        return self.key

    def p_value(self) -> Any:
        return self.value


def method_error(name: str, args: list[Any], exc: DotNetException | PSError) -> PSError:
    message = exc.message
    inner = PSError(
        message,
        exception_type=exc.type_name if isinstance(exc, DotNetException) else exc.exception_type,
    )
    return PSError(
        f'Exception calling "{name}" with "{len(args)}" argument(s): "{message}"',
        exception_type="System.Management.Automation.MethodInvocationException",
        error_id="MethodInvocationException" if name != ".ctor" else "ConstructorInvokedThrowException",
        category="NotSpecified",
        inner=inner,
    )


def null_method_error() -> PSError:
    return PSError(
        "You cannot call a method on a null-valued expression.",
        category="InvalidOperation",
        error_id="InvokeMethodOnNull",
    )


# -- properties ----------------------------------------------------------------------------------------------------


def get_member(ctx: Any, obj: Any, name: str) -> Any:
    lname = name.lower()
    if obj is None:
        if ctx.strict_mode:
            raise PSError(f"The property '{name}' cannot be found on this object. Verify that the property exists.",
                          category="NotSpecified", error_id="PropertyNotFoundStrict")
        return 0 if lname == "count" else None
    if isinstance(obj, list):
        if lname in ("count", "length", "longlength"):
            return len(obj)
        if lname == "rank":
            return 1
        values: list[Any] = []
        for item in obj:
            if item is None:
                continue
            value = get_member(ctx, item, name)
            values.extend(value if isinstance(value, list) else [value])
        return collect(values)
    if isinstance(obj, PSHashtable):
        if obj.has(name):
            return obj.get_ci(name)
        if lname == "count":
            return len(obj)
        if lname == "keys":
            return list(obj.keys())
        if lname == "values":
            return list(obj.values())
        return None
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.lower() == lname:
                return value
        if lname == "count":
            return 1
        if ctx.strict_mode:
            raise PSError(f"The property '{name}' cannot be found on this object. Verify that the property exists.",
                          error_id="PropertyNotFoundStrict")
        return None
    if isinstance(obj, str):
        if lname == "length":
            return len(obj)
        return 1 if lname == "count" else None
    if isinstance(obj, (bool, int, float)):
        return 1 if lname == "count" else None
    if isinstance(obj, DotNetObject):
        try:
            found, value = obj.get(name)
        except DotNetException as exc:  # a property getter that throws
            raise PSError(f'Exception getting "{name}": "{exc.message}"',
                          exception_type="System.Management.Automation.GetValueInvocationException",
                          error_id="CatchFromBaseGetValueInvocationException") from exc
        if found:
            return value
        if lname == "count":
            return 1
        raise NotSimulated(f"the property {name} of [{obj.type_name}]")
    if isinstance(obj, ScriptBlock):
        raise NotSimulated(f"the property {name} of a script block")
    raise NotSimulated(f"the property {name} of {type(obj).__name__}")


def set_member(ctx: Any, obj: Any, name: str, value: Any) -> None:
    if obj is None:
        raise PSError(f"The property '{name}' cannot be found on this object. Verify that the property exists and "
                      "can be set.", category="InvalidOperation", error_id="PropertyAssignmentException")
    if isinstance(obj, PSHashtable):
        obj.set_ci(name, value)
        return
    if isinstance(obj, dict):
        for key in obj:
            if key.lower() == name.lower():
                obj[key] = value
                return
        raise PSError(f"The property '{name}' cannot be found on this object. Verify that the property exists and "
                      "can be set.", category="InvalidOperation", error_id="PropertyAssignmentException")
    if isinstance(obj, DotNetObject):
        try:
            done = obj.set(name, value)
        except DotNetException as exc:
            raise PSError(f'Exception setting "{name}": "{exc.message}"',
                          exception_type="System.Management.Automation.SetValueInvocationException") from exc
        if done:
            return
        raise NotSimulated(f"setting the property {name} of [{obj.type_name}]")
    raise NotSimulated(f"setting the property {name} of {type(obj).__name__}")


# -- methods -------------------------------------------------------------------------------------------------------


def _string_method(ctx: Any, text: str, lname: str, args: list[Any]) -> Any:
    def arg(i: int) -> str:
        return to_string(args[i])

    def ordinal_ignore_case() -> bool:
        return len(args) > 1 and "ignorecase" in to_string(args[-1]).lower()

    if lname == "tolower" or lname == "tolowerinvariant":
        return text.lower()
    if lname == "toupper" or lname == "toupperinvariant":
        return text.upper()
    if lname in ("trim", "trimstart", "trimend"):
        chars = "".join(to_string(a) for a in args) if args else None
        return {"trim": text.strip, "trimstart": text.lstrip, "trimend": text.rstrip}[lname](chars)
    if lname in ("startswith", "endswith", "contains"):
        needle, hay = arg(0), text
        if lname != "contains" and ordinal_ignore_case():
            needle, hay = needle.lower(), hay.lower()
        return {"startswith": hay.startswith, "endswith": hay.endswith, "contains": hay.__contains__}[lname](needle)
    if lname == "replace":
        return text.replace(arg(0), arg(1))
    if lname == "split":
        separators = [to_string(a) for a in args] or [" "]
        if len(separators) == 1 and len(separators[0]) > 1 and not isinstance(args[0], list):
            separators = list(separators[0])  # a string converts to char[]
        parts = [text]
        for sep in separators:
            parts = [piece for part in parts for piece in part.split(sep)]
        return parts
    if lname == "substring":
        start = to_int(args[0])
        return text[start : start + to_int(args[1])] if len(args) > 1 else text[start:]
    if lname == "indexof":
        return text.lower().find(arg(0).lower()) if ordinal_ignore_case() else text.find(arg(0))
    if lname == "lastindexof":
        return text.rfind(arg(0))
    if lname in ("padleft", "padright"):
        fill = arg(1) if len(args) > 1 else " "
        width = to_int(args[0])
        return text.rjust(width, fill) if lname == "padleft" else text.ljust(width, fill)
    if lname == "equals":
        return text.lower() == arg(0).lower() if ordinal_ignore_case() else text == arg(0)
    if lname == "tochararray":
        return list(text)
    if lname == "tostring":
        return text
    raise NotSimulated(f"the method {lname} of [System.String]")


def _hashtable_method(ctx: Any, table: PSHashtable, lname: str, args: list[Any]) -> Any:
    if lname in ("containskey", "contains"):
        return table.has(args[0])
    if lname == "containsvalue":
        return any(equals(v, args[0]) for v in table.values())
    if lname == "add":
        if table.has(args[0]):
            raise DotNetException(
                "System.ArgumentException",
                f"Item has already been added. Key in dictionary: '{to_string(table.key_of(args[0]))}'  "
                f"Key being added: '{to_string(args[0])}'",
            )
        table.set_ci(args[0], args[1])
        return None
    if lname == "remove":
        table.remove(args[0])
        return None
    if lname == "clear":
        table.clear()
        return None
    if lname == "clone":
        clone = PSHashtable()
        clone.update(table)
        return clone
    if lname == "getenumerator":
        return [DictionaryEntry(k, v) for k, v in table.items()]
    raise NotSimulated(f"the method {lname} of [System.Collections.Hashtable]")


def invoke_method(ctx: Any, obj: Any, name: str, args: list[Any]) -> Any:
    """Call a method; returns VOID for methods that return nothing."""
    lname = name.lower()
    if obj is None:
        raise null_method_error()
    try:
        return _invoke(ctx, obj, name, lname, args)
    except DotNetException as exc:
        raise method_error(name, args, exc) from exc


def _invoke(ctx: Any, obj: Any, name: str, lname: str, args: list[Any]) -> Any:
    if lname == "gettype" and not args:
        return ctx.type_of(obj)
    if isinstance(obj, list):
        if lname == "contains":
            return any(equals(item, args[0]) for item in obj)
        if lname == "indexof":
            return next((i for i, item in enumerate(obj) if equals(item, args[0])), -1)
        if lname == "tostring" and not args:
            return "System.Object[]"
        results = [invoke_method(ctx, item, name, args) for item in obj]
        return collect([r for r in results if r is not VOID])
    if isinstance(obj, str):
        return _string_method(ctx, obj, lname, args)
    if isinstance(obj, PSHashtable):
        result = _hashtable_method(ctx, obj, lname, args)
        return VOID if result is None and lname in ("add", "remove", "clear") else result
    if lname == "tostring" and not args:
        if isinstance(obj, float):
            return format_float(obj)
        return to_string(obj)
    if lname == "equals" and len(args) == 1:
        return equals(obj, args[0])
    if isinstance(obj, (bool, int, float)):
        if lname == "compareto":
            return (obj > args[0]) - (obj < args[0])
        raise NotSimulated(f"the method {name} of a number")
    if isinstance(obj, ScriptBlock):
        if lname in ("invoke", "invokereturnasis"):
            return collect(ctx.call_scriptblock(obj, args=args))
        raise NotSimulated(f"the method {name} of a script block")
    if isinstance(obj, DotNetObject):
        method = obj.method(name)
        if method is None:
            if isinstance(obj, EnumValue) and lname == "tostring":
                return obj.to_string()
            raise NotSimulated(f"the method {name}() of [{obj.type_name}]")
        result = method(args)
        return VOID if result is None else result
    if isinstance(obj, dict):
        raise NotSimulated(f"the method {name}() of a {getattr(obj, 'type_name', 'PSCustomObject')}")
    raise NotSimulated(f"the method {name}() of {type(obj).__name__}")

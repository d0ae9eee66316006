""".NET types the subset knows: `[type]` literals, casts, `New-Object` / `::new()`, static members, `-is` / `-as`.

A type is a TypeInfo in TYPES (by full name, lower-case, and by its PowerShell accelerators). Adding one is a
`register(TypeInfo(...))` call: give `cast` (value -> value), `new` (ctx, args -> object), `static_props`
(name -> fn(ctx)), `static_methods` (name -> fn(ctx, args)), `check` (value -> bool, for `-is`) or `enum`.
A type that is not registered is NotSimulated (the lab cannot tell whether Windows has it).
"""

from __future__ import annotations

import dataclasses
import ntpath
import re
from collections.abc import Callable
from typing import Any

from lab.windows import environment
from lab.windows.acl import DotNetException
from lab.windows.netenum import ACTION_PREFERENCE, CastError, EnumType
from lab.windows.powershell.errors import NotSimulated, PSError
from lab.windows.powershell.values import (
    CmdletObject,
    DotNetObject,
    EnumValue,
    PSHashtable,
    ScriptBlock,
    cast_error,
    enumerate_value,
    to_int,
    to_number,
    to_string,
    truthy,
)


@dataclasses.dataclass(eq=False)
class TypeInfo(DotNetObject):
    full_name: str
    aliases: tuple[str, ...] = ()
    cast: Callable[[Any, Any], Any] | None = None  # (ctx, value) -> value
    new: Callable[[Any, list[Any]], Any] | None = None  # (ctx, args) -> object
    static_props: dict[str, Callable[[Any], Any]] = dataclasses.field(default_factory=dict)
    static_methods: dict[str, Callable[[Any, list[Any]], Any]] = dataclasses.field(default_factory=dict)
    check: Callable[[Any], bool] | None = None
    enum: EnumType | None = None

    TYPE = "System.RuntimeType"
    DISPLAY = ("Name", "FullName")

    def p_name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]

    def p_fullname(self) -> str:
        return self.full_name

    def to_string(self) -> str:
        return self.full_name

    def equals(self, other: Any) -> bool:
        return isinstance(other, TypeInfo) and other.full_name == self.full_name

    def is_instance(self, value: Any) -> bool:
        if self.check is not None:
            return self.check(value)
        if self.enum is not None:
            return isinstance(value, EnumValue) and value.enum is self.enum
        return isinstance(value, DotNetObject) and value.type_name == self.full_name

    def convert(self, ctx: Any, value: Any) -> Any:
        if self.enum is not None:
            if isinstance(value, EnumValue) and value.enum is self.enum:
                return value
            try:
                number = value.value if isinstance(value, EnumValue) else self.enum.convert(value)
            except CastError as exc:
                raise PSError(str(exc), exception_type="System.Management.Automation.PSInvalidCastException",
                              category="InvalidArgument") from exc
            return EnumValue(self.enum, number)
        if self.is_instance(value):
            return value
        if self.cast is not None:
            return self.cast(ctx, value)
        if self.new is not None and value is not None:
            try:
                return self.new(ctx, [value])  # PowerShell converts through a one-argument constructor
            except DotNetException as exc:  # ... and reports the constructor's exception as the cast's error
                raise cast_error(value, self.full_name, exc.message) from exc
        raise cast_error(value, self.full_name)


TYPES: dict[str, TypeInfo] = {}


def register(info: TypeInfo) -> TypeInfo:
    for name in (info.full_name, *info.aliases):
        TYPES[name.lower()] = info
    return info


def enum_type(enum: EnumType, *aliases: str) -> TypeInfo:
    info = TypeInfo(enum.full_name, aliases, enum=enum)
    for name, value in enum.members:
        info.static_props[name.lower()] = lambda ctx, v=value: EnumValue(enum, v)
    return register(info)


def find(name: str) -> TypeInfo:
    key = re.sub(r"\s+", "", name).lower()
    if key.endswith("[]"):
        return array_of(find(key[:-2]))
    for candidate in (key, "system." + key):
        if candidate in TYPES:
            return TYPES[candidate]
    raise NotSimulated(f"the .NET type [{name}]")


def array_of(element: TypeInfo) -> TypeInfo:
    def cast(ctx: Any, value: Any) -> list[Any]:
        return [element.convert(ctx, item) for item in enumerate_value(value) if not (item is None and value is None)]

    return TypeInfo(element.full_name + "[]", cast=cast, check=lambda v: isinstance(v, list))


# -- core types ----------------------------------------------------------------------------------------------------


def _int_cast(ctx: Any, value: Any) -> int:
    if isinstance(value, str) and value.strip() == "":
        return 0
    return to_int(value)


def _float_cast(ctx: Any, value: Any) -> float:
    return float(to_number(value, "System.Double"))


def _hashtable_cast(ctx: Any, value: Any) -> PSHashtable:
    if isinstance(value, dict):
        table = PSHashtable()
        for key, item in value.items():
            table.set_ci(key, item)
        return table
    raise cast_error(value, "System.Collections.Hashtable")


def _custom_object_cast(ctx: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    return value


def _version_cast(ctx: Any, value: Any) -> Version:
    text = to_string(value).strip()
    if not re.fullmatch(r"\d+(\.\d+){1,3}", text):
        raise cast_error(value, "System.Version", "Version string portion was too short or too long.")
    return Version(*[int(p) for p in text.split(".")])


class Version(DotNetObject):
    TYPE = "System.Version"
    DISPLAY = ("Major", "Minor", "Build", "Revision", "MajorRevision", "MinorRevision")

    def __init__(self, major: int, minor: int, build: int = -1, revision: int = -1) -> None:
        self.parts = (major, minor, build, revision)

    def p_major(self) -> int:
        return self.parts[0]

    def p_minor(self) -> int:
        return self.parts[1]

    def p_build(self) -> int:
        return self.parts[2]

    def p_revision(self) -> int:
        return self.parts[3]

    def p_majorrevision(self) -> int:
        return self.parts[3] >> 16 if self.parts[3] > 0 else (-1 if self.parts[3] < 0 else 0)

    def p_minorrevision(self) -> int:
        return self.parts[3] & 0xFFFF if self.parts[3] >= 0 else -1

    def to_string(self) -> str:
        return ".".join(str(p) for p in self.parts if p >= 0)

    def equals(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = _version_cast(None, other)
            except PSError:
                return False
        return isinstance(other, Version) and other.parts == self.parts

    def compare_to(self, other: Any) -> int:
        if not isinstance(other, Version):
            other = _version_cast(None, other)
        return (self.parts > other.parts) - (self.parts < other.parts)


def _type_cast(ctx: Any, value: Any) -> TypeInfo:
    if isinstance(value, TypeInfo):
        return value
    return find(to_string(value))


def _environment_expand(ctx: Any, args: list[Any]) -> str:
    return environment.expand(ctx.host, to_string(args[0]))


def _path_combine(ctx: Any, args: list[Any]) -> str:
    result = ""
    for part in (to_string(a) for a in args):
        if re.match(r"^([A-Za-z]:)?\\", part) or re.match(r"^[A-Za-z]:", part):
            result = part
        elif result and not result.endswith("\\"):
            result = result + "\\" + part
        else:
            result += part
    return result


def _string_join(ctx: Any, args: list[Any]) -> str:
    items = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:]
    return to_string(args[0]).join(to_string(i) for i in items)


def _register_core() -> None:
    register(TypeInfo("System.String", ("string",), cast=lambda ctx, v: to_string(v),
                      check=lambda v: isinstance(v, str),
                      static_props={"empty": lambda ctx: ""},
                      static_methods={
                          "isnullorempty": lambda ctx, a: a[0] is None or to_string(a[0]) == "",
                          "isnullorwhitespace": lambda ctx, a: a[0] is None or to_string(a[0]).strip() == "",
                          "join": _string_join,
                      }))
    for full, aliases in (("System.Int32", ("int", "int32")), ("System.Int64", ("long", "int64")),
                          ("System.UInt32", ("uint32",)), ("System.Byte", ("byte",))):
        register(TypeInfo(full, aliases, cast=_int_cast,
                          check=lambda v: isinstance(v, int) and not isinstance(v, bool),
                          static_props={"maxvalue": lambda ctx, f=full: {"System.Int32": 2**31 - 1,
                                                                         "System.Int64": 2**63 - 1,
                                                                         "System.UInt32": 2**32 - 1,
                                                                         "System.Byte": 255}[f]}))
    register(TypeInfo("System.Double", ("double", "float", "single"), cast=_float_cast,
                      check=lambda v: isinstance(v, float)))
    register(TypeInfo("System.Boolean", ("bool", "boolean"), cast=lambda ctx, v: truthy(v),
                      check=lambda v: isinstance(v, bool)))
    register(TypeInfo("System.Management.Automation.SwitchParameter", ("switch",),
                      cast=lambda ctx, v: truthy(v), check=lambda v: isinstance(v, bool)))
    register(TypeInfo("System.Object", ("object",), cast=lambda ctx, v: v, check=lambda v: v is not None))
    register(TypeInfo("System.Object[]", ("array",), cast=lambda ctx, v: enumerate_value(v) if v is not None else [],
                      check=lambda v: isinstance(v, list)))
    register(TypeInfo("System.Collections.Hashtable", ("hashtable",), cast=_hashtable_cast,
                      check=lambda v: isinstance(v, PSHashtable), new=lambda ctx, a: PSHashtable()))
    register(TypeInfo("System.Collections.Specialized.OrderedDictionary", ("ordered",), cast=_hashtable_cast,
                      check=lambda v: isinstance(v, PSHashtable)))
    register(TypeInfo("System.Management.Automation.PSCustomObject", ("pscustomobject",),
                      cast=_custom_object_cast,
                      check=lambda v: isinstance(v, dict) and not isinstance(v, (PSHashtable, CmdletObject))))
    register(TypeInfo("System.Management.Automation.PSObject", ("psobject",), cast=lambda ctx, v: v,
                      check=lambda v: v is not None))
    register(TypeInfo("System.Void", ("void",), cast=lambda ctx, v: None))
    register(TypeInfo("System.Management.Automation.ScriptBlock", ("scriptblock",),
                      check=lambda v: isinstance(v, ScriptBlock)))
    register(TypeInfo("System.Type", ("type",), cast=_type_cast, check=lambda v: isinstance(v, TypeInfo)))
    register(TypeInfo("System.Version", ("version",), cast=_version_cast,
                      new=lambda ctx, a: _version_cast(ctx, ".".join(to_string(x) for x in a)) if len(a) != 1
                      else _version_cast(ctx, a[0])))
    register(TypeInfo("System.Text.RegularExpressions.Regex", ("regex",),
                      static_methods={"escape": lambda ctx, a: re.sub(r"([\\*+?|{\[()^$.#\s])", r"\\\1",
                                                                      to_string(a[0]))}))
    register(TypeInfo("System.Environment", static_methods={
        "expandenvironmentvariables": _environment_expand,
        "getenvironmentvariable": lambda ctx, a: environment.lookup(ctx.host, to_string(a[0])),
    }, static_props={"machinename": lambda ctx: ctx.state["hostname"], "newline": lambda ctx: "\r\n"}))
    register(TypeInfo("System.IO.Path", static_methods={
        "combine": _path_combine,
        "getfilename": lambda ctx, a: ntpath.basename(to_string(a[0])),
        "getdirectoryname": lambda ctx, a: ntpath.dirname(to_string(a[0])) or None,
        "getextension": lambda ctx, a: ntpath.splitext(to_string(a[0]))[1],
        "getfilenamewithoutextension": lambda ctx, a: ntpath.splitext(ntpath.basename(to_string(a[0])))[0],
    }))
    enum_type(ACTION_PREFERENCE)


_register_core()

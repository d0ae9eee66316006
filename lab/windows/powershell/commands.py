"""The command registry: cmdlets (with their parameters) and native executables.

Adding a cmdlet is one decorated function:

    @cmdlet("Get-Thing", Param("Name", position=0), Param("Force", switch=True), aliases=("gth",))
    def get_thing(call: Call) -> list[Any]:
        return [...]          # the objects written to the pipeline (call.input holds the pipeline input)

`call.args` maps the canonical parameter names that were given to their values; `call.error(...)` writes a
non-terminating error (honouring -ErrorAction / $ErrorActionPreference), `call.fail(...)` a terminating one.
Parameters that are not declared are NotSimulated, so a cmdlet never silently ignores an option. Common
parameters (-ErrorAction, -WarningAction, -Verbose, -Debug, ...) are handled here; -WhatIf/-Confirm only for
cmdlets declared with `should_process=True`.

Adding a native executable is `@native("name")` on `fn(call: NativeCall) -> NativeResult`; it receives the
argument strings as Windows would pass them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from lab.windows.netenum import ACTION_PREFERENCE, CastError
from lab.windows.powershell.errors import NotSimulated, PSError
from lab.windows.powershell.values import EnumValue, to_string, truthy


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    position: int | None = None
    switch: bool = False
    aliases: tuple[str, ...] = ()


@dataclasses.dataclass
class CmdletSpec:
    name: str
    fn: Callable[[Call], Iterable[Any] | None]
    params: tuple[Param, ...]
    pipeline: bool  # accepts pipeline input
    should_process: bool


REGISTRY: dict[str, CmdletSpec] = {}
COMMON = {
    "erroraction": "ErrorAction",
    "ea": "ErrorAction",
    "warningaction": "WarningAction",
    "wa": "WarningAction",
    "informationaction": "InformationAction",
    "infa": "InformationAction",
    "verbose": "Verbose",
    "vb": "Verbose",
    "debug": "Debug",
    "db": "Debug",
}
COMMON_SWITCHES = {"Verbose", "Debug"}
SHOULD_PROCESS = {"whatif": "WhatIf", "wi": "WhatIf", "confirm": "Confirm", "cf": "Confirm"}


def cmdlet(
    name: str, *params: Param, aliases: tuple[str, ...] = (), pipeline: bool = False, should_process: bool = False
) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    def register(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
        spec = CmdletSpec(name, fn, params, pipeline, should_process)
        for key in (name, *aliases):
            REGISTRY[key.lower()] = spec
        return fn

    return register


class Call:
    """One invocation of a cmdlet."""

    def __init__(self, ctx: Any, spec: CmdletSpec, args: dict[str, Any], input_items: list[Any] | None) -> None:
        self.ctx = ctx
        self.spec = spec
        self.name = spec.name
        self.args = args
        self.input = input_items
        self.error_action = self._error_action(args.get("ErrorAction"))

    @property
    def host(self) -> Any:
        return self.ctx.host

    @property
    def state(self) -> dict[str, Any]:
        return self.ctx.state

    def _error_action(self, value: Any) -> str | None:
        if value is None:
            return None
        try:
            number = value.value if isinstance(value, EnumValue) else ACTION_PREFERENCE.convert(value)
        except CastError as exc:
            raise PSError(f"Cannot bind parameter 'ErrorAction'. {exc}", command=self.name,
                          category="InvalidArgument", error_id="CannotConvertArgumentNoMessage") from exc
        return ACTION_PREFERENCE.format(number)

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.args

    def flag(self, name: str) -> bool:
        return truthy(self.args.get(name, False))

    def error(self, message: str, **details: Any) -> None:
        self.ctx.write_error(PSError(message, command=self.name, **details), self.error_action)

    def fail(self, message: str, **details: Any) -> NoReturn:
        raise PSError(message, command=self.name, **details)


def _match(spec: CmdletSpec, token: str) -> str:
    lowered = token.lower()
    names: dict[str, str] = {}
    for param in spec.params:
        for key in (param.name, *param.aliases):
            names[key.lower()] = param.name
    for key, canonical in COMMON.items():
        names.setdefault(key, canonical)
    if spec.should_process:
        for key, canonical in SHOULD_PROCESS.items():
            names.setdefault(key, canonical)
    if lowered in names:
        return names[lowered]
    candidates = {canonical for key, canonical in names.items() if key.startswith(lowered)}
    if len(candidates) == 1:
        return candidates.pop()
    if len(candidates) > 1:
        raise PSError(
            f"Parameter cannot be processed because the parameter name '{token}' is ambiguous. Possible matches "
            f"include: {' '.join('-' + c for c in sorted(candidates))}.",
            command=spec.name, category="InvalidArgument", error_id="AmbiguousParameter",
        )
    raise NotSimulated(f"the parameter -{token} of {spec.name}")


def split_arguments(
    elements: list[tuple[str, Any, Any]],
    resolve: Callable[[str], Any],
    is_switch: Callable[[Any], bool],
    missing: Callable[[Any], PSError],
) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """The named and positional arguments of a command, in command-line order. elements: ('param', name,
    value-or-MISSING) and ('arg', value, _); `resolve` maps a parameter name to its parameter (None: skip it); a
    named parameter without an attached value is True for a switch, else takes the next argument."""
    named: list[tuple[Any, Any]] = []
    positional: list[Any] = []
    index = 0
    while index < len(elements):
        kind, name, value = elements[index]
        index += 1
        if kind == "arg":
            positional.append(name)
            continue
        param = resolve(str(name))
        if param is None:
            continue
        if value is MISSING:
            if is_switch(param):
                value = True
            elif index < len(elements) and elements[index][0] == "arg":
                value = elements[index][1]
                index += 1
            else:
                raise missing(param)
        named.append((param, value))
    return named, positional


def bind(spec: CmdletSpec, elements: list[tuple[str, Any, Any]]) -> dict[str, Any]:
    """Bind a cmdlet's arguments: named parameters (unique prefixes, common parameters), then positions."""
    by_name = {p.name: p for p in spec.params}
    named, positional = split_arguments(
        elements,
        lambda token: _match(spec, token),
        lambda canonical: (canonical in by_name and by_name[canonical].switch) or canonical in COMMON_SWITCHES
        or canonical in ("WhatIf", "Confirm"),
        lambda canonical: PSError(
            f"Missing an argument for parameter '{canonical}'. Specify a parameter of type 'System.Object' "
            "and try again.",
            command=spec.name, category="InvalidArgument", error_id="MissingArgument",
        ),
    )
    bound: dict[str, Any] = dict(named)
    slots = sorted((p for p in spec.params if p.position is not None), key=lambda p: p.position or 0)
    for value in positional:
        slot = next((p for p in slots if p.name not in bound), None)
        if slot is None:
            raise PSError(
                f"A positional parameter cannot be found that accepts argument '{to_string(value)}'.",
                command=spec.name, category="InvalidArgument", error_id="PositionalParameterNotFound",
            )
        bound[slot.name] = value
    return bound


MISSING = object()


# -- native executables --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class NativeResult:
    stdout: str = ""
    stderr: str = ""
    rc: int = 0


@dataclasses.dataclass
class NativeCall:
    host: Any
    name: str  # as typed
    argv: list[str]  # the arguments

    @property
    def state(self) -> dict[str, Any]:
        return self.host.state

    @property
    def line(self) -> str:
        return " ".join([self.name, *(f'"{a}"' if " " in a else a for a in self.argv)])


NATIVES: dict[str, Callable[[NativeCall], NativeResult]] = {}


def native(*names: str) -> Callable[[Callable[[NativeCall], NativeResult]], Callable[[NativeCall], NativeResult]]:
    def register(fn: Callable[[NativeCall], NativeResult]) -> Callable[[NativeCall], NativeResult]:
        for name in names:
            NATIVES[name.lower()] = fn
        return fn

    return register


def native_name(command: str) -> str | None:
    """The registry key of an executable name or path (`C:\\Windows\\System32\\icacls.exe` -> icacls)."""
    base = command.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if base.endswith(".exe"):
        base = base[:-4]
    return base if base in NATIVES else None

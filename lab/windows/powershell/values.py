"""PowerShell values and their semantics: hashtables, script blocks, .NET objects, conversions, comparisons.

Python stands in for .NET as follows: None = $null, bool, int (Int32/Int64), float (Double), str, list = object[],
PSHashtable = @{} (case-insensitive keys), a plain dict = a PSCustomObject (an ordered property bag),
DotNetObject subclasses = simulated .NET objects (only the members they define exist; others are NotSimulated),
EnumValue = a value of a .NET enum, ScriptBlock = { ... }.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from lab.windows import wildcard
from lab.windows.netenum import CastError, EnumType
from lab.windows.powershell.errors import NotSimulated, PSError


class PSHashtable(dict):  # type: ignore[type-arg]
    """@{ }: keys compare case-insensitively (PowerShell creates hashtables with an OrdinalIgnoreCase comparer)."""

    def key_of(self, key: Any) -> Any:
        if isinstance(key, str):
            lowered = key.lower()
            for existing in self:
                if isinstance(existing, str) and existing.lower() == lowered:
                    return existing
        return key

    def get_ci(self, key: Any, default: Any = None) -> Any:
        return dict.get(self, self.key_of(key), default)

    def set_ci(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, self.key_of(key), value)

    def has(self, key: Any) -> bool:
        return dict.__contains__(self, self.key_of(key))

    def remove(self, key: Any) -> None:
        dict.pop(self, self.key_of(key), None)


class ScriptBlock:
    def __init__(self, body: Any, text: str) -> None:
        self.body = body
        self.text = text

    def __repr__(self) -> str:
        return f"ScriptBlock({self.text!r})"


class DotNetObject:
    """A simulated .NET object.

    Subclasses define properties as methods `p_<name>` (setters `set_<name>`) and methods as `m_<name>`
    (called with the list of arguments); `DISPLAY` lists the property names in the order Format-List and
    ConvertTo-Json show them. A member that is not defined is not simulated.
    """

    TYPE = "System.Object"
    DISPLAY: tuple[str, ...] = ()

    @property
    def type_name(self) -> str:
        return self.TYPE

    def get(self, name: str) -> tuple[bool, Any]:
        getter = getattr(self, "p_" + name.lower(), None)
        if getter is None:
            return False, None
        return True, getter()

    def set(self, name: str, value: Any) -> bool:
        setter = getattr(self, "set_" + name.lower(), None)
        if setter is None:
            return False
        setter(value)
        return True

    def method(self, name: str) -> Callable[[list[Any]], Any] | None:
        return getattr(self, "m_" + name.lower(), None)

    def properties(self) -> list[tuple[str, Any]]:
        return [(name, self.get(name)[1]) for name in self.DISPLAY]

    def to_string(self) -> str:
        return self.type_name

    def equals(self, other: Any) -> bool:
        return self is other

    def truthy(self) -> bool:
        return True


class EnumValue(DotNetObject):
    def __init__(self, enum: EnumType, value: int) -> None:
        self.enum = enum
        self.value = int(value)

    @classmethod
    def named(cls, enum: EnumType, name: str) -> EnumValue:
        """The member called `name` (a state value of the lab); a name the lab does not know is not simulated."""
        value = next((v for member, v in enum.members if member == name), None)
        if value is None:
            known = ", ".join(member for member, _ in enum.members)
            raise NotSimulated(f"{enum.name} value {name!r} (known: {known})")
        return cls(enum, value)

    @property
    def type_name(self) -> str:
        return self.enum.full_name

    def to_string(self) -> str:
        return self.enum.format(self.value)

    def equals(self, other: Any) -> bool:
        try:
            return self.value == self.enum.convert(other.value if isinstance(other, EnumValue) else other)
        except CastError:
            return False

    def truthy(self) -> bool:
        return self.value != 0

    # A value type: equal like -eq (to the same value, its name or its number), also in Python.
    def __eq__(self, other: object) -> bool:
        return self.equals(other)

    def __hash__(self) -> int:
        return hash((self.enum.full_name, self.value))

    def m_hasflag(self, args: list[Any]) -> bool:
        other = args[0].value if isinstance(args[0], EnumValue) else self.enum.convert(args[0])
        return self.value & other == other

    def __repr__(self) -> str:
        return f"EnumValue({self.enum.name}, {self.to_string()!r})"


class CmdletObject(dict):  # type: ignore[type-arg]
    """An object a simulated cmdlet writes (a ServiceController, a BitLockerVolume, a CIM instance, ...): its
    properties as an ordered bag, like a PSCustomObject, plus its .NET type name. Its ToString() (what `[string]`,
    `"$x"` and win_powershell below its depth give) is not simulated."""

    def __init__(self, type_name: str, properties: dict[str, Any]) -> None:
        super().__init__(properties)
        self.type_name = type_name


class Rendered:
    """Text already formatted for the console (Format-List / Format-Table output)."""

    def __init__(self, text: str) -> None:
        self.text = text


# -- conversions ---------------------------------------------------------------------------------------------------


def format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}E{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def to_string(value: Any) -> str:
    """PowerShell's conversion to [string] (also used in string expansion)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(to_string(v) for v in value)
    if isinstance(value, PSHashtable):
        return "System.Collections.Hashtable"
    if isinstance(value, CmdletObject):
        raise NotSimulated(f"the string form (ToString()) of a {value.type_name}")
    if isinstance(value, dict):
        return "@{" + "; ".join(f"{k}={to_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, DotNetObject):
        return value.to_string()
    if isinstance(value, ScriptBlock):
        return value.text
    if isinstance(value, Rendered):
        return value.text
    return str(value)


def truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        if not value:
            return False
        return truthy(value[0]) if len(value) == 1 else True
    if isinstance(value, DotNetObject):
        return value.truthy()
    return True


def cast_error(value: Any, type_name: str, detail: str = "") -> PSError:
    message = f'Cannot convert value "{to_string(value)}" to type "{type_name}".'
    if detail:
        message += f' Error: "{detail}"'
    return PSError(
        message, exception_type="System.Management.Automation.PSInvalidCastException", category="InvalidArgument"
    )


def to_number(value: Any, type_name: str = "System.Int32") -> int | float:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, EnumValue):
        return value.value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            if re.fullmatch(r"[+-]?0x[0-9a-f]+", text, re.I):
                return int(text, 16)
            if re.fullmatch(r"[+-]?\d+", text):
                return int(text)
            return float(text)
        except ValueError:
            pass
        raise cast_error(value, type_name, "Input string was not in a correct format.")
    if isinstance(value, list) and len(value) == 1:
        return to_number(value[0], type_name)
    raise cast_error(value, type_name)


def to_int(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float):
        return int(round(number))  # .NET rounds to even, like Python's round
    return number


def enumerate_value(value: Any) -> list[Any]:
    """What a value writes to the pipeline: arrays are unrolled, anything else (hashtables too) is one object."""
    if isinstance(value, list):
        return list(value)
    return [value]


def collect(items: list[Any]) -> Any:
    """A statement's output as a value: nothing = $null, one object = itself, several = an array."""
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return list(items)


# -- comparisons ---------------------------------------------------------------------------------------------------


def _casefold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.lower()


def equals(left: Any, right: Any, case_sensitive: bool = False) -> bool:
    """`-eq` for a scalar left operand: the right operand is converted to the left operand's type."""
    if left is None:
        return right is None
    if right is None:
        return False
    if isinstance(left, str):
        return _casefold(left, case_sensitive) == _casefold(to_string(right), case_sensitive)
    if isinstance(left, bool):
        return left == truthy(right)
    if isinstance(left, (int, float)):
        try:
            return left == to_number(right)
        except PSError:
            return False
    if isinstance(left, DotNetObject):
        return left.equals(right)
    return left is right


def compare(left: Any, right: Any, case_sensitive: bool = False) -> int:
    """Ordering for -lt/-le/-gt/-ge (left operand's type decides)."""
    if isinstance(left, str):
        a, b = _casefold(left, case_sensitive), _casefold(to_string(right), case_sensitive)
        return (a > b) - (a < b)
    if isinstance(left, (int, float, bool)) or left is None:
        a, b = to_number(left), to_number(right)
        return (a > b) - (a < b)
    if isinstance(left, EnumValue):
        b = right.value if isinstance(right, EnumValue) else left.enum.convert(right)
        return (left.value > b) - (left.value < b)
    ordering = getattr(left, "compare_to", None)
    if ordering is not None:
        return int(ordering(right))
    raise NotSimulated(f"ordering comparison of {getattr(left, 'type_name', type(left).__name__)}")


def like(text: Any, pattern: Any, case_sensitive: bool = False) -> bool:
    try:
        return wildcard.matches(to_string(text), to_string(pattern), case_sensitive=case_sensitive)
    except wildcard.WildcardError as exc:
        raise PSError(str(exc), exception_type="System.Management.Automation.WildcardPatternException") from exc


def dotnet_regex(pattern: str) -> str:
    """.NET regex syntax to Python's (named groups)."""
    return re.sub(r"\(\?<(?![=!])", "(?P<", pattern)


def dotnet_replacement(replacement: str) -> str:
    out, i = [], 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "$" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "&":
                out.append(r"\g<0>")
                i += 2
                continue
            match = re.compile(r"\d+|\{(\w+)\}").match(replacement, i + 1)
            if match:
                out.append(rf"\g<{match.group(1) or match.group(0)}>")
                i = match.end()
                continue
        out.append("\\\\" if ch == "\\" else ch)
        i += 1
    return "".join(out)

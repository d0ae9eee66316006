"""How module arguments look and convert on the Windows side: .NET type names, ToString(), and the converters
of Ansible.Basic.cs (ParseBool, ParseInt, ParseList, ...), PowerShell casts and Legacy.psm1 conversions.
ConversionError's text is what .NET / PowerShell would show for the failing statement
(`Cannot convert value "x" to type "System.UInt64". Error: "..."`).

Arguments reach a module through the exec wrapper's Convert-JsonObject (exec_wrapper.ps1): JSON objects become
Hashtables, arrays Object[], integers Int32 (Int64 when larger), other numbers Decimal (Windows PowerShell 5.1
ConvertFrom-Json), booleans Boolean.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from lab.windows.environment import expand_with

BOOLEANS_TRUE = ["y", "yes", "on", "1", "true", "t", "1.0"]  # Ansible.Basic.cs BOOLEANS_TRUE
BOOLEANS_FALSE = ["n", "no", "off", "0", "false", "f", "0.0"]  # Ansible.Basic.cs BOOLEANS_FALSE
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32_MAX = 2**32 - 1
FORMAT_ERROR = "Input string was not in a correct format."
INVALID_PATH_CHARS = set('"<>|\0') | {chr(c) for c in range(1, 32)}  # .NET Framework Path.GetInvalidPathChars()


class ConversionError(ValueError):
    """A value a converter rejects; str(exc) is the .NET exception message."""


def type_name(value: Any) -> str:
    """The .NET type of an argument as the module sees it (value.GetType().FullName)."""
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if INT32[0] <= value <= INT32[1] else "System.Int64"
    if isinstance(value, float):
        return "System.Decimal"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, Mapping):
        return "System.Collections.Hashtable"
    if isinstance(value, (list, tuple)):
        return "System.Object[]"
    return "System.Object"


def to_str(value: Any) -> str:
    """value.ToString() (Ansible.Basic ParseStr)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return format(decimal.Decimal(repr(value)), "f")
    if isinstance(value, (str, int)):
        return str(value)
    return type_name(value)


def interpolate(value: Any) -> str:
    """How PowerShell renders a value inside a double-quoted string ("$value"): arrays space-joined."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(interpolate(v) for v in value)
    return to_str(value)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = to_str(value).lower().strip()
    if text in BOOLEANS_TRUE:
        return True
    if text in BOOLEANS_FALSE:
        return False
    raise ConversionError(
        f"The value '{text}' is not a valid boolean. Valid booleans include: "
        f"{', '.join(BOOLEANS_TRUE + BOOLEANS_FALSE)}"
    )


def parse_int(value: Any) -> int:
    """Ansible.Basic ParseInt: an Int32 as it is, anything else through Int32.Parse(value.ToString())."""
    if isinstance(value, int) and not isinstance(value, bool) and INT32[0] <= value <= INT32[1]:
        return value
    text = to_str(value)
    if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
        raise ConversionError(FORMAT_ERROR)
    number = int(text)
    if not INT32[0] <= number <= INT32[1]:
        raise ConversionError("Value was either too large or too small for an Int32.")
    return number


def parse_float(value: Any) -> float:
    text = to_str(value).strip()
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise ConversionError(FORMAT_ERROR)
    return float(text)


def parse_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, int) and not isinstance(value, bool) and INT64[0] <= value <= INT64[1]:
        return [value]
    raise ConversionError(f"{type_name(value)} cannot be converted to a list")


def parse_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}"):
            try:
                loaded = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConversionError(f"Invalid JSON primitive: {exc.msg}") from exc
            if not isinstance(loaded, dict):
                raise ConversionError(f"Cannot convert the JSON value to a dictionary: {value}")
            return loaded
        if "=" in value:
            return _key_value_pairs(value)
        raise ConversionError(
            "string cannot be converted to a dict, must either be a JSON string or in the key=value form"
        )
    raise ConversionError(f"{type_name(value)} cannot be converted to a dict")


def _key_value_pairs(text: str) -> dict[str, Any]:
    """Ansible.Basic ParseDict's `k1=v1 k2='v 2',k3=v3` form (backslash escapes, quotes, `,` or blank separators)."""
    fields: list[str] = []
    buffer: list[str] = []
    quote: str | None = None
    escape = False
    for char in text:
        if escape:
            buffer.append(char)
            escape = False
        elif char == "\\":
            escape = True
        elif quote is None and char in "'\"":
            quote = char
        elif quote is not None and char == quote:
            quote = None
        elif quote is None and char in ", ":
            if buffer:
                fields.append("".join(buffer))
            buffer = []
        else:
            buffer.append(char)
    if buffer:
        fields.append("".join(buffer))
    result: dict[str, Any] = {}
    for field in dict.fromkeys(fields):
        key, sep, val = field.partition("=")
        if key in result:
            raise ConversionError("An item with the same key has already been added.")
        result[key] = val if sep else None
    return result


def parse_path(value: Any, environment: Mapping[str, str] | None) -> str:
    """Ansible.Basic ParsePath: expand %VARS%, refuse invalid characters and ':' outside the drive."""
    text = to_str(value)
    if text.startswith("\\\\?\\"):
        return text
    if environment is not None:
        text = expand_with(text, environment)
    if any(char in INVALID_PATH_CHARS for char in text):
        raise ConversionError("string value contains invalid path characters, cannot convert to path")
    if ":" in text[2:] or (":" in text[:2] and not re.match(r"^[A-Za-z]:", text)):
        raise ConversionError("The given path's format is not supported.")  # Path.GetFullPath (.NET Framework)
    return text


def parse_json(value: Any) -> str:
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        return value
    raise ConversionError(f"{type_name(value)} cannot be converted to json")


def _round_half_even(number: decimal.Decimal) -> int:
    return int(number.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


def ps_number(value: Any) -> decimal.Decimal | None:
    """The number PowerShell's conversion sees in a value (hex strings, blanks and exponents included), or None."""
    if isinstance(value, bool):
        return decimal.Decimal(int(value))
    if isinstance(value, int):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return decimal.Decimal(0)
        hexa = re.fullmatch(r"([+-]?)0x([0-9a-fA-F]+)", text)
        if hexa:
            return decimal.Decimal(int(hexa.group(2), 16) * (-1 if hexa.group(1) == "-" else 1))
        try:
            return decimal.Decimal(text)
        except decimal.InvalidOperation:
            return None
    return None


def to_uint32(value: Any) -> int:
    """The PowerShell cast [UInt32]$value (win_service.ps1's `$uint32Type` converter)."""
    if isinstance(value, (list, tuple, Mapping)):
        name = type_name(value)
        raise ConversionError(f'Cannot convert the "{name}" value of type "{name}" to type "System.UInt32".')
    number = ps_number(value)
    shown = to_str(value)
    if number is None:
        raise ConversionError(f'Cannot convert value "{shown}" to type "System.UInt32". Error: "{FORMAT_ERROR}"')
    result = _round_half_even(number)
    if not 0 <= result <= UINT32_MAX:
        raise ConversionError(
            f'Cannot convert value "{shown}" to type "System.UInt32". Error: '
            '"Value was either too large or too small for a UInt32."'
        )
    return result


def as_int(value: Any) -> int | None:
    """`$value -as [int]` (Legacy.psm1 Get-AnsibleParam -type int): None when the conversion fails."""
    if isinstance(value, (list, tuple, Mapping)) or value is None:
        return None
    number = ps_number(value)
    if number is None:
        return None
    result = _round_half_even(number)
    return result if INT32[0] <= result <= INT32[1] else None


def legacy_bool(value: Any) -> bool:
    """Legacy.psm1 ConvertTo-Bool: true for $true, yes, on, 1, true (any case); anything else is false."""
    if isinstance(value, bool):
        return value
    return interpolate(value).lower() in ("yes", "on", "1", "true")


# -- PowerShell casts the registry and envelope code relies on (Windows PowerShell 5.1 / .NET Framework) --
UINT64_MAX = 2**64 - 1
INPUT_FORMAT = FORMAT_ERROR
OVERFLOW = {
    "System.UInt64": "Value was either too large or too small for a UInt64.",
    "System.Int64": "Value was either too large or too small for an Int64.",
    "System.Int32": "Value was either too large or too small for an Int32.",
    "System.Byte": "Value was either too large or too small for an unsigned byte.",
}
_DOUBLE = re.compile(
    r"^\s*[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
    r"|^\s*[+-]?(?:Infinity|NaN)\s*$"
)


def _cast_error(value: str, type_name: str, inner: str) -> ConversionError:
    return ConversionError(f'Cannot convert value "{value}" to type "{type_name}". Error: "{inner}"')


def _parse_unsigned(text: str, radix: int, type_name: str, limit: int) -> int:
    """Convert.ToUInt64(text, 16) / UInt64.Parse(text, NumberStyles.Integer)."""
    if radix == 16:
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        if not digits:
            raise FormatError("Could not find any recognizable digits.")
        if not re.fullmatch(r"[0-9a-fA-F]+", digits):
            if re.match(r"[0-9a-fA-F]", digits):
                raise FormatError("Additional non-parsable characters are at the end of the string.")
            raise FormatError("Could not find any recognizable digits.")
        value = int(digits, 16)
        if value > limit:
            raise OverflowError(OVERFLOW[type_name])
        return value
    match = re.fullmatch(r"\s*([+-]?)(\d+)\s*", text)
    if not match:
        raise FormatError(INPUT_FORMAT)
    value = int(match.group(2))
    if match.group(1) == "-":
        value = -value
    if value < 0 or value > limit:
        raise OverflowError(OVERFLOW[type_name])
    return value


class FormatError(ValueError):
    """System.FormatException."""


def _through_double(text: str, limit: int) -> int:
    """LanguagePrimitives.ConvertNumericThroughDouble: Convert.ToDouble(invariant) then Convert.ToUInt64."""
    if not _DOUBLE.match(text):
        raise FormatError(INPUT_FORMAT)
    number = float(text.replace(",", "").strip())
    if math.isnan(number) or math.isinf(number):
        raise OverflowError("NaN/Infinity")
    rounded = round(number)  # Math.Round: banker's rounding, like Python's round()
    if rounded < 0 or rounded > limit:
        raise OverflowError("out of range")
    return rounded


def to_uint64(text: str) -> int:
    """`[UInt64]"text"` in Windows PowerShell 5.1.

    LanguagePrimitives.ConvertStringToInteger: "" is 0; else UInt64Converter.ConvertFrom (trims; `#`, `0x`, `0X`,
    `&h`, `&H` mean hex; else UInt64.Parse with NumberStyles.Integer, so "010" is 10). A FormatException retries
    through Double ("1.1" is 1, "1.5" is 2, "1e3" is 1000); any other failure - or a failed retry - is reported with
    the first exception's message ("-1": too large or too small; "-1.5" / "abc": not in a correct format).
    """
    if text == "":
        return 0
    trimmed = text.strip()
    try:
        if not trimmed:
            raise IndexError("Index was outside the bounds of the array.")
        if trimmed[0] == "#":
            return _parse_unsigned(trimmed[1:], 16, "System.UInt64", UINT64_MAX)
        if trimmed[:2] in ("0x", "0X", "&h", "&H"):
            return _parse_unsigned(trimmed[2:], 16, "System.UInt64", UINT64_MAX)
        return _parse_unsigned(trimmed, 10, "System.UInt64", UINT64_MAX)
    except FormatError as exc:
        try:
            return _through_double(text, UINT64_MAX)
        except (FormatError, OverflowError):
            raise _cast_error(text, "System.UInt64", str(exc)) from None
    except (OverflowError, IndexError) as exc:
        raise _cast_error(text, "System.UInt64", str(exc)) from None


def to_signed(value: int, bits: int) -> int:
    """`[Int32]$value` / `[Int64]$value` of an integer (fails outside the range, like the cast)."""
    type_name = f"System.Int{bits}"
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise _cast_error(str(value), type_name, OVERFLOW[type_name])
    return value


def hex_to_signed(value: int, bits: int) -> int:
    """`[Int32]"0x$('{0:x}' -f $value)"`: PowerShell reads a hex literal string as the two's complement."""
    return value - 2**bits if value >= 2 ** (bits - 1) else value


def to_byte(value: Any) -> int:
    """`[byte]$value` for an int or a string element of a `[byte[]]` cast."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if not 0 <= value <= 255:
            raise _cast_error(str(value), "System.Byte", OVERFLOW["System.Byte"])
        return value
    if isinstance(value, str):
        number = to_uint64(value) if value.strip() else 0
        if number > 255:
            raise _cast_error(value, "System.Byte", OVERFLOW["System.Byte"])
        return number
    raise _cast_error(ps_string(value), "System.Byte", "Invalid cast.")


def hex_byte(text: str) -> int:
    """[System.Convert]::ToByte(text, 16) (a `0x` prefix is allowed)."""
    if text == "":
        raise ConversionError(
            'Exception calling "ToByte" with "2" argument(s): "Index was out of range. Must be non-negative and less '
            'than the size of the collection.\r\nParameter name: startIndex"'
        )
    try:
        return _parse_unsigned(text if text[:2] not in ("0x", "0X") else text[2:], 16, "System.Byte", 255)
    except (FormatError, OverflowError) as exc:
        raise ConversionError(f'Exception calling "ToByte" with "2" argument(s): "{exc}"') from None


def ps_string(value: Any) -> str:
    """How PowerShell turns a value into a string (arrays join with a space, $OFS)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return format(decimal.Decimal(repr(value)), "f")
    if isinstance(value, (list, tuple)):
        return " ".join(ps_string(v) for v in value)
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def fold(text: str) -> str:
    """Culture-aware IgnoreCase comparison key (Compare-Object, -eq); approximated by Unicode case folding."""
    return text.casefold()


def loosely_equal(reference: Any, difference: Any) -> bool:
    """LanguagePrimitives.Equals(reference, difference, ignoreCase=true): the right side takes the left's type."""
    if isinstance(reference, str):
        return fold(reference) == fold(ps_string(difference))
    if isinstance(reference, (int, float)) and not isinstance(reference, bool):
        if isinstance(difference, (int, float)) and not isinstance(difference, bool):
            return reference == difference
        if isinstance(difference, str):
            try:
                return reference == to_uint64(difference)
            except ConversionError:
                return False
        return False
    return bool(reference == difference)

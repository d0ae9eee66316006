"""Windows PowerShell 5.1 / .NET Framework value conversions that the real modules rely on.

Each function states the cast it follows and raises ConversionError with the text PowerShell would show for
the failing statement (`Cannot convert value "x" to type "System.UInt64". Error: "..."`).
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

UINT64_MAX = 2**64 - 1
INPUT_FORMAT = "Input string was not in a correct format."
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


class ConversionError(ValueError):
    """A failed PowerShell cast; str(exc) is PowerShell's error text."""


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

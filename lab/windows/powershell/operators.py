"""PowerShell's binary operators: comparisons (case-insensitive, filtering arrays, the left operand's type
converting the right one), arithmetic, -f, -replace/-split/-join, -is/-as, ranges."""

from __future__ import annotations

import re
from typing import Any

from lab.windows.powershell import types as pstypes
from lab.windows.powershell.errors import NotSimulated, PSError
from lab.windows.powershell.values import (
    EnumValue,
    PSHashtable,
    compare,
    dotnet_regex,
    dotnet_replacement,
    enumerate_value,
    equals,
    like,
    to_int,
    to_number,
    to_string,
    truthy,
)

CASE_VARIANTS = {
    "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "contains", "notcontains", "in",
    "notin", "replace", "split",
}  # fmt: skip


def binary(ctx: Any, op: str, left: Any, right: Any) -> Any:
    """A binary operator other than -and / -or (those short-circuit in the interpreter)."""
    if op == "-xor":
        return truthy(left) != truthy(right)
    if op in ("+", "-", "*", "/", "%"):
        return arithmetic(op, left, right)
    if op == "..":
        start, end = to_int(left), to_int(right)
        step = 1 if end >= start else -1
        return list(range(start, end + step, step))
    if op == "-f":
        return format_string(to_string(left), enumerate_value(right) if isinstance(right, list) else [right])
    if op in ("-band", "-bor", "-bxor", "-shl", "-shr"):
        a, b = to_int(left), to_int(right)
        result = {"-band": a & b, "-bor": a | b, "-bxor": a ^ b, "-shl": a << b, "-shr": a >> b}[op]
        return EnumValue(left.enum, result) if isinstance(left, EnumValue) else result
    if op in ("-is", "-isnot"):
        info = right if isinstance(right, pstypes.TypeInfo) else pstypes.find(to_string(right))
        return info.is_instance(left) == (op == "-is")
    if op == "-as":
        info = right if isinstance(right, pstypes.TypeInfo) else pstypes.find(to_string(right))
        try:
            return info.convert(ctx, left)
        except PSError:
            return None
    return comparison(ctx, op, left, right)


def comparison(ctx: Any, op: str, left: Any, right: Any) -> Any:
    case_sensitive = op.startswith("-c") and op[2:] in CASE_VARIANTS
    base = "-" + op[2:] if op.startswith(("-c", "-i")) and op[2:] in CASE_VARIANTS else op
    if base in ("-contains", "-notcontains"):
        found = any(equals(item, right, case_sensitive) for item in enumerate_value(left))
        return found == (base == "-contains")
    if base in ("-in", "-notin"):
        found = any(equals(item, left, case_sensitive) for item in enumerate_value(right))
        return found == (base == "-in")
    if base == "-replace":
        pattern, replacement = (right + [""])[:2] if isinstance(right, list) else (right, "")
        flags = 0 if case_sensitive else re.I
        regex = re.compile(dotnet_regex(to_string(pattern)), flags)
        result = [regex.sub(dotnet_replacement(to_string(replacement)), to_string(item))
                  for item in enumerate_value(left)]
        return result if isinstance(left, list) else result[0]
    if base == "-split":
        pattern = right[0] if isinstance(right, list) else right
        flags = 0 if case_sensitive else re.I
        return [part for item in enumerate_value(left)
                for part in re.split(dotnet_regex(to_string(pattern)), to_string(item), flags=flags)]
    if base == "-join":
        return to_string(right).join(to_string(v) for v in enumerate_value(left))
    test = scalar_test(ctx, base, right, case_sensitive)
    if isinstance(left, list):
        return [item for item in left if test(item)]
    return test(left)


def scalar_test(ctx: Any, op: str, right: Any, case_sensitive: bool) -> Any:
    if op == "-eq":
        return lambda v: equals(v, right, case_sensitive)
    if op == "-ne":
        return lambda v: not equals(v, right, case_sensitive)
    if op in ("-gt", "-ge", "-lt", "-le"):
        table = {"-gt": lambda c: c > 0, "-ge": lambda c: c >= 0, "-lt": lambda c: c < 0, "-le": lambda c: c <= 0}
        return lambda v: table[op](compare(v, right, case_sensitive))
    if op in ("-like", "-notlike"):
        return lambda v: like(v, right, case_sensitive) == (op == "-like")
    if op in ("-match", "-notmatch"):
        regex = re.compile(dotnet_regex(to_string(right)), 0 if case_sensitive else re.I)

        def match(value: Any) -> bool:
            found = regex.search(to_string(value))
            if found and op == "-match":
                groups = PSHashtable()
                groups[0] = found.group(0)
                for i, group in enumerate(found.groups(), 1):
                    if group is not None:
                        groups[i] = group
                for name, group in found.groupdict().items():
                    if group is not None:
                        groups[name] = group
                ctx.scope.vars["matches"] = groups
            return (found is not None) == (op == "-match")

        return match
    raise NotSimulated(f"the operator {op}")


def arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        if left is None:
            return right
        if isinstance(left, str):
            return left + to_string(right)
        if isinstance(left, list):
            return left + (right if isinstance(right, list) else [right])
        if isinstance(left, PSHashtable):
            if not isinstance(right, PSHashtable):
                raise PSError("A hash table can only be added to another hash table.",
                              error_id="AddHashTableToNonHashTable")
            merged = PSHashtable(left)
            for key, value in right.items():
                if merged.has(key):
                    raise PSError(f"Item has already been added. Key in dictionary: '{key}'  Key being added: "
                                  f"'{key}'", exception_type="System.ArgumentException")
                merged.set_ci(key, value)
            return merged
        return to_number(left) + to_number(right)
    if op == "*" and isinstance(left, str):
        return left * to_int(right)
    if op == "*" and isinstance(left, list):
        return left * to_int(right)
    a, b = to_number(left), to_number(right)
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise PSError("Attempted to divide by zero.", exception_type="System.DivideByZeroException",
                      error_id="RuntimeException")
    if op == "/":
        result = a / b
        return int(result) if isinstance(a, int) and isinstance(b, int) and a % b == 0 else result
    return a % b


def format_string(template: str, args: list[Any]) -> str:
    """The -f operator (.NET composite formatting: {index[,alignment][:x|d|f|n digits]})."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        index, align, spec = int(match.group(1)), match.group(2), match.group(3)
        if index >= len(args):
            raise PSError("Error formatting a string: Index (zero based) must be greater than or equal to zero "
                          "and less than the size of the argument list..", error_id="FormatError")
        value = args[index]
        if spec:
            kind, digits = spec[0], spec[1:]
            if kind in "xX":
                text = format(to_int(value), f"0{digits or 0}{kind}")
            elif kind in "dD":
                text = str(to_int(value)).zfill(int(digits or 0))
            elif kind in "fFnN":
                places = int(digits) if digits else 2
                text = format(float(to_number(value)), f"{',' if kind in 'nN' else ''}.{places}f")
            else:
                raise NotSimulated(f"the format specifier {{{index}:{spec}}}")
        else:
            text = to_string(value)
        if align:
            width = int(align)
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    return re.sub(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}", replace, template)

"""PowerShell's WildcardPattern (System.Management.Automation): `*`, `?`, `[abc]`, `[a-z]` and backtick escapes,
matched against the whole text, case-insensitively unless asked. One implementation for `-like`, wildcard `-Path`
arguments, `Get-Service -Name` and enum names in casts (`[FileSystemRights]'Read*'`)."""

from __future__ import annotations

import re

CHARS = "*?["


class WildcardError(ValueError):
    """WildcardPatternException: an unclosed `[`."""


def has_wildcards(text: str) -> bool:
    return any(char in text for char in CHARS)


def compile_pattern(pattern: str, *, case_sensitive: bool = False) -> re.Pattern[str]:
    """The pattern as a regular expression to use with `fullmatch`."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "`" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise WildcardError(f"The specified wildcard character pattern is not valid: {pattern}")
            body = pattern[i + 1 : end]
            out.append("[" + "".join(c if c == "-" else re.escape(c) for c in body) + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.S | (0 if case_sensitive else re.I))


def matches(text: str, pattern: str, *, case_sensitive: bool = False) -> bool:
    return compile_pattern(pattern, case_sensitive=case_sensitive).fullmatch(text) is not None

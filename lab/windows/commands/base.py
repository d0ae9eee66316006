"""Shared pieces of the command simulation: the outcome record, NotSimulated, and quoting helpers."""

from __future__ import annotations

import dataclasses
import re
from typing import Any


class NotSimulated(Exception):
    """A command (or pipeline segment) the simulator does not know."""


@dataclasses.dataclass
class Outcome:
    stdout: str = ""
    stderr: str = ""
    rc: int = 0
    objects: list[Any] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)


def split_outside(text: str, sep: str) -> list[str]:
    """Split on sep outside quotes, braces and parentheses."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif char == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def tokens(text: str) -> list[str]:
    """Windows-style tokens: whitespace separated, double or single quotes group (backslashes are literal)."""
    return [a or b or c for a, b, c in re.findall(r'"([^"]*)"|\'([^\']*)\'|(\S+)', text)]


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text

"""Shared pieces of the command simulation: the outcome record, NotSimulated and Windows command-line splitting."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from lab.windows.powershell.errors import NotSimulated

__all__ = ["NotSimulated", "Outcome", "argv", "unquote"]


@dataclasses.dataclass
class Outcome:
    stdout: str = ""
    stderr: str = ""
    rc: int = 0
    objects: list[Any] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)


def argv(text: str) -> list[str]:
    """Windows-style arguments: whitespace separated, double or single quotes group (backslashes are literal)."""
    return [a or b or c for a, b, c in re.findall(r'"([^"]*)"|\'([^\']*)\'|(\S+)', text)]


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text

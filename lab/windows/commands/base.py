"""Shared pieces of the command simulation: the outcome record, NotSimulated and Windows command-line splitting."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from lab.windows.powershell.errors import NotSimulated

__all__ = ["NotSimulated", "Outcome", "argv"]


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


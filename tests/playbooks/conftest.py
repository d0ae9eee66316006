"""Fixtures for the playbook-level tests: `make_lab(hosts)` starts a Windows lab (stopped at the end)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .windows_lab import WindowsLab


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Any]:
    labs: list[WindowsLab] = []

    def factory(hosts: dict[str, dict[str, Any]]) -> WindowsLab:
        started = WindowsLab(tmp_path / f"lab{len(labs)}", hosts)
        labs.append(started)
        return started

    yield factory
    for started in labs:
        started.stop()

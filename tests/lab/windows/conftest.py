"""Fixtures for the simulated Windows lab tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Lab


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Any]:
    labs: list[Lab] = []

    def factory(hosts: dict[str, dict[str, Any]], subdir: str = "lab") -> Lab:
        directory = tmp_path / subdir
        directory.mkdir()
        lab = Lab(directory, hosts)
        labs.append(lab)
        return lab

    yield factory
    for lab in labs:
        lab.stop()

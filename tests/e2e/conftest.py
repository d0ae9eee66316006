"""End-to-end fixtures: a lab started through the real `remediate lab up`, and a runner for the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "remediate"  # the installed console script: the real command
REMEDIATE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "orchestrator.cli"]


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


class Remediate:
    def __init__(self, home: Path) -> None:
        self.home = home

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "REMEDIATE_"))}
        env["REMEDIATE_HOME"] = str(self.home)
        env["NO_PROXY"] = "127.0.0.1,localhost"
        return env

    def __call__(self, *args: str, timeout: int = 300, stdin: str | None = None) -> Result:
        proc = subprocess.run([*REMEDIATE, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env=self.env(), input=stdin, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    @property
    def lab_dir(self) -> Path:
        return self.home / "lab"


def start_lab(tmp_path_factory, scenario: str):
    home = tmp_path_factory.mktemp("home")
    r = Remediate(home)
    up = r("lab", "up", "--scenario", str(ROOT / "lab" / "scenarios" / scenario), "--json", timeout=120)
    assert up.rc == 0, up.stderr
    return r


def stop_lab(r: Remediate) -> None:
    down = r("lab", "down", timeout=60)
    assert down.rc == 0, down.stderr


@pytest.fixture(scope="module")
def linux_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "linux-asr.yml")
    yield r
    stop_lab(r)

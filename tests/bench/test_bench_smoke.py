"""Every benchmark of bench/ runs in its smoke mode (tiny N) and prints its table: they keep working. Nothing here
asserts a time (benchmarks are measured by hand on a quiet machine, see bench/README.md and BENCHMARKS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.lab

BENCHMARKS = [
    ("one_host", [], "### Benchmark 1: one host, whole ladder", "| apply (--yes) | 1 |"),
    ("fleet", ["--module-seconds", "0.05"], "### Benchmark 2: fleet of 3 hosts (2 Windows, 1 Linux), AzureVmOffline, "
     "Windows modules taking 0.05 s", "| remediate (one request, batched) |"),
    ("alert_intake", [], "### Benchmark 3: alert intake, 20 alerts", "| 20 | 20 |"),
    ("intake_app", [], "### Benchmark 3, in-process: the serve app's CPU per alert, 20 alerts", "| 20 | 2 | yes |"),
    ("alert_latency", [], "### Benchmark 4: alert to first action, 2 alerts", "| 2 |"),
    ("startup", [], "### Benchmark 5: start-up", "| remediate codes | 1 |"),
    ("memory", [], "### Benchmark 6: memory", "| remediate serve, idle"),
]


@pytest.mark.parametrize(("module", "args", "title", "row"), BENCHMARKS, ids=[b[0] for b in BENCHMARKS])
def test_benchmark_runs_in_smoke_mode_and_prints_its_table(module: str, args: list[str], title: str, row: str) -> None:
    proc = subprocess.run([sys.executable, "-m", f"bench.{module}", "--smoke", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert title in proc.stdout
    assert "machine: " in proc.stdout and " cores, " in proc.stdout
    assert row in proc.stdout, proc.stdout

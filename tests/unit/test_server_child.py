"""A run process (`python -m orchestrator.server.child`, worker.WarmChild) starts while the server takes alerts:
it lowers its priority before its imports (child.py main), and never imports the HTTP app."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from orchestrator.server.child import RUN_NICENESS
from orchestrator.server.worker import WarmChild

HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "ansible", "ansible_runner", "yaml")


def test_the_run_module_imports_nothing_heavy_before_it_lowers_its_priority():
    """`python -m` imports the package and the module before main() runs: neither may import a heavy library."""
    code = f"import sys, orchestrator.server.child; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_run_process_runs_below_the_server():
    child = WarmChild()
    try:
        deadline = time.monotonic() + 30
        while os.getpriority(os.PRIO_PROCESS, child.proc.pid) != os.getpriority(os.PRIO_PROCESS, 0) + RUN_NICENESS:
            assert time.monotonic() < deadline, "the run process did not lower its priority"
            time.sleep(0.01)
    finally:
        child.close()
    assert child.proc.returncode == 0  # sent away without a job: it warmed up and left


def test_a_run_process_never_imports_the_http_app():
    code = ("import sys, orchestrator.server.child as c\n"
            "from orchestrator.server import config, metrics, service, worker\n"
            "c.warm_up(None)\n"
            "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

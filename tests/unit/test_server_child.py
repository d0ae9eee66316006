"""A run process (`python -m orchestrator.server.child`, worker.WarmChild) starts while the server takes alerts:
it lowers its priority before its imports (child.py main), and never imports the HTTP app."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

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


AUTOGROUP_PROBE = r"""
import os, pty, sys
from orchestrator.server.child import sessions_at_our_niceness

os.nice(10)
mine = open("/proc/self/autogroup").read()
sessions_at_our_niceness()
pid = os.fork()  # a child in our session (the server's): our group is left alone
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
out = sys.argv[1]
pid, _ = pty.fork()  # what pexpect does for ansible-runner: a session of its own
if pid == 0:
    with open(out, "w") as f:
        f.write(open("/proc/self/autogroup").read())
    os._exit(0)
os.waitpid(pid, 0)
print(mine == open("/proc/self/autogroup").read())
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="no autogroups (not Linux, or disabled)")
def test_a_session_started_by_a_run_process_gets_its_niceness(tmp_path):
    """Linux shares the CPU between autogroups (one per session, for processes outside a cpu cgroup) before it looks
    at niceness: ansible-playbook, which ansible-runner starts in a session of its own, would otherwise compete
    with the whole server at full weight (sched(7), "The autogroup feature")."""
    out = tmp_path / "autogroup"
    res = subprocess.run([sys.executable, "-c", AUTOGROUP_PROBE, str(out)], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "True"  # our own group unchanged
    assert out.read_text().split()[-2:] == ["nice", "10"]

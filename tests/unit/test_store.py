"""The store's view of this node's processes."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from orchestrator.store import _pid_alive


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_a_zombie_worker_counts_as_dead_so_its_requests_and_locks_are_recovered() -> None:
    """A killed worker whose parent is gone stays a zombie under an init that does not reap (containers)."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert _pid_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _state(child.pid) != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not _pid_alive(child.pid)  # not reaped yet: kill(pid, 0) alone would call it alive
    finally:
        child.kill()
        child.wait()
    assert not _pid_alive(child.pid)

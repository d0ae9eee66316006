"""A lab daemon's life cycle, shared by the labs that run as one detached process (Windows WS-Man, Azure ARM).

The daemon is `python -m <module> --workdir <workdir>`, in its own session, logging to a file in the workdir; its
pid is kept in a pid file. Stopping is idempotent and bounded in time, and never signals a recycled pid: the process
must be this workdir's daemon of that module, and not a zombie.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def write_private(path: Path, data: str) -> None:
    """Write `data` readable by the owner only, atomically (the file may hold lab credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)
    os.replace(tmp, path)


def is_ours(pid: int, workdir: Path, module: str) -> bool:
    """Whether `pid` is the running (not zombie) daemon `module` of `workdir`."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and module.encode() in cmdline and str(workdir).encode() in cmdline


def spawn(module: str, workdir: Path, *, log_file: str, pid_file: str) -> subprocess.Popen:
    """Start the daemon detached (own session, stdin closed, output to the log file) and record its pid."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    with open(workdir / log_file, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", module, "--workdir", str(workdir)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                   env=env, cwd=REPO_ROOT)
    (workdir / pid_file).write_text(str(process.pid))
    return process


def wait_ready[T](process: subprocess.Popen, ready: Callable[[], T | None], *, timeout: float, what: str,
               log: Path, on_timeout: Callable[[], None]) -> T:
    """Poll `ready()` until it returns something; fail naming the log if the daemon exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; see {log}")
        found = ready()
        if found is not None:
            return found
        time.sleep(0.1)
    on_timeout()
    raise TimeoutError(f"{what} did not listen within {timeout}s; see {log}")


def stop(workdir: Path, module: str, *, pid_file: str, timeout: float, also_remove: tuple[str, ...] = ()) -> None:
    """Stop the daemon named by the pid file: TERM, then KILL after `timeout` s; remove the pid file and
    `also_remove` (files that announce a running daemon)."""
    path = workdir / pid_file
    if not path.exists():
        return
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        pid = 0
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not (pid and is_ours(pid, workdir, module)):
            break
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while is_ours(pid, workdir, module) and time.monotonic() < deadline:
            time.sleep(0.05)
    if pid:
        try:  # a child of ours that exited: reap it, so it is not left a zombie
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    path.unlink(missing_ok=True)
    for name in also_remove:
        (workdir / name).unlink(missing_ok=True)

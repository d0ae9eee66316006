"""Simulated Windows lab hosts: a WS-Management server that real Ansible (winrm + pywinrm) drives.

API used by `remediate lab up/down/status`: start(), stop(), status(). In-process use (tests):
lab.windows.server.SimulatedWindowsServer.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.windows.defaults import validate_spec

CONFIG_FILE = "windows-lab.json"
ENDPOINTS_FILE = "windows-endpoints.json"
PID_FILE = "windows-lab.pid"
LOG_FILE = "windows-lab.log"
START_TIMEOUT_SEC = 20.0
STOP_TIMEOUT_SEC = 10.0


def _write_private(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _is_our_daemon(pid: int, workdir: Path) -> bool:
    """Never signal a recycled pid: the process must be the daemon of this workdir."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"lab.windows.daemon" in cmdline and str(workdir).encode() in cmdline


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def start(hosts: dict[str, dict[str, Any]], workdir: Path) -> dict[str, dict[str, Any]]:
    """Start one detached daemon serving every Windows host; return {host: ansible inventory vars}."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stop(workdir)
    windows = {
        name: dict(spec) for name, spec in hosts.items() if spec.get("platform", "windows") == "windows"
    }
    if not windows:
        return {}
    for name, spec in windows.items():
        validate_spec(name, spec)
    password = secrets.token_urlsafe(18)
    _write_private(workdir / CONFIG_FILE, json.dumps({"hosts": windows, "password": password}))
    (workdir / ENDPOINTS_FILE).unlink(missing_ok=True)
    repo_root = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")]))
    )
    with open(workdir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "lab.windows.daemon", "--workdir", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=env,
            cwd=repo_root,
        )
    (workdir / PID_FILE).write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT_SEC
    endpoints_path = workdir / ENDPOINTS_FILE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"windows lab daemon exited with {process.returncode}; see {workdir / LOG_FILE}"
            )
        if endpoints_path.exists():
            inventory = json.loads(endpoints_path.read_text())
            if all(_port_open(v["ansible_host"], v["ansible_port"]) for v in inventory.values()):
                return inventory
        time.sleep(0.1)
    stop(workdir)
    raise TimeoutError(
        f"windows lab daemon did not listen within {START_TIMEOUT_SEC}s; see {workdir / LOG_FILE}"
    )


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def stop(workdir: Path) -> None:
    """Stop the daemon named by the pid file (idempotent, bounded in time)."""
    workdir = Path(workdir).resolve()
    pid_file = workdir / PID_FILE
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid_file.unlink(missing_ok=True)
        return
    if _alive(pid) and _is_our_daemon(pid, workdir):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT_SEC
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid) and _is_our_daemon(pid, workdir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    pid_file.unlink(missing_ok=True)
    (workdir / ENDPOINTS_FILE).unlink(missing_ok=True)


def status(workdir: Path) -> dict[str, dict[str, Any]]:
    """{host: full simulated state}, read from the state files the daemon writes after each change."""
    workdir = Path(workdir)
    config_path = workdir / CONFIG_FILE
    if not config_path.exists():
        return {}
    names = json.loads(config_path.read_text()).get("hosts", {})
    result = {}
    for name in names:
        state_path = workdir / f"{name}.json"
        if state_path.exists():
            result[name] = json.loads(state_path.read_text())
    return result

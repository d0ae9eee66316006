"""Simulated Windows lab hosts: a WS-Management server that real Ansible (winrm + pywinrm) drives.

API used by `remediate lab up/down/status`: start(), stop(), status(). In-process use (tests):
lab.windows.server.SimulatedWindowsServer.
"""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path
from typing import Any

from lab import daemon
from lab.daemon import write_private
from lab.windows.defaults import validate_spec

CONFIG_FILE = "windows-lab.json"
ENDPOINTS_FILE = "windows-endpoints.json"
PID_FILE = "windows-lab.pid"
LOG_FILE = "windows-lab.log"
START_TIMEOUT_SEC = 20.0
STOP_TIMEOUT_SEC = 10.0
MODULE = "lab.windows.daemon"


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
    write_private(workdir / CONFIG_FILE, json.dumps({"hosts": windows, "password": password}))
    (workdir / ENDPOINTS_FILE).unlink(missing_ok=True)
    process = daemon.spawn(MODULE, workdir, log_file=LOG_FILE, pid_file=PID_FILE)

    def listening() -> dict[str, dict[str, Any]] | None:
        path = workdir / ENDPOINTS_FILE
        if not path.exists():
            return None
        inventory = json.loads(path.read_text())
        return inventory if all(_port_open(v["ansible_host"], v["ansible_port"]) for v in inventory.values()) \
            else None

    return daemon.wait_ready(process, listening, timeout=START_TIMEOUT_SEC, what="windows lab daemon",
                             log=workdir / LOG_FILE, on_timeout=lambda: stop(workdir))


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def stop(workdir: Path) -> None:
    """Stop the daemon named by the pid file (idempotent, bounded in time)."""
    daemon.stop(Path(workdir).resolve(), MODULE, pid_file=PID_FILE, timeout=STOP_TIMEOUT_SEC,
                also_remove=(ENDPOINTS_FILE,))


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

"""The lab's Azure control plane: a local ARM endpoint (HTTPS on loopback) for the runbooks' Azure SDK calls.

API used by `remediate lab up/down/status` (lab/manager.py): start(hosts, workdir) -> {host: inventory vars},
stop(workdir), status(workdir). In-process use (tests): lab.azure.server.ArmEndpoint with lab.azure.world.World.
See lab/azure/README.md.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.azure.spec import SpecError, vm_id, vm_spec, wants_azure
from orchestrator.errors import UsageError

CONFIG_FILE = "azure-lab.json"
ENDPOINT_FILE = "azure-endpoint.json"
STATE_FILE = "azure-state.json"
REQUEST_LOG = "requests.jsonl"
PID_FILE = "azure-lab.pid"
LOG_FILE = "azure-lab.log"
START_TIMEOUT_SEC = 20.0
STOP_TIMEOUT_SEC = 10.0
DEFAULT_RETRY_TOTAL = 3  # the SDK's retry policy, shortened for the lab (production keeps the SDK default, 10)

__all__ = ["SpecError", "start", "status", "stop", "requests"]


def _write_private(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _ours(pid: int, workdir: Path) -> bool:
    """Never signal a recycled pid: it must be this workdir's daemon, and still running (not a zombie)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and b"lab.azure.daemon" in cmdline and str(workdir).encode() in cmdline


def inventory_vars(vm: dict, endpoint: dict, workdir: Path) -> dict[str, Any]:
    """What a host's inventory entry gets: its VM id and how to reach the lab's ARM (lab-only credentials)."""
    return {
        "azure_resource_id": vm_id(vm),
        "azure_arm_endpoint": endpoint["origin"],
        "azure_arm_authority": endpoint["origin"],
        "azure_arm_auth": "service_principal",
        "azure_tenant_id": endpoint["tenant"],
        "azure_client_id": endpoint["client_id"],
        "azure_client_secret": endpoint["client_secret"],
        "azure_arm_ca_bundle": str(workdir / "ca.pem"),
        "azure_arm_disable_instance_discovery": True,
        "azure_arm_retry_total": DEFAULT_RETRY_TOTAL,
        "azure_backup_poll_interval": 1,
    }


def start(hosts: dict[str, dict[str, Any]], workdir: Path) -> dict[str, dict[str, Any]]:
    """Start one detached ARM endpoint for every host that has an Azure side; return {host: inventory vars}."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stop(workdir)
    try:
        vms = [vm_spec(name, spec) for name, spec in hosts.items() if wants_azure(spec)]
    except SpecError as exc:
        raise UsageError(f"invalid scenario: {exc}") from None
    if not vms:
        return {}
    _write_private(workdir / CONFIG_FILE, json.dumps({"vms": vms, "client_secret": secrets.token_urlsafe(24)}))
    for stale in (ENDPOINT_FILE, STATE_FILE, REQUEST_LOG):
        (workdir / stale).unlink(missing_ok=True)
    repo_root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])))
    with open(workdir / LOG_FILE, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "lab.azure.daemon", "--workdir", str(workdir)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                   env=env, cwd=repo_root)
    (workdir / PID_FILE).write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT_SEC
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azure lab endpoint exited with {process.returncode}; see {workdir / LOG_FILE}")
        if (workdir / ENDPOINT_FILE).exists():
            endpoint = json.loads((workdir / ENDPOINT_FILE).read_text())
            return {vm["host"]: inventory_vars(vm, endpoint, workdir) for vm in vms}
        time.sleep(0.1)
    stop(workdir)
    raise TimeoutError(f"azure lab endpoint did not listen within {START_TIMEOUT_SEC}s; see {workdir / LOG_FILE}")


def stop(workdir: Path) -> None:
    """Stop the endpoint named by the pid file (idempotent, bounded in time)."""
    workdir = Path(workdir).resolve()
    pid_file = workdir / PID_FILE
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid = 0
    if pid and _ours(pid, workdir):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SEC
        while _ours(pid, workdir) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _ours(pid, workdir):
            os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    (workdir / ENDPOINT_FILE).unlink(missing_ok=True)


def status(workdir: Path) -> dict[str, dict[str, Any]]:
    """{host: the VM's Azure state} from the state file the endpoint writes after every change."""
    path = Path(workdir) / STATE_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("hosts", {})


def requests(workdir: Path) -> list[dict[str, Any]]:
    """Every request the endpoint answered: method, path, Host header, operation, VM, status."""
    path = Path(workdir) / REQUEST_LOG
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

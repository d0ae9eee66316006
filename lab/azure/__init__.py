"""The lab's Azure control plane: a local ARM endpoint (HTTPS on loopback) for the runbooks' Azure SDK calls.

API used by `remediate lab up/down/status` (lab/manager.py): start(hosts, workdir) -> {host: inventory vars},
stop(workdir), status(workdir). In-process use (tests): lab.azure.server.ArmEndpoint with lab.azure.world.World.
See lab/azure/README.md.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from lab import daemon
from lab.azure.spec import SpecError, vm_id, vm_spec, wants_azure
from lab.daemon import write_private
from orchestrator.errors import UsageError

CONFIG_FILE = "azure-lab.json"
ENDPOINT_FILE = "azure-endpoint.json"
STATE_FILE = "azure-state.json"
REQUEST_LOG = "requests.jsonl"
PID_FILE = "azure-lab.pid"
LOG_FILE = "azure-lab.log"
START_TIMEOUT_SEC = 20.0
STOP_TIMEOUT_SEC = 10.0
MODULE = "lab.azure.daemon"
DEFAULT_RETRY_TOTAL = 3  # the SDK's retry policy, shortened for the lab (production keeps the SDK default, 10)

__all__ = ["SpecError", "start", "status", "stop", "requests"]


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
    write_private(workdir / CONFIG_FILE, json.dumps({"vms": vms, "client_secret": secrets.token_urlsafe(24)}))
    for stale in (ENDPOINT_FILE, STATE_FILE, REQUEST_LOG):
        (workdir / stale).unlink(missing_ok=True)
    process = daemon.spawn(MODULE, workdir, log_file=LOG_FILE, pid_file=PID_FILE)

    def listening() -> dict[str, dict[str, Any]] | None:
        if not (workdir / ENDPOINT_FILE).exists():
            return None
        endpoint = json.loads((workdir / ENDPOINT_FILE).read_text())
        return {vm["host"]: inventory_vars(vm, endpoint, workdir) for vm in vms}

    return daemon.wait_ready(process, listening, timeout=START_TIMEOUT_SEC, what="azure lab endpoint",
                             log=workdir / LOG_FILE, on_timeout=lambda: stop(workdir))


def stop(workdir: Path) -> None:
    """Stop the endpoint named by the pid file (idempotent, bounded in time)."""
    daemon.stop(Path(workdir).resolve(), MODULE, pid_file=PID_FILE, timeout=STOP_TIMEOUT_SEC,
                also_remove=(ENDPOINT_FILE,))


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

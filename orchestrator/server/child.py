"""One queued request, run in its own process by the server's worker pool (see worker.py).

Started ahead of its request (worker.WarmChild): it imports the engine and Ansible's inventory code, reads the
catalog and the server's inventory (`--inventory PATH`) and imports ansible-runner, then reads {state,
inventory, request_id, policy, admitted, log} as JSON on stdin (no job: it exits); the request must already be
claimed (running); `admitted`: the worker's admission passed it (see worker.admit); `log`: where its output goes
from then on.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

RUN_NICENESS = 10  # below the server: on a busy machine the intake answers first (see worker.py)


def warm_up(inventory: Path | None):  # type: ignore[no-untyped-def]
    """What every run needs before its first task: the catalog, Ansible's inventory code, ansible-runner, and the
    server's inventory as read now: (catalog, (path, mtime, inventory) or None)."""
    from ..ansible_run import prewarm
    from ..catalog import load_catalog
    from ..errors import RemediateError
    from ..inventory import import_ansible_inventory, load_inventory

    prewarm()
    import_ansible_inventory()
    catalog = load_catalog()
    read = None
    if inventory is not None:
        try:
            read = (inventory, inventory.stat().st_mtime, load_inventory(inventory))
        except (OSError, RemediateError):
            read = None  # the run reads it itself, and reports what is wrong with it
    return catalog, read


def _log_to(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main() -> int:
    # First of all, before the imports (about 0.5 s of CPU): a warm child starts while the server takes alerts.
    # The warm-up and the run, with its ansible-playbook processes, inherit it.
    os.nice(RUN_NICENESS)
    from ..policy import Policy
    from ..store import Store
    from .config import ServerConfig
    from .metrics import Metrics
    from .service import ServerContext
    from .worker import run_row

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    ahead = Path(sys.argv[2]) if len(sys.argv) == 3 and sys.argv[1] == "--inventory" else None
    catalog, read = warm_up(ahead)
    text = sys.stdin.read()
    if not text.strip():
        return 0  # sent away without a job (the server stops)
    job = json.loads(text)
    if job.get("log"):
        _log_to(job["log"])
    store = Store.open(Path(job["state"]))
    config = ServerConfig(state=Path(job["state"]), inventory=Path(job["inventory"]),
                          policy=Policy.model_validate(job["policy"]))
    ctx = ServerContext(config=config, store=store, catalog=catalog, metrics=Metrics(lambda: {}))
    if read is not None and read[0] == config.inventory:
        ctx._inventory = (read[1], read[2])  # noqa: SLF001 - read ahead; ctx.inventory() re-reads it if it changed
    row = store.get_request(job["request_id"])
    if row is None or row["status"] != "running":
        print(f"request {job['request_id']} is not claimed (running); nothing to do", file=sys.stderr)
        return 2
    store.start_request(row["id"], runbook=row.get("runbook"), hosts=row.get("hosts") or [])  # this pid owns it
    run_row(ctx, row, admitted=bool(job.get("admitted")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One queued request, run in its own process by the server's worker pool (see worker.py).

Reads {state, inventory, request_id, policy, admitted} as JSON on stdin; the request must already be claimed
(running); `admitted`: the worker's admission passed it (see worker.admit).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ..catalog import load_catalog
from ..policy import Policy
from ..store import Store
from .config import ServerConfig
from .metrics import Metrics
from .service import ServerContext
from .worker import run_row


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    job = json.loads(sys.stdin.read())
    store = Store.open(Path(job["state"]))
    config = ServerConfig(state=Path(job["state"]), inventory=Path(job["inventory"]),
                          policy=Policy.model_validate(job["policy"]))
    ctx = ServerContext(config=config, store=store, catalog=load_catalog(), metrics=Metrics(lambda: {}))
    row = store.get_request(job["request_id"])
    if row is None or row["status"] != "running":
        print(f"request {job['request_id']} is not claimed (running); nothing to do", file=sys.stderr)
        return 2
    store.start_request(row["id"], runbook=row.get("runbook"), hosts=row.get("hosts") or [])  # this pid owns it
    run_row(ctx, row, admitted=bool(job.get("admitted")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

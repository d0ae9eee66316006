"""`python -m lab.azure.daemon --workdir DIR`: serve the lab's ARM endpoint for DIR/azure-lab.json until SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from lab.azure import CONFIG_FILE, ENDPOINT_FILE, REQUEST_LOG, STATE_FILE, tls
from lab.azure.server import ArmEndpoint
from lab.azure.world import World
from lab.daemon import write_private


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.azure.daemon")
    parser.add_argument("--workdir", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = json.loads((args.workdir / CONFIG_FILE).read_text())
    certs = tls.make(args.workdir)
    world = World(config["vms"], state_file=args.workdir / STATE_FILE, client_secret=config["client_secret"])
    endpoint = ArmEndpoint(world, cert=certs["cert"], key=certs["key"], request_log=args.workdir / REQUEST_LOG)
    stopping = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    origin = endpoint.start()
    write_private(args.workdir / ENDPOINT_FILE, json.dumps({
        "origin": origin, "tenant": world.tenant, "client_id": world.client_id, "client_secret": world.client_secret}))
    logging.info("ARM endpoint %s for %s", origin, ", ".join(world.vms))
    stopping.wait()
    endpoint.stop()
    logging.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

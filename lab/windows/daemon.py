"""`python -m lab.windows.daemon --workdir DIR`: serve the hosts of DIR/windows-lab.json until SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from lab.daemon import write_private
from lab.windows import CONFIG_FILE, ENDPOINTS_FILE
from lab.windows.server import SimulatedWindowsServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.windows.daemon")
    parser.add_argument("--workdir", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = json.loads((args.workdir / CONFIG_FILE).read_text())
    server = SimulatedWindowsServer(config["hosts"], workdir=args.workdir, password=config["password"])

    def on_term(signum: int, frame: Any) -> None:
        server.stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    inventory = server.start()
    write_private(args.workdir / ENDPOINTS_FILE, json.dumps(inventory))
    logging.info(
        "serving windows hosts: %s", ", ".join(f"{n}@{v['ansible_port']}" for n, v in inventory.items())
    )
    server.wait()
    server.stop()
    logging.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

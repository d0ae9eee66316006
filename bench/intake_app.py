"""Benchmark 3, in-process: the CPU the serve app spends per alert, through its ASGI interface (no HTTP server, no
socket, no workers, no lab), C concurrent callers posting the Alertmanager alerts of benchmark 3.

    .venv/bin/python -m bench.intake_app [--alerts 6000 --callers 16] [--no-commit] [--smoke]

Prints the process CPU per alert (the event loop and the group-commit writer), the event loop's share, and the rate
on this machine. `--no-commit` answers the writer's batches at once (nothing is stored): what is left is the
endpoint, its framework and the parsing, the part that moves least with the machine's load. Profile it with
`py-spy record -o prof.txt -f raw -- .venv/bin/python -m bench.intake_app`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.common import table
from bench.fleet import CODE
from bench.serve import TOKEN, alert
from orchestrator.policy import Policy
from orchestrator.server import GIL_SWITCH_SECONDS, ServerConfig, create_app
from orchestrator.server.config import token_digest

WARM_UP = 50


class Lifespan:
    """The app's lifespan (startup: store, inventory, writer; shutdown: the writer's last commit)."""

    def __init__(self, app: Any) -> None:
        self.app, self.started, self.stop = app, asyncio.Event(), asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> None:
        messages = iter([{"type": "lifespan.startup"}])

        async def receive() -> dict:
            message = next(messages, None)
            if message is None:
                await self.stop.wait()
                return {"type": "lifespan.shutdown"}
            return message

        async def send(message: dict) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.started.set()
            elif message["type"] == "lifespan.startup.failed":
                raise SystemExit(message.get("message"))

        self.task = asyncio.create_task(self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                                 receive, send))
        await self.started.wait()

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task


async def post(app: Any, body: bytes) -> int:
    """One POST /alerts through the ASGI interface; its status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/alerts", "raw_path": b"/alerts", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {TOKEN}".encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])
    status: list[int] = []

    async def receive() -> dict:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def measure_async(alerts: int, callers: int, hosts: int, commit: bool) -> list[object]:
    work = Path(tempfile.mkdtemp(prefix="bench-intake-app-"))
    inventory = work / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n" + "".join(f"    win{i:03d}:\n      ansible_connection: winrm\n"
                                                       for i in range(1, hosts + 1)))
    app = create_app(ServerConfig(state=work / "home", inventory=inventory, policy=Policy(),
                                  tokens={token_digest(TOKEN): "bench"}), start_workers=False)
    if not commit:
        async def answered(rows: list[dict]) -> list[str]:
            return [row["id"] for row in rows]

        app.state.ctx.writer().write = answered
    statuses: dict[int, int] = {}

    async def caller(first: int, step: int, prefix: str) -> None:
        for i in range(first, alerts if prefix == "a" else WARM_UP, step):
            status = await post(app, alert(CODE, f"win{i % hosts + 1:03d}", f"{prefix}{i:015x}"))
            statuses[status] = statuses.get(status, 0) + 1

    async with Lifespan(app):
        await caller(0, 1, "w")
        statuses.clear()
        loop_cpu, cpu, t0 = time.thread_time(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(caller(c, callers, "a") for c in range(callers)))
        wall = time.perf_counter() - t0
        cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    return [alerts, callers, "yes" if commit else "no", cpu * 1000 / alerts, loop_cpu * 1000 / alerts,
            f"{alerts / wall:.0f}", dict(sorted(statuses.items()))]


def measure(alerts: int, callers: int, hosts: int, commit: bool) -> str:
    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # as `remediate serve` runs
    row = uvloop.run(measure_async(alerts, callers, hosts, commit))
    return table(f"Benchmark 3, in-process: the serve app's CPU per alert, {alerts} alerts, {callers} callers",
                 ["alerts", "callers", "committed", "CPU ms / alert", "event loop CPU ms / alert", "alerts/s",
                  "replies by status"], [row],
                 ["through the app's ASGI interface: no HTTP server, no workers; committed = the group-commit writer "
                  "stores every alert (synchronous=FULL), else its batches are answered at once"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=6000)
    ap.add_argument("--callers", type=int, default=16)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--no-commit", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="20 alerts, 2 callers, 2 hosts")
    args = ap.parse_args(argv)
    if args.smoke:
        measure(20, 2, 2, commit=True)
    else:
        measure(args.alerts, args.callers, args.hosts, commit=not args.no_commit)
    return 0


if __name__ == "__main__":
    sys.exit(main())

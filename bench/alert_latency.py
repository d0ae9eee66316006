"""Benchmark 4, alert to first action: POST /alerts to `remediate serve` → the first task of the remediation
starting on the host (the `playbook_on_task_start` event of its first playbook run), over N alerts.

    .venv/bin/python -m bench.alert_latency [--alerts 50] [--smoke]

Each alert names another lab host (380008 AzureVmOffline, Windows agent stopped), so none is held back by dedup;
they are posted one after the other, each once the previous remediation has finished (the latency of one alert,
not of a queue: the workers are idle, as between storms). One more alert first warms the server up and is not
counted. Prints p50/p99 of POST → 202 and of POST → first task.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.common import Lab, table
from bench.fleet import CODE, write_scenario
from bench.serve import Client, Serve, alert, percentile


def first_task(server: Serve, rid: str) -> float | None:
    """Epoch seconds of the first task start of the request's first run, once it has one."""
    runs = sorted(server.runs_dir(rid).glob("*/artifacts/run/job_events/*.json")) if server.runs_dir(rid).exists() \
        else []
    starts = []
    for path in runs:
        try:
            event = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if event.get("event") == "playbook_on_task_start":
            starts.append(datetime.fromisoformat(event["created"]).timestamp())
    return min(starts) if starts else None


def measure(alerts: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    write_scenario(work / "fleet.yml", alerts + 1, 0)
    lab = Lab(work / "fleet.yml", work / "home")
    accept: list[float] = []
    action: list[float] = []
    try:
        lab.up()
        server = Serve(lab).start()
        client = Client(server.port)
        try:
            for i in range(0, alerts + 1):  # alert 0 warms the server up (its first run process); not counted
                posted = time.time()
                t0 = time.perf_counter()
                status, body = client.post(alert(CODE, f"win{i + 1:03d}", f"{i:016x}"))
                accept.append(time.perf_counter() - t0)
                if status != 202:
                    raise SystemExit(f"alert {i}: {status} {body}")
                rid = body["requests"][0]["request_id"]
                deadline = time.monotonic() + 120
                while (first := first_task(server, rid)) is None:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"alert {i}: no task started within 120 s ({server.log})")
                    time.sleep(0.01)
                if i:
                    action.append(first - posted)
                else:
                    accept.clear()
                while any(r["status"] in ("queued", "running") for r in server.requests()):
                    if time.monotonic() > deadline + 600:
                        raise SystemExit(f"alert {i}: its remediation did not finish ({server.log})")
                    time.sleep(0.2)
        finally:
            client.close()
            server.stop()
    finally:
        lab.remove()
    return table(
        f"Benchmark 4: alert to first action, {alerts} alerts (one at a time, distinct hosts)",
        ["alerts", "p50 POST→202 ms", "p99 POST→202 ms", "p50 POST→first task s", "p99 POST→first task s",
         "max s"],
        [[alerts, percentile(accept, 50) * 1000, percentile(accept, 99) * 1000, percentile(action, 50),
          percentile(action, 99), max(action)]],
        ["first task = the first playbook_on_task_start event of the request's first run (its diagnose)",
         "goal: p50 < 1.0 s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=50)
    ap.add_argument("--smoke", action="store_true", help="2 alerts")
    args = ap.parse_args(argv)
    measure(2 if args.smoke else args.alerts)
    return 0


if __name__ == "__main__":
    sys.exit(main())

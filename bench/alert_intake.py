"""Benchmark 3, alert intake: N alerts posted to `remediate serve` by a bounded load generator on loopback
(C connections, keep-alive, each posting its share back to back) while the workers run the remediations.

    .venv/bin/python -m bench.alert_intake [--alerts 2000 --connections 16 --hosts 20] [--smoke]

The alerts cycle over `--hosts` lab hosts (380008 AzureVmOffline, Windows agent stopped): the distinct (code, host)
pairs are the remediations that must start (dedup holds back the others), and every accepted alert must be a
request in the store (none lost). Prints accepted/s, p50/p99 accept latency, remediations started vs distinct
pairs, alerts recorded vs accepted, and the CPU per alert of the serve process and of the load generator.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Lab, process_cpu_s, table, tree_cpu_s
from bench.fleet import CODE, write_scenario
from bench.serve import Client, Serve, alert, percentile


def measure(alerts: int, connections: int, hosts: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    write_scenario(work / "fleet.yml", hosts, 0)
    lab = Lab(work / "fleet.yml", work / "home")
    names = [f"win{i:03d}" for i in range(1, hosts + 1)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    try:
        lab.up()
        server = Serve(lab).start()
        try:
            def load(worker: int) -> None:
                client = Client(server.port)
                mine: list[float] = []
                codes: dict[int, int] = {}
                for i in range(worker, alerts, connections):
                    body = alert(CODE, names[i % hosts], f"{i:016x}")
                    t0 = time.perf_counter()
                    status, _ = client.post(body)
                    mine.append(time.perf_counter() - t0)
                    codes[status] = codes.get(status, 0) + 1
                client.close()
                with lock:
                    latencies.extend(mine)
                    for k, v in codes.items():
                        statuses[k] = statuses.get(k, 0) + v

            def cpu() -> list[float]:
                """CPU seconds so far: the serve process, its run processes, the lab, this load generator."""
                serve = process_cpu_s(server.proc.pid)
                return [serve, tree_cpu_s(server.proc.pid) - serve, sum(tree_cpu_s(p) for p in lab.pids()),
                        time.process_time()]

            threads = [threading.Thread(target=load, args=(w,)) for w in range(connections)]
            cpu0, t0 = cpu(), time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            serve_cpu, runs_cpu, lab_cpu, load_cpu = (after - before for after, before in zip(cpu(), cpu0, strict=True))
            rows = server.requests()
            running_while = sum(1 for r in rows if r["status"] in ("running",))
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and any(r["status"] in ("queued", "running") for r in rows):
                time.sleep(1)
                rows = server.requests()
        finally:
            server.stop()
    finally:
        lab.remove()
    accepted = statuses.get(202, 0)
    started = sum(1 for r in rows if r["status"] not in ("skipped", "queued", "rejected"))
    return table(
        f"Benchmark 3: alert intake, {alerts} alerts over {connections} connections, {hosts} distinct (code, host)",
        ["alerts", "accepted (202)", "accepted/s", "p50 accept ms", "p99 accept ms", "remediations started",
         "distinct pairs", "recorded in the store", "serve CPU ms / alert", "generator CPU ms / alert"],
        [[alerts, accepted, f"{accepted / elapsed:.0f}", percentile(latencies, 50) * 1000,
          percentile(latencies, 99) * 1000, started, hosts, len(rows), serve_cpu * 1000 / alerts,
          load_cpu * 1000 / alerts]],
        [f"replies by status: {dict(sorted(statuses.items()))}; {running_while} remediations were running when the "
         "last alert was accepted",
         "CPU while the alerts were posted: the serve process (its event loop, group-commit writer and worker "
         "threads, not its run processes) and this load generator, per alert",
         f"CPU seconds in those {elapsed:.2f} s ({os.cpu_count()} cores: {(os.cpu_count() or 1) * elapsed:.2f}): "
         f"serve {serve_cpu:.2f}, its run processes {runs_cpu:.2f}, the lab {lab_cpu:.2f}, the load generator "
         f"{load_cpu:.2f}",
         "goal on 2 cores: >= 1000 accepted/s, p99 < 50 ms; started must equal distinct pairs, recorded must "
         "equal accepted"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--smoke", action="store_true", help="20 alerts, 2 connections, 2 hosts")
    args = ap.parse_args(argv)
    if args.smoke:
        measure(20, 2, 2)
    else:
        measure(args.alerts, args.connections, args.hosts)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark 6, memory: resident memory (RSS of the process and all its descendants, sampled every 0.2 s) of
`remediate serve` idle and while its workers run remediations, of the fleet run (`remediate --host windows,linux
--yes` over the fleet lab), and of the lab itself.

    .venv/bin/python -m bench.memory [--windows 70 --linux 30 --alerts 10] [--smoke]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import REMEDIATE, ROOT, Lab, table, tree_pss_kib, tree_rss_kib
from bench.fleet import CODE, write_scenario
from bench.serve import Client, Serve, alert


class Peak:
    """Samples the RSS of a process tree in a thread until stopped."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0
        self.peak_pss = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, sum(tree_rss_kib(p) for p in self.pids))
            self.peak_pss = max(self.peak_pss, sum(tree_pss_kib(p) for p in self.pids))
            self.stop.wait(0.2)

    def done(self) -> tuple[int, int]:
        """(peak RSS, peak PSS) in KiB."""
        self.stop.set()
        self.thread.join()
        return self.peak, self.peak_pss


def mib(peaks: tuple[int, int]) -> list[str]:
    return [f"{kib / 1024:.0f}" for kib in peaks]


def measure(windows: int, linux: int, alerts: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    write_scenario(work / "fleet.yml", windows, linux)
    lab = Lab(work / "fleet.yml", work / "home")
    rows = []
    try:
        lab.up()
        lab_peak = Peak(lab.pids())
        server = Serve(lab).start()
        try:
            assert server.proc is not None
            time.sleep(15)  # its workers start their run processes ahead (warm children)
            idle = Peak([server.proc.pid])
            time.sleep(3)
            rows.append(["remediate serve, idle (server and its warm run processes)", *mib(idle.done())])
            busy = Peak([server.proc.pid])
            client = Client(server.port)
            names = [f"win{i:03d}" for i in range(1, windows + 1)][:alerts]
            for i, name in enumerate(names):
                client.post(alert(CODE, name, f"{i:016x}"))
            client.close()
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline and (not server.requests() or any(
                    r["status"] in ("queued", "running") for r in server.requests())):
                time.sleep(0.5)
            rows.append([f"remediate serve, {len(names)} alerts remediated by its 2 workers", *mib(busy.done())])
        finally:
            server.stop()
        lab.up()
        lab_peak.done()
        lab_peak = Peak(lab.pids())
        proc = subprocess.Popen([*REMEDIATE, "--code", CODE, "--host", "windows,linux", "--yes", "--json"], cwd=ROOT,
                                env=lab.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fleet = Peak([proc.pid])
        proc.wait()
        rows.append([f"remediate --host windows,linux --yes ({windows + linux} hosts, one request, its Ansible "
                     "runs included)", *mib(fleet.done())])
        rows.append([f"the lab: {windows} Windows hosts (one daemon) + {linux} Linux hosts (sshd, init, agent "
                     "each), during the fleet run", *mib(lab_peak.done())])
    finally:
        lab.remove()
    return table("Benchmark 6: memory (peak RSS and PSS, process tree)", ["what", "peak RSS MiB", "peak PSS MiB"],
                 rows, ["RSS of a tree counts shared pages once per process (an upper bound: forked Ansible workers "
                        "share most of their parent's pages); PSS divides each shared page among the processes "
                        "sharing it (what the tree really holds)"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=70)
    ap.add_argument("--linux", type=int, default=30)
    ap.add_argument("--alerts", type=int, default=10)
    ap.add_argument("--smoke", action="store_true", help="2 Windows + 1 Linux hosts, 1 alert")
    args = ap.parse_args(argv)
    if args.smoke:
        measure(2, 1, 1)
    else:
        measure(args.windows, args.linux, args.alerts)
    return 0


if __name__ == "__main__":
    sys.exit(main())

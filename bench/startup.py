"""Benchmark 5, start-up: `remediate codes` and `remediate explain CODE` against `python -c pass` and
`ansible-playbook --version` as references, run alternately, medians of wall and CPU.

    .venv/bin/python -m bench.startup [--runs 10] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.common import ANSIBLE_PLAYBOOK, REMEDIATE, Timed, base_env, ratio, run, series, table

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "remediate codes": [*REMEDIATE, "codes"],
    "remediate explain ExtensionFailedVssWriterInBadState": [*REMEDIATE, "explain",
                                                              "ExtensionFailedVssWriterInBadState"],
    "ansible-playbook --version": [ANSIBLE_PLAYBOOK, "--version"],
}


def measure(runs: int) -> str:
    env = base_env(Path(tempfile.mkdtemp(prefix="bench-startup-")))
    samples: dict[str, list[Timed]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            t = run(argv, env=env)
            if t.rc != 0:
                raise SystemExit(f"{name} failed ({t.rc}): {t.stderr[-2000:]}")
            samples[name].append(t)
    base_wall, _ = series(samples["python -c pass"])
    ref_wall, _ = series(samples["ansible-playbook --version"])
    rows = []
    for name in COMMANDS:
        wall, cpu = series(samples[name])
        rows.append([name, runs, wall, cpu, ratio(wall, base_wall), ratio(wall, ref_wall)])
    return table("Benchmark 5: start-up", ["command", "runs", "wall s", "CPU s", "vs python -c pass",
                                           "vs ansible-playbook --version"], rows,
                 ["medians; the commands run alternately", "goal: remediate codes / explain < 0.3 s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--smoke", action="store_true", help="one run of each")
    args = ap.parse_args(argv)
    measure(1 if args.smoke else args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

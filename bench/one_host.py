"""Benchmark 1, one host, whole ladder: `remediate --code ExtensionFailedVssWriterInBadState --host vm1 --yes`
against the same diagnose, fix and verify playbooks run by hand with `ansible-playbook` (default settings).

    .venv/bin/python -m bench.one_host [--pairs 5] [--smoke]

Each pair starts the lab again from its scenario (vm1 broken), then times one side, restarts the lab, times the
other; the sides alternate which goes first. Wall and CPU (the command and its children) per side, medians,
and the ratio remediate / hand. `--dry-run` pairs (remediate --dry-run vs the diagnose and the step's check run
by hand) are measured too.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import ANSIBLE_PLAYBOOK, REMEDIATE, ROOT, Lab, Timed, hand_env, ratio, run, series, table

CODE = "ExtensionFailedVssWriterInBadState"
SCENARIO = ROOT / "lab" / "scenarios" / "vss-default.yml"
DIAGNOSE = "windows/vss_writers_diagnose.yml"
FIX = "windows/vss_restart_failing_writers.yml"


def hand(lab: Lab, *, check: bool) -> Timed:
    """The operator's run: diagnose, fix, verify (check: diagnose, then the fix in check mode)."""
    env = hand_env(lab.home)
    books = [(DIAGNOSE, []), (FIX, ["--check", "--diff"])] if check else [(DIAGNOSE, []), (FIX, ["--diff"]),
                                                                           (DIAGNOSE, [])]
    total = Timed(0.0, 0.0, 0)
    for book, extra in books:
        t = run([ANSIBLE_PLAYBOOK, "-i", str(lab.inventory), "--limit", "vm1", *extra, f"playbooks/{book}"], env=env)
        if t.rc != 0:
            raise SystemExit(f"hand run of {book} failed ({t.rc}): {t.stdout[-2000:]}{t.stderr[-1000:]}")
        total = Timed(total.wall + t.wall, total.cpu + t.cpu, 0)
    return total


def tool(lab: Lab, *, check: bool) -> Timed:
    t = run([*REMEDIATE, "--code", CODE, "--host", "vm1", "--json", "--dry-run" if check else "--yes"], env=lab.env)
    want = "planned" if check else "fixed"
    if want not in t.stdout:
        raise SystemExit(f"remediate did not end {want} ({t.rc}): {t.stdout[-2000:]}{t.stderr[-2000:]}")
    return t


def measure(pairs: int) -> str:
    lab = Lab(SCENARIO)
    rows = []
    try:
        for mode, check in (("apply (--yes)", False), ("dry-run", True)):
            ours: list[Timed] = []
            theirs: list[Timed] = []
            for i in range(pairs):
                sides = [(ours, tool), (theirs, hand)]
                for samples, side in (sides if i % 2 == 0 else sides[::-1]):
                    lab.up()
                    samples.append(side(lab, check=check))
            (ow, oc), (hw, hc) = series(ours), series(theirs)
            rows.append([mode, pairs, ow, oc, hw, hc, ratio(ow, hw), ratio(oc, hc)])
    finally:
        lab.remove()
    return table(
        "Benchmark 1: one host, whole ladder (ExtensionFailedVssWriterInBadState on vm1)",
        ["mode", "pairs", "remediate wall s", "remediate CPU s", "hand wall s", "hand CPU s", "wall ratio",
         "CPU ratio"], rows,
        ["hand = ansible-playbook diagnose, fix, verify (dry-run: diagnose, fix --check) with the project's "
         "ansible.cfg; remediate = one ansible-playbook run holding the diagnose, the step (--yes: applied without "
         "a check run, idempotent medium risk) and its verification (dry-run: the diagnose and the step's check "
         "mode), all recorded per host",
         "medians over the pairs; the lab is restarted (vm1 broken again) before every side"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="one pair (the test suite's smoke run)")
    args = ap.parse_args(argv)
    measure(1 if args.smoke else args.pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

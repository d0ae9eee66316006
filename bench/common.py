"""What every benchmark shares: the machine it ran on, timed commands (wall and CPU), the lab, the table.

Benchmarks print tables; they never assert a time. Every figure is a ratio or a pair measured in the same run
(these machines are noisy), and every table starts with the machine (cores, memory, Python, ansible-core).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REMEDIATE = [str(BIN / "remediate")] if (BIN / "remediate").exists() else [sys.executable, "-m", "orchestrator.cli"]
ANSIBLE_PLAYBOOK = str(BIN / "ansible-playbook")


def machine() -> str:
    """One line: cores, memory, load, Python, ansible-core."""
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        from ansible.release import __version__ as ansible_version
    except ImportError:
        ansible_version = "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} cores, {mem} RAM, load {load}, {platform.machine()}, "
            f"Python {platform.python_version()}, ansible-core {ansible_version}")


@dataclass
class Timed:
    """One command: wall time and CPU time (user + system, children included), exit status, output."""

    wall: float
    cpu: float
    rc: int
    stdout: str = ""
    stderr: str = ""


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 1800,
        stdin: str | None = None) -> Timed:
    """Run a command to its end; its CPU is what it and its (waited-for) children used."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(list(argv), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          input=stdin, check=False)
    return Timed(time.perf_counter() - t0, _children_cpu() - cpu0, proc.returncode, proc.stdout, proc.stderr)


def series(samples: Sequence[Timed]) -> tuple[float, float]:
    """(median wall, median CPU) of samples."""
    return statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples)


def base_env(home: Path) -> dict[str, str]:
    """The environment a user has: no leftover ANSIBLE_*/REMEDIATE_* settings, our own state directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "REMEDIATE_"))}
    env.update({"REMEDIATE_HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    return env


def hand_env(home: Path, **settings: str) -> dict[str, str]:
    """What an operator has when running the project's playbooks by hand from the repository root."""
    env = base_env(home)
    env.update({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PYTHONWARNINGS": "ignore",
                "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"})
    env.update(settings)
    return env


class Lab:
    """A lab started with the real `remediate lab up`, in its own state directory."""

    def __init__(self, scenario: Path, home: Path | None = None) -> None:
        self.scenario = scenario
        self.home = home or Path(tempfile.mkdtemp(prefix="bench-"))
        self.env = base_env(self.home)

    @property
    def inventory(self) -> Path:
        return self.home / "lab" / "inventory.yml"

    def up(self) -> float:
        """(Re)start the lab from its scenario: every host broken again. Returns the seconds it took."""
        t = run([*REMEDIATE, "lab", "up", "--scenario", str(self.scenario), "--json"], env=self.env, timeout=900)
        if t.rc != 0:
            raise SystemExit(f"lab up failed ({t.rc}): {t.stderr[-2000:]}")
        return t.wall

    def down(self) -> None:
        run([*REMEDIATE, "lab", "down"], env=self.env, timeout=300)

    def pids(self) -> list[int]:
        """The processes of the lab (the Windows daemon, the Linux hosts' process trees)."""
        pids: list[int] = []
        pidfile = self.home / "lab" / "windows" / "windows-lab.pid"
        if pidfile.exists():
            pids.append(int(pidfile.read_text().strip()))
        state = self.home / "lab" / "linux" / "state.json"
        if state.exists():
            for host in (json.loads(state.read_text()).get("hosts") or {}).values():
                if isinstance(host, dict) and host.get("pid"):
                    pids.append(int(host["pid"]))
        return pids

    def remove(self) -> None:
        self.down()
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def lab(scenario: Path) -> Iterator[Lab]:
    the_lab = Lab(scenario)
    try:
        yield the_lab
    finally:
        the_lab.remove()


def _proc_tree(pid: int, read: Callable[[Path, list[str]], float]) -> float:
    """Sum of `read(/proc/<p>, stat fields after the command)` over a process and all its descendants now."""
    children: dict[int, list[int]] = {}
    value: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            value[int(entry.name)] = read(entry, fields)
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += value.get(p, 0.0)
        todo += children.get(p, [])
    return total


def _kib(file: str, key: str) -> Callable[[Path, list[str]], float]:
    """A reader of one KiB figure of /proc/<pid>/<file> (the line that starts with `key`)."""
    def read(entry: Path, fields: list[str]) -> float:
        for line in (entry / file).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
        return 0
    return read


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants now (KiB, from /proc)."""
    return int(_proc_tree(pid, _kib("status", "VmRSS:")))


def tree_pss_kib(pid: int) -> int:
    """Proportional memory of a process and all its descendants now (KiB): each shared page divided among the
    processes sharing it, so forked workers count what they added, not their parent's pages again."""
    return int(_proc_tree(pid, _kib("smaps_rollup", "Pss:")))


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process, its living descendants and the children they waited for."""
    tick = os.sysconf("SC_CLK_TCK")
    return _proc_tree(pid, lambda entry, fields: sum(int(f) for f in fields[11:15]) / tick)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of one process, all its threads, without its children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]], notes: Sequence[str] = ()) -> str:
    """A Markdown table with its title, the machine line and notes; printed and returned."""
    def cell(v: object) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = [f"### {title}", "", machine(), "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    lines += [""] + [f"- {n}" for n in notes]
    text = "\n".join(lines).rstrip() + "\n"
    print(text, flush=True)
    return text


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"

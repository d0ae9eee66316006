"""Helpers for the Linux end-to-end tests: one lab per test module, started and stopped through the real
`remediate lab up|down`, that must leave nothing behind (loop devices, mounts, processes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from lab import linux

from .conftest import Remediate, start_lab, stop_lab


def lab_module(tmp_path_factory, scenario: str):
    """Yield a Remediate bound to a lab of that scenario; after the module, the lab is down and left nothing."""
    r = start_lab(tmp_path_factory, scenario)
    workdir = r.lab_dir / "linux"
    try:
        yield r
    finally:
        stop_lab(r)
        assert linux.leftovers(workdir) == {"loops": [], "mounts": [], "processes": []}


def root(r: Remediate, host: str) -> Path:
    return linux.host_root(r.lab_dir / "linux", host)


def host_status(r: Remediate, host: str) -> dict:
    return linux.status(r.lab_dir / "linux")[host]


def mounts(r: Remediate, host: str) -> list[tuple[str, str, str]]:
    """(device, point, type) of the host's real file systems, in mount-table order."""
    return [(m["device"], m["point"], m["type"]) for m in host_status(r, host)["mounts"]
            if m["device"].startswith("/dev/sd")]


def fs_state(r: Remediate, host: str, device: str) -> str:
    """The superblock state of a lab file system, read from its image on this machine (dumpe2fs -h)."""
    image = r.lab_dir / "linux" / "hosts" / host / "disks" / (device.rsplit("/", 1)[-1] + ".img")
    out = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Filesystem state:"))


def run(r: Remediate, *args: str) -> tuple[int, dict]:
    res = r(*args, "--json")
    assert res.stdout, res.stderr
    return res.rc, json.loads(res.stdout)

"""Fixtures for the Linux lab tests: real sshd hosts, and a runner for real ansible-playbook against them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import linux

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

CONF = "/etc/azure/vmbackup.conf"
BROKEN_CONF = "[SnapshotThread]\nfsfreeze = True\ntimeout = 60\n"
SCENARIO: dict[str, dict] = {
    "lnx1": {
        "platform": "linux",
        "files": {CONF: BROKEN_CONF, "/etc/waagent.conf": "Extensions.Enabled=y\n"},
        "watch": ["/var/lib/waagent/*.xml", "/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-*",
                  "/tmp/lab-copied.txt"],
    },
    "lnx2": {
        "platform": "linux",
        "files": {CONF: None},
        "address": "127.0.0.2",
    },
}


def lab_supported() -> str | None:
    """Why the real lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the Linux lab needs root (mount namespaces, chroot)"
    for tool in ("/usr/sbin/sshd", shutil.which("unshare"), shutil.which("ssh"), shutil.which("ssh-keygen")):
        if not tool or not Path(tool).exists():
            return "openssh-server, openssh-client and util-linux are needed"
    if not Path("/usr/bin/python3").exists():
        return "/usr/bin/python3 (the hosts' interpreter) is missing"
    return None


@dataclass
class PlayResult:
    rc: int
    data: dict[str, Any]
    stderr: str

    def task(self, name: str) -> dict[str, dict]:
        """{host: result} of the task with that name."""
        for play in self.data["plays"]:
            for task in play["tasks"]:
                if task["task"]["name"] == name:
                    return task["hosts"]
        raise KeyError(name)

    def stats(self, host: str) -> dict[str, int]:
        return self.data["stats"][host]


class Ansible:
    """Runs the real ansible-playbook (ssh connection) with its own config, inventory and ControlPath dir."""

    def __init__(self, base: Path, hostvars: dict[str, dict]) -> None:
        self.base = base
        self.inventory = base / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": hostvars}}), encoding="utf-8")
        self.config = base / "ansible.cfg"
        self.config.write_text("[defaults]\nretry_files_enabled = False\ntimeout = 15\n", encoding="utf-8")
        self.runs = 0

    def run(self, tasks: list[dict], *, hosts: str = "all", args: tuple[str, ...] = (),
            env: dict[str, str] | None = None, control_dir: Path | None = None) -> PlayResult:
        self.runs += 1
        playbook = self.base / f"play{self.runs}.yml"
        playbook.write_text(
            yaml.safe_dump([{"name": "lab", "hosts": hosts, "gather_facts": False, "tasks": tasks}]),
            encoding="utf-8",
        )
        control_dir = control_dir or self.base / "cp"
        control_dir.mkdir(exist_ok=True)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        full_env.update({
            "ANSIBLE_CONFIG": str(self.config),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
            "ANSIBLE_LOCAL_TEMP": str(self.base / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
        })
        full_env.update(env or {})
        proc = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", str(self.inventory), str(playbook), *args],
            capture_output=True, text=True, timeout=120, env=full_env, check=False, cwd=self.base,
        )
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            pytest.fail(f"no JSON from ansible (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return PlayResult(proc.returncode, data, proc.stderr)


@dataclass
class Lab:
    workdir: Path
    hostvars: dict[str, dict]
    ansible: Ansible

    def root(self, host: str) -> Path:
        return linux.host_root(self.workdir, host)


def _etc_azure_snapshot() -> object:
    etc_azure = Path("/etc/azure")
    if not etc_azure.exists():
        return None
    return sorted((str(p), p.read_bytes() if p.is_file() else None) for p in etc_azure.rglob("*"))


@pytest.fixture(scope="module")
def machine_etc_azure() -> Iterator[object]:
    """The machine's own /etc/azure must be exactly the same after the lab tests."""
    before = _etc_azure_snapshot()
    yield before
    assert _etc_azure_snapshot() == before


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, machine_etc_azure: object) -> Iterator[Lab]:
    reason = lab_supported()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("linuxlab")
    try:
        hostvars = linux.start(SCENARIO, workdir)
        yield Lab(workdir, hostvars, Ansible(tmp_path_factory.mktemp("ansible"), hostvars))
    finally:
        linux.stop(workdir)
        assert linux.leftovers(workdir) == {"loops": [], "mounts": [], "processes": []}

"""A Windows lab (lab.windows daemon) driven by real ansible-playbook with the project's ansible.cfg, for the
playbook-level tests (the ansible.windows pattern: check mode -> changed and state untouched; apply -> new state;
again -> unchanged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

import lab.windows

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PLAYBOOKS = ROOT / "playbooks" / "windows"
RUN_TIMEOUT_SEC = 180
DIAGNOSIS_TASK = "Record the diagnosis for the orchestrator"


def scenario(name: str) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "lab" / "scenarios" / name).read_text())["hosts"]


class WindowsLab:
    def __init__(self, workdir: Path, hosts: dict[str, dict[str, Any]]) -> None:
        self.workdir = workdir
        self.state_dir = workdir / "lab"
        hostvars = lab.windows.start(hosts, self.state_dir)
        self.inventory = workdir / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": hostvars}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_HOME": str(workdir / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        self.env = env

    def state(self, host: str = "vm1") -> dict[str, Any]:
        return lab.windows.status(self.state_dir)[host]

    def run(self, playbook: Path, *args: str) -> Run:
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), *args],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)
        try:
            document = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            output = f"{proc.stdout}\n{proc.stderr}"
            raise AssertionError(f"no json output (rc={proc.returncode}):\n{output}") from exc
        return Run(proc.returncode, document, proc.stderr)

    def stop(self) -> None:
        lab.windows.stop(self.state_dir)


class Run:
    def __init__(self, rc: int, document: dict[str, Any], stderr: str) -> None:
        self.rc = rc
        self.document = document
        self.stderr = stderr

    def task(self, name: str, host: str = "vm1") -> dict[str, Any]:
        for play in self.document["plays"]:
            for task in play["tasks"]:
                if task["task"]["name"] == name and host in task["hosts"]:
                    return task["hosts"][host]
        raise AssertionError(f"task {name!r} did not run on {host}")

    def stats(self, host: str = "vm1") -> dict[str, int]:
        return self.document["stats"][host]

    def items(self, name: str, host: str = "vm1") -> list[tuple[str, bool]]:
        """(label, changed) of each item a loop task ran (skipped items left out)."""
        task = self.task(name, host)
        return [(str(r["item"]["label"] if isinstance(r["item"], dict) and "label" in r["item"] else
                     r.get("_ansible_item_label", r["item"])), r["changed"])
                for r in task.get("results", []) if not r.get("skipped")]

    def diagnosis_of(self, host: str) -> dict[str, Any]:
        return self.task(DIAGNOSIS_TASK, host)["ansible_facts"]["remediate_diagnosis"]

    @property
    def diagnosis(self) -> dict[str, Any]:
        return self.diagnosis_of("vm1")


def ansible_lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """ansible-lint --profile production with the project's configuration, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    return subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--nocolor", "--offline", "--profile", "production", *map(str, paths)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SEC, check=False)

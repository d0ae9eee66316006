"""Helpers: an in-process simulated Windows lab and helpers to run real ansible-playbook / ansible-runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lab.windows.host import SimulatedHost
from lab.windows.payload import Invocation
from lab.windows.server import SimulatedWindowsServer

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
PLAYBOOK_TIMEOUT_SEC = 150
SCENARIOS = REPO / "lab" / "scenarios"


def ansible_env(tmp_path: Path) -> dict[str, str]:
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(
        "[defaults]\nhost_key_checking = False\nretry_files_enabled = False\n"
        "deprecation_warnings = False\ninterpreter_python = auto_silent\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_CONFIG": str(cfg),
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


class Lab:
    """A running in-process lab plus the files Ansible needs."""

    def __init__(self, tmp_path: Path, hosts: dict[str, dict[str, Any]]) -> None:
        self.tmp_path = tmp_path
        self.server = SimulatedWindowsServer(hosts, workdir=tmp_path / "state", password="lab-test-pw")
        self.hostvars = self.server.start()
        self.inventory = tmp_path / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": self.hostvars}}))
        self.env = ansible_env(tmp_path)

    def state(self, host: str) -> dict[str, Any]:
        return self.server.hosts[host].snapshot()

    def playbook(self, text: str, *extra: str, name: str = "play.yml") -> dict[str, Any]:
        """Run ansible-playbook (subprocess); return the json callback document plus 'rc'."""
        path = self.tmp_path / name
        path.write_text(text)
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(path), *extra],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=PLAYBOOK_TIMEOUT_SEC,
            cwd=self.tmp_path,
        )
        try:
            document = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"no json output (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            ) from exc
        document["rc"] = proc.returncode
        document["stderr"] = proc.stderr
        return document

    def stop(self) -> None:
        self.server.stop()


def task_results(document: dict[str, Any], host: str) -> dict[str, dict[str, Any]]:
    """{task name: result} for one host from an ansible.posix.json document."""
    results = {}
    for play in document["plays"]:
        for task in play["tasks"]:
            if host in task["hosts"]:
                results[task["task"]["name"]] = task["hosts"][host]
    return results


def scenario(name: str) -> dict[str, dict[str, Any]]:
    return yaml.safe_load((SCENARIOS / name).read_text())["hosts"]


def host_for(spec: dict[str, Any] | None = None, name: str = "vm1") -> SimulatedHost:
    return SimulatedHost(name, spec or {"platform": "windows"}, workdir=None, user="u", password="p")


def call(
    host: SimulatedHost, module: str, check: bool = False, diff: bool = True, **args: Any
) -> dict[str, Any]:
    """Run one simulated module in-process, the way the server does after decoding a request."""
    complex_args = {"_ansible_module_name": module, **args, "_ansible_check_mode": check, "_ansible_diff": diff,
                    "_ansible_no_log": False}  # what ansible-core sends with every module
    invocation = Invocation(
        kind="module",
        name=module,
        fqcn=f"ansible.windows.{module}",
        args=complex_args,
        actions=["module_wrapper.ps1"],
    )
    stdout, _, rc = host.execute(invocation)
    result = json.loads(stdout)
    assert (rc == 1) == bool(result.get("failed")), result
    return result

"""End-to-end fixtures: a lab started through the real `remediate lab up`, and a runner for the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "remediate"  # the installed console script: the real command
REMEDIATE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "orchestrator.cli"]


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


class Remediate:
    def __init__(self, home: Path) -> None:
        self.home = home

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "REMEDIATE_"))}
        env["REMEDIATE_HOME"] = str(self.home)
        env["NO_PROXY"] = "127.0.0.1,localhost"
        return env

    def __call__(self, *args: str, timeout: int = 300, stdin: str | None = None) -> Result:
        proc = subprocess.run([*REMEDIATE, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env=self.env(), input=stdin, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    @property
    def lab_dir(self) -> Path:
        return self.home / "lab"


def start_lab(tmp_path_factory, scenario: str):
    home = tmp_path_factory.mktemp("home")
    r = Remediate(home)
    up = r("lab", "up", "--scenario", str(ROOT / "lab" / "scenarios" / scenario), "--json", timeout=120)
    assert up.rc == 0, up.stderr
    return r


def stop_lab(r: Remediate) -> None:
    down = r("lab", "down", timeout=60)
    assert down.rc == 0, down.stderr


@pytest.fixture(scope="module")
def linux_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "linux-asr.yml")
    yield r
    stop_lab(r)


# -- `remediate serve` as a real process ------------------------------------------------------------------------
TOKENS = {"alertmanager": "am-token-0123456789abcdef", "alice": "alice-token-0123456789ab",
          "bob": "bob-token-0123456789abcdef"}
HMAC_SECRETS = {"logicapp": "logicapp-secret-0123456789"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`remediate serve` started by the real console script on a free loopback port."""

    def __init__(self, r: Remediate, *, policy: Path | None = None, workers: int = 2,
                 extra_args: tuple[str, ...] = ()) -> None:
        import yaml

        self.r = r
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_file = r.home / "serve-auth.yml"
        self.auth_file.write_text(yaml.safe_dump({"tokens": TOKENS, "hmac": HMAC_SECRETS}))
        self.auth_file.chmod(0o600)
        self.args = [*REMEDIATE, "serve", "--port", str(self.port), "--workers", str(workers),
                     *(("--policy", str(policy)) if policy else ()), *extra_args]
        self.log = r.home / f"serve-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Server:
        import time
        import urllib.request

        handle = open(self.log, "ab")  # noqa: SIM115 - the server process owns it
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.r.env(), stdout=handle, stderr=handle,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as res:  # noqa: S310 - loopback
                    if res.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"serve did not answer within {timeout}s: {self.log.read_text()[-2000:]}")

    def headers(self, who: str = "alertmanager") -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[who]}"}

    def stop(self, sig: int | None = None) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# -- reading a remediate --json result and the lab's state (shared by the Windows e2e files) ------------------------
def hosts(r) -> dict:
    """{host: simulated state} of the lab `r` drives (`remediate lab status --json`)."""
    res = r("lab", "status", "--json")
    assert res.rc == 0, res.stderr
    return res.json["hosts"]


def applied(doc: dict) -> list[tuple[str, bool]]:
    """(step id, changed) of every step that ran for real."""
    return [(s["id"], s["changed"]) for s in doc["steps"] if s["phase"] == "apply"]


def noop(doc: dict) -> list[str]:
    """Steps checked in check mode, found to change nothing, and skipped (decision "no-op"). With --yes an
    idempotent step has no check run: it is applied, and its record says whether it changed anything."""
    return [d["reason"].split("(")[1].split(")")[0] for d in doc["decisions"] if d["rule"] == "no-op"]


def plan_lines(doc: dict, host: str) -> list[str]:
    """The readable change lines of the first planned step of `host`."""
    return [line for t in doc["results"][host]["plan"][0]["would_change"] for line in t.get("changes", [])]

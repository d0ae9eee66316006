"""`remediate serve` for the benchmarks: started with the real console script on a free loopback port, alerts in
Alertmanager's webhook format, a keep-alive HTTP client, and reads of the store (read-only)."""

from __future__ import annotations

import http.client
import json
import math
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import yaml

from bench.common import REMEDIATE, ROOT, Lab

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alert(code: str, host: str, fingerprint: str) -> bytes:
    """One firing Alertmanager alert for (code, host)."""
    return json.dumps({
        "version": "4", "groupKey": "{}:{alertname=\"AzureBackupJobFailed\"}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "remediate", "groupLabels": {"alertname": "AzureBackupJobFailed"},
        "commonLabels": {"alertname": "AzureBackupJobFailed"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [{"status": "firing", "labels": {"alertname": "AzureBackupJobFailed", "code": code, "host": host},
                    "annotations": {}, "startsAt": "2026-11-20T02:14:07Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph", "fingerprint": fingerprint}],
    }).encode()


class Serve:
    def __init__(self, lab: Lab, workers: int = 2) -> None:
        self.lab = lab
        self.port = free_port()
        auth = lab.home / "serve-auth.yml"
        auth.write_text(yaml.safe_dump({"tokens": {"bench": TOKEN}}))
        auth.chmod(0o600)
        self.log = lab.home / "serve.log"
        self.argv = [*REMEDIATE, "serve", "--port", str(self.port), "--workers", str(workers), "--auth-file",
                     str(auth)]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Serve:
        handle = open(self.log, "ab")  # noqa: SIM115 - the server process owns it
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.lab.env, stdout=handle, stderr=handle,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                status, _ = Client(self.port).get("/healthz")
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"serve did not answer within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.lab.home / 'remediate.db'}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def requests(self) -> list[dict]:
        with self.db() as conn:
            return [dict(r) for r in conn.execute("SELECT id, status, code, hosts, created_at FROM requests")]

    def runs_dir(self, rid: str) -> Path:
        return self.lab.home / "runs" / rid


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path)
        res = self.conn.getresponse()
        return res.status, res.read()

    def post(self, body: bytes) -> tuple[int, dict]:
        """POST /alerts; a connection the server closed while idle (keep-alive timeout) is opened again once."""
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            self.conn.request("POST", "/alerts", body=body, headers=headers)
            res = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.conn.close()
            self.conn.request("POST", "/alerts", body=body, headers=headers)
            res = self.conn.getresponse()
        return res.status, json.loads(res.read() or b"{}")

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]  # nearest rank

"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) as the client of the real `remediate serve`.

The test starts Alertmanager on loopback (no gossip) with one route to a webhook receiver pointing at serve, with
the bearer token in `http_config.authorization` and `send_resolved: true`. Alerts are posted to Alertmanager's own
API (`POST /api/v2/alerts`); what arrives at serve is what Alertmanager sends: a grouped webhook (version 4), its
repeats while the group fires, its resolved notification, and its retries while serve is down.

The receiver URL carries `?dry_run=true` (Alertmanager cannot add a body field or a header per receiver, but the
URL is configuration): the runs are real diagnose + check-mode plans against the lab hosts, and change nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from lab import linux

from .conftest import TOKENS, Server, free_port, start_lab, stop_lab
from .serve_helpers import db, requests_for, settled

pytestmark = pytest.mark.lab

VSS = "ExtensionFailedVssWriterInBadState"
SNAPSHOT = "ExtensionFailedSnapshotLimitReachedError"
GROUP_WAIT, GROUP_INTERVAL, REPEAT_INTERVAL = "1s", "2s", "4s"


class Alertmanager:
    """`prometheus-alertmanager` (Debian's name; upstream's binary is `alertmanager`) on a free loopback port."""

    def __init__(self, workdir: Path, receiver_url: str, token: str) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        assert binary, "Alertmanager is missing: run scripts/bootstrap.sh --test (Debian: prometheus-alertmanager)"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        config = {
            "route": {"receiver": "remediate", "group_by": ["alertname"], "group_wait": GROUP_WAIT,
                      "group_interval": GROUP_INTERVAL, "repeat_interval": REPEAT_INTERVAL},
            "receivers": [{"name": "remediate", "webhook_configs": [{
                "url": receiver_url, "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": token}}}]}],
        }
        (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self.args = [binary, f"--config.file={workdir / 'alertmanager.yml'}", f"--storage.path={workdir / 'data'}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=debug"]
        self.log = workdir / "alertmanager.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Alertmanager:
        handle = open(self.log, "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(self.args, stdout=handle, stderr=handle, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"alertmanager exited: {self.log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as res:  # noqa: S310 - loopback
                    if res.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"alertmanager not ready within {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def version(self) -> str:
        out = subprocess.run([self.args[0], "--version"], capture_output=True, text=True, check=True)
        return (out.stdout + out.stderr).split("\n", 1)[0]

    def post(self, alerts: list[dict]) -> None:
        req = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as res:  # noqa: S310 - loopback
            assert res.status == 200

    def fingerprints(self) -> dict[str, str]:
        """host label -> fingerprint of the active alerts (Alertmanager's alert id, sent in the webhook)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as res:  # noqa: S310 - loopback
            return {a["labels"]["host"]: a["fingerprint"] for a in json.loads(res.read())}

    def metric(self, name: str) -> float:
        """Sum of a webhook integration counter (e.g. alertmanager_notifications_failed_total) over its labels."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as res:  # noqa: S310 - loopback
            text = res.read().decode()
        pattern = rf'^{name}\{{[^}}]*integration="webhook"[^}}]*\}} (\S+)$'
        return sum(float(v) for v in re.findall(pattern, text, re.M))


def alert(name: str, code: str, host: str, **times: str) -> dict:
    return {"labels": {"alertname": name, "severity": "critical", "code": code, "host": host},
            "annotations": {"summary": f"Azure VM backup failed on {host}"}, **times}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    r = start_lab(tmp_path_factory, "default.yml")  # vm1 (Windows, WinRM), lnx1 and lnx2 (Linux, SSH)
    server = Server(r, workers=2).start()
    am = Alertmanager(tmp_path_factory.mktemp("alertmanager"), f"{server.url}/alerts?dry_run=true",
                      TOKENS["alertmanager"]).start()
    yield r, server, am, {}  # the last: what the first test saw, for the next ones (they run in file order)
    am.stop()
    server.stop()
    stop_lab(r)


def test_a_firing_group_becomes_one_dry_run_per_alert(stack):
    r, server, am, firing = stack
    assert am.version().startswith("alertmanager, version 0.")
    conf = linux.host_root(r.lab_dir / "linux", "lnx1") / "etc/azure/vmbackup.conf"
    before = conf.read_text()
    firing["startsAt"] = iso(datetime.now(UTC) - timedelta(seconds=1))
    am.post([alert("AzureBackupJobFailed", VSS, "vm1", startsAt=firing["startsAt"]),
             alert("AzureBackupJobFailed", SNAPSHOT, "lnx1", startsAt=firing["startsAt"])])
    fps = am.fingerprints()
    assert set(fps) == {"vm1", "lnx1"}
    firing["fingerprints"] = fps
    settled(r, bool, alert_id=fps["vm1"])
    settled(r, bool, alert_id=fps["lnx1"])
    assert am.metric("alertmanager_notifications_total") == 1  # one webhook carried the group of two alerts
    ran = {}
    for host, code in (("vm1", VSS), ("lnx1", SNAPSHOT)):
        rows = settled(r, lambda rows: any(x["status"] not in ("queued", "running", "skipped") for x in rows)
                       and all(x["status"] not in ("queued", "running") for x in rows),
                       alert_id=fps[host])
        [first] = [x for x in rows if x["status"] != "skipped"]
        assert first["status"] == "planned" and first["mode"] == "dry-run", first
        assert (first["code"], first["hosts"], first["requester"], first["payload_kind"]) == (
            code, [host], "alertmanager", "alertmanager")
        assert [s["phase"] for s in first["steps"]] == ["diagnose", "plan"]
        assert all(s["check_mode"] for s in first["steps"])
        # Alertmanager re-sends the still-firing group every repeat_interval: recorded, skipped by the dedup rule.
        for dup in rows:
            if dup is not first:
                assert dup["status"] == "skipped" and dup["steps"] == []
                assert [d["rule"] for d in dup["decisions"]] == ["dedup"]
                assert first["id"] in dup["decisions"][0]["reason"]
        ran[host] = first["id"]
    firing["ran"] = ran
    assert r("lab", "status", "--json").json["hosts"]["vm1"]["service_restarts"] == []
    assert conf.read_text() == before  # a dry-run: nothing changed on the hosts


def test_the_resolution_is_acknowledged_and_runs_nothing(stack):
    r, server, am, firing = stack
    fps = firing["fingerprints"]
    with db(r) as conn:
        steps_before = conn.execute("SELECT count(*) FROM step_results").fetchone()[0]
        plans_before = conn.execute("SELECT id, status FROM plans ORDER BY id").fetchall()
    ended = iso(datetime.now(UTC) - timedelta(seconds=1))
    am.post([alert("AzureBackupJobFailed", VSS, "vm1", startsAt=firing["startsAt"], endsAt=ended),
             alert("AzureBackupJobFailed", SNAPSHOT, "lnx1", startsAt=firing["startsAt"], endsAt=ended)])
    for host in ("vm1", "lnx1"):
        rows = settled(r, lambda rows: any(x["status"] == "resolved" for x in rows), alert_id=fps[host])
        resolved = [x for x in rows if x["status"] == "resolved"]
        assert len(resolved) == 1, [x["status"] for x in rows]
        [row] = resolved
        assert row["mode"] == "ack" and row["steps"] == [] and row["decisions"] == []
        assert row["result"]["message"] == "alert resolved: acknowledged, nothing run"
    time.sleep(3)  # a group_interval more: nothing else arrives and nothing runs
    with db(r) as conn:
        assert conn.execute("SELECT count(*) FROM step_results").fetchone()[0] == steps_before
        assert conn.execute("SELECT id, status FROM plans ORDER BY id").fetchall() == plans_before
        assert conn.execute("SELECT count(*) FROM requests WHERE status IN ('queued', 'running')").fetchone()[0] == 0
        firing_after = conn.execute(
            "SELECT count(*) FROM requests WHERE mode != 'ack' AND created_at > (SELECT max(created_at) FROM "
            "requests WHERE status = 'resolved')").fetchone()[0]
    assert firing_after == 0  # the resolution ended the repeats


def test_alertmanager_retries_while_serve_is_down_and_delivers_when_it_is_back(stack):
    r, server, am, firing = stack
    server.stop()
    failed = am.metric("alertmanager_notification_requests_failed_total")
    am.post([alert("AzureBackupJobFailedAgain", VSS, "vm1")])
    fp = am.fingerprints()["vm1"]
    deadline = time.monotonic() + 60
    while am.metric("alertmanager_notification_requests_failed_total") < failed + 2:  # it tried, and again
        assert time.monotonic() < deadline, "alertmanager did not try to notify"
        time.sleep(0.3)
    assert requests_for(r, alert_id=fp) == []
    back = datetime.now(UTC)
    server.start()
    rows = settled(r, lambda rows: bool(rows) and all(x["status"] not in ("queued", "running") for x in rows),
                   alert_id=fp)
    assert all(datetime.fromisoformat(x["created_at"]).replace(tzinfo=UTC) > back for x in rows)
    first = rows[0]
    # the same (code, host) as the first group's vm1 run, within the dedup window: recorded and skipped
    assert first["status"] == "skipped" and first["requester"] == "alertmanager"
    assert firing["ran"]["vm1"] in first["decisions"][0]["reason"]
    assert "connection refused" in am.log.read_text().lower()

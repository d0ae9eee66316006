"""An alert storm: 200 identical Azure Monitor alerts (the built-in Azure Backup failure for vm1) posted at once,
over real HTTP from 200 threads, to the real `remediate serve` with its SQLite store: every one is accepted (202)
and recorded, exactly one remediation runs (its steps once), the 199 others are skipped by the dedup rule naming
the one that ran. The skipped ones start no run process (the worker's admission skips them), so this stays fast.
"""

from __future__ import annotations

import json
import threading

import pytest

from .conftest import ROOT, Server, start_lab, stop_lab
from .serve_helpers import db, finished, post_alert, settled

pytestmark = pytest.mark.lab

ALERT = (ROOT / "tests" / "fixtures" / "alerts" / "azure-backup-builtin-failure.json").read_bytes()
ALERT_ID = json.loads(ALERT)["data"]["essentials"]["alertId"]
STORM = 200


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "vss-default.yml")
    yield r
    stop_lab(r)


def test_200_identical_alerts_run_one_remediation_and_record_all(lab):
    server = Server(lab, workers=2).start()
    try:
        barrier = threading.Barrier(STORM)
        replies: list[tuple[int, dict]] = []
        errors: list[BaseException] = []

        def post() -> None:
            try:
                barrier.wait(timeout=60)
                replies.append(post_alert(server, ALERT))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=post) for _ in range(STORM)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert not errors, errors[:3]
        assert sorted({status for status, _ in replies}) == [202] and len(replies) == STORM
        rids = [body["requests"][0]["request_id"] for _, body in replies]
        assert len(set(rids)) == STORM
        assert all(body["requests"][0]["host"] == "vm1" for _, body in replies)

        rows = settled(lab, lambda rows: len(rows) == STORM and all(map(finished, rows)), alert_id=ALERT_ID,
                       timeout=300)
        assert {r["id"] for r in rows} == set(rids)
        ran = [r for r in rows if r["status"] != "skipped"]
        assert len(ran) == 1, sorted({r["status"] for r in rows})
        first = ran[0]
        assert first["status"] == "approval-required" and first["plan_id"]
        assert [(s["phase"], s["step_id"]) for s in first["steps"]] == [("diagnose", "diagnose"),
                                                                         ("plan", "restart-failing-writers")]
        skipped = [r for r in rows if r["status"] == "skipped"]
        assert len(skipped) == STORM - 1
        for row in skipped:
            assert row["steps"] == [] and row["exit_code"] == 7
            assert [d["rule"] for d in row["decisions"]] == ["dedup"]
            assert f"duplicate of request {first['id']}" in row["decisions"][0]["reason"]
        assert {(r["requester"], r["payload_kind"], r["code"]) for r in rows} == {
            ("alertmanager", "azure-monitor", "ExtensionFailedVssWriterInBadState")}
        with db(lab) as conn:
            assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == STORM
            assert conn.execute("SELECT count(*) FROM plans").fetchone()[0] == 1
        assert "database is locked" not in server.log.read_text()
        assert lab("lab", "status", "--json").json["hosts"]["vm1"]["service_restarts"] == []
    finally:
        server.stop()

"""`remediate serve` under load and failure, in-process: duplicates are skipped by the worker's own thread (no run
process per duplicate) while the admitted request runs (its process does not take its own dedup claim for a
duplicate), and a store that cannot be written answers 503 with Retry-After (a sender retries it; Azure Monitor
action groups do not retry a 500)."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from orchestrator.catalog import load_catalog
from orchestrator.policy import Policy
from orchestrator.server import ServerConfig, create_app, worker
from orchestrator.server.config import token_digest
from orchestrator.server.metrics import Metrics
from orchestrator.server.service import ServerContext
from orchestrator.store import Store, requests

TOKEN = "am-token-0123456789abcdef"
AM = {"Authorization": f"Bearer {TOKEN}"}
ALERT = json.dumps({"code": "TestLadderError", "host": "box"}).encode()


@pytest.fixture
def server(project, request):
    workers = getattr(request, "param", 2)
    config = ServerConfig(state=project["home"], inventory=project["inv"], policy=Policy(),
                          tokens={token_digest(TOKEN): "alertmanager"}, workers=workers, poll_interval=0.05)
    with TestClient(create_app(config)) as client:
        client.store = Store.open(project["home"])
        yield client


def settled(store: Store, rids: list[str], timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [store.get_request(rid) for rid in rids]
        if all(r["status"] not in ("queued", "running") for r in rows):
            return rows
        time.sleep(0.1)
    raise AssertionError("requests still queued or running")


def test_duplicates_are_skipped_without_a_run_process(server, monkeypatch):
    started: list[str] = []
    real = worker.run_child

    def counting(ctx, row, **kwargs):
        started.append(row["id"])
        return real(ctx, row, **kwargs)

    monkeypatch.setattr(worker, "run_child", counting)
    rids = [server.post("/alerts?dry_run=true", content=ALERT, headers=AM).json()["requests"][0]["request_id"]
            for _ in range(6)]
    rows = settled(server.store, rids)
    ran = [r for r in rows if r["status"] != "skipped"]
    assert len(ran) == 1 and ran[0]["status"] == "planned", [r["status"] for r in rows]
    assert all(d["rule"] != "dedup" for d in ran[0]["decisions"])
    assert started == [ran[0]["id"]]  # one process, for the request that ran
    for row in rows:
        if row["status"] == "skipped":
            assert row["exit_code"] == 7 and row["worker"] is not None
            [decision] = row["decisions"]
            assert decision["rule"] == "dedup" and ran[0]["id"] in decision["reason"]
            assert row["result"]["hosts"]["box"]["status"] == "skipped"
    steps = {h["id"]: [s["phase"] for s in h["steps"]] for h in server.store.history(limit=10)}
    assert steps[ran[0]["id"]] == ["diagnose", "plan"]
    assert all(steps[r["id"]] == [] for r in rows if r["status"] == "skipped")
    assert 'remediate_runs_total{status="skipped"} 5.0' in server.get("/metrics").text


@pytest.mark.parametrize("server", [1], indirect=True)  # one worker: the one that failed runs the next request
def test_a_worker_survives_a_failing_request(server, monkeypatch):
    real, failures = worker.admit, []

    def once(ctx, row):
        if not failures:
            failures.append(row["id"])
            raise OperationalError("SELECT", {}, sqlite3.OperationalError("disk I/O error"))
        return real(ctx, row)

    monkeypatch.setattr(worker, "admit", once)
    first = server.post("/alerts?dry_run=true", content=ALERT, headers=AM).json()["requests"][0]["request_id"]
    [row] = settled(server.store, [first])
    assert row["status"] == "failed" and "disk I/O error" in row["result"]["error"]
    second = server.post("/alerts?dry_run=true", content=ALERT, headers=AM).json()["requests"][0]["request_id"]
    [row] = settled(server.store, [second])
    assert row["status"] == "planned"  # the worker is still there


def test_a_request_queued_again_after_a_restart_is_not_a_duplicate_of_itself(project):
    store = Store.open(project["home"])
    rid = store.create_request(source="api", code="TestLadderError", runbook="ladder-test", hosts=["box"],
                               mode="apply", requester="alertmanager", status="running",
                               params={"kind": "alert", "code": "TestLadderError", "host": "box"})
    dead = _dead_pid()
    with store.engine.begin() as c:
        c.execute(requests.update().where(requests.c.id == rid).values(worker=f"{socket.gethostname()}:{dead}"))
    assert store.claim_dedup("TestLadderError|box", rid, 900) is None  # the run that was killed had claimed it
    config = ServerConfig(state=project["home"], inventory=project["inv"], policy=Policy(), on_interrupted="retry")
    ctx = ServerContext(config=config, store=store, catalog=load_catalog(), metrics=Metrics(lambda: {}))
    assert [r["id"] for r in worker.recover(ctx)] == [rid]
    assert store.get_request(rid)["status"] == "queued"
    assert store.claim_dedup("TestLadderError|box", rid, 900) is None  # free again for its own run


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_store_unavailable_is_503_with_retry_after(server, monkeypatch):
    def locked(_rows):
        raise OperationalError("INSERT INTO requests", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(server.app.state.ctx.store, "insert_requests", locked)  # the intake's batch write
    res = server.post("/alerts", content=ALERT, headers=AM)
    assert res.status_code == 503, res.text
    assert res.headers["retry-after"] == "10"
    assert res.json() == {"error": "the store is unavailable; retry later"}
    assert "database is locked" not in res.text


def test_a_queued_alert_wakes_an_idle_worker_at_once(project):
    """The intake's commit wakes the workers (worker.py WorkerPool.wake); their poll is only the fallback for
    requests queued by other processes, here longer than the test."""
    config = ServerConfig(state=project["home"], inventory=project["inv"], policy=Policy(),
                          tokens={token_digest(TOKEN): "alertmanager"}, workers=1, poll_interval=600)
    with TestClient(create_app(config)) as client:
        store = Store.open(project["home"])
        time.sleep(0.5)  # the worker found nothing and waits
        rid = client.post("/alerts?dry_run=true", content=ALERT, headers=AM).json()["requests"][0]["request_id"]
        deadline = time.monotonic() + 10
        while store.get_request(rid)["status"] == "queued":
            assert time.monotonic() < deadline, "the worker was not woken by the queued alert"
            time.sleep(0.05)
        [row] = settled(store, [rid])
        assert row["status"] == "planned"

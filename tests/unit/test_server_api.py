"""`remediate serve` in-process (FastAPI TestClient, real worker threads, real ansible-playbook on a local
connection through the ladder project of conftest): authentication, alerts persisted and run, plans approved."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from orchestrator.catalog import load_catalog
from orchestrator.policy import Policy
from orchestrator.server import ServerConfig, create_app
from orchestrator.server.auth import sign
from orchestrator.server.config import token_digest
from orchestrator.store import Store

TOKENS = {"am-token-0123456789abcdef": "alertmanager", "alice-token-0123456789ab": "alice",
          "bob-token-0123456789abcdef": "bob"}
SECRET = b"logicapp-secret-0123456789"
ALERT = json.dumps({"code": "TestLadderError", "host": "box"}).encode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


AM = bearer("am-token-0123456789abcdef")


@pytest.fixture
def server(project):
    load_catalog.cache_clear() if hasattr(load_catalog, "cache_clear") else None
    config = ServerConfig(state=project["home"], inventory=project["inv"], policy=Policy(),
                          tokens={token_digest(t): who for t, who in TOKENS.items()},
                          hmac_secrets={"logicapp": SECRET}, workers=1, poll_interval=0.05)
    app = create_app(config)
    with TestClient(app) as client:
        client.project = project
        client.store = Store.open(project["home"])
        yield client


def wait_for(client, rid: str, done=("queued", "running"), timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = client.get(f"/requests/{rid}", headers=AM).json()
        if row["status"] not in done:
            return row
        time.sleep(0.2)
    raise AssertionError(f"request {rid} still {row['status']}")


def counts(client) -> dict:
    return client.store.count_by_status()


def test_every_endpoint_but_health_and_metrics_needs_credentials(server):
    rid = server.post("/alerts", content=ALERT, headers=AM).json()["requests"][0]["request_id"]
    wait_for(server, rid)
    plan_id = server.get("/plans", headers=AM).json()["plans"][0]["id"]
    before = (counts(server), server.project["state"].read_text())
    now = int(time.time())
    bad = [{}, bearer("wrong-token-0123456789"), {"Authorization": "Basic YTpi"},
           {"X-Remediate-Signature": sign(b"not-the-secret-0123456", ALERT)},
           {"X-Remediate-Signature": sign(SECRET, ALERT, now - 3600)},
           {"X-Remediate-Signature": "t=1,v1=zz"}]
    for headers in bad:
        for method, url in (("POST", "/alerts"), ("POST", f"/plans/{plan_id}/approve"),
                            ("POST", f"/plans/{plan_id}/reject"), ("GET", "/plans"), ("GET", f"/requests/{rid}"),
                            ("GET", "/requests")):
            res = server.request(method, url, content=ALERT if method == "POST" else None, headers=headers)
            assert res.status_code == 401, (method, url, headers, res.text)
    assert (counts(server), server.project["state"].read_text()) == before
    assert server.store.get_plan(plan_id)["status"] == "pending"
    assert server.get("/healthz").json()["status"] == "ok"
    metrics = server.get("/metrics").text
    assert "remediate_auth_failures_total 36.0" in metrics
    assert 'remediate_requests{status="approval-required"}' in metrics
    assert server.get("/openapi.json").json()["paths"]["/alerts"]["post"]


def test_signed_alert_is_accepted_once(server):
    headers = {"X-Remediate-Signature": sign(SECRET, ALERT), "Content-Type": "application/json"}
    res = server.post("/alerts?dry_run=true", content=ALERT, headers=headers)
    assert res.status_code == 202, res.text
    row = wait_for(server, res.json()["requests"][0]["request_id"])
    assert row["requester"] == "logicapp" and row["mode"] == "dry-run" and row["status"] == "planned"
    assert server.post("/alerts", content=ALERT, headers=headers).status_code == 401  # a replay


def test_alert_to_plan_to_approval_over_the_api(server):
    res = server.post("/alerts", content=ALERT, headers=AM)
    assert res.status_code == 202, res.text
    rid = res.json()["requests"][0]["request_id"]
    assert server.store.get_request(rid)["status"] in ("queued", "running", "approval-required")  # persisted
    row = wait_for(server, rid)
    assert row["status"] == "approval-required" and row["requester"] == "alertmanager"
    assert server.project["state"].read_text() == "half\n"  # the low-risk step ran automatically
    plans = server.get("/plans", headers=AM).json()["plans"]
    assert len(plans) == 1 and plans[0]["max_risk"] == "medium"
    record = server.get(f"/plans/{plans[0]['id']}?format=md", headers=AM)
    assert record.status_code == 200 and "What would change" in record.text
    res = server.post(f"/plans/{plans[0]['id']}/approve", headers=bearer("alice-token-0123456789ab"))
    assert res.status_code == 202, res.text
    applied = wait_for(server, res.json()["request_id"])
    assert applied["status"] == "fixed" and server.project["state"].read_text() == "ok\n"
    plan = server.store.get_plan(plans[0]["id"])
    assert plan["status"] == "applied" and plan["approved_by"] == "alice"
    again = server.post(f"/plans/{plans[0]['id']}/approve", headers=bearer("bob-token-0123456789abcdef"))
    assert again.status_code == 409
    assert server.post("/plans/00000000-0000-4000-8000-000000000000/approve", headers=AM).status_code == 404


def test_reject_and_two_person_rule(server):
    server.app.state.ctx.config.policy = Policy(two_person_risks=["medium"])
    rid = server.post("/alerts", content=ALERT, headers=AM).json()["requests"][0]["request_id"]
    wait_for(server, rid)
    plan_id = server.get("/plans", headers=AM).json()["plans"][0]["id"]
    refused = server.post(f"/plans/{plan_id}/approve", headers=AM)
    assert refused.status_code == 403 and "two-person rule" in refused.json()["error"]
    res = server.post(f"/plans/{plan_id}/reject", json={"reason": "change freeze"},
                      headers=bearer("bob-token-0123456789abcdef"))
    assert res.status_code == 200 and res.json()["status"] == "rejected"
    assert server.store.get_plan(plan_id)["decided_by"] == "bob"
    assert server.project["state"].read_text() == "half\n"


@pytest.mark.parametrize(("body", "status", "needle"), [
    (b"{not json", 400, "not valid JSON"),
    (b"x" * 1_100_000, 413, "larger than"),
    (json.dumps({"code": "NoSuchCode", "host": "box"}).encode(), 422, "unknown error code"),
    (json.dumps({"code": "TestLadderError", "host": "ghost"}).encode(), 422, "not in the inventory"),
    (json.dumps({"code": "TestLadderError", "host": "box; rm -rf /"}).encode(), 422, "box; rm -rf /"),
    (json.dumps({"code": "{{ lookup('pipe', 'id') }}", "host": "box"}).encode(), 422, "lookup"),
    (json.dumps({"code": "TestLadderError", "host": "../../etc/passwd"}).encode(), 422, "passwd"),
    (json.dumps({"code": "TestLadderError", "host": "box\u001b[31m"}).encode(), 422, "box"),
])
def test_bad_alerts_are_refused_recorded_and_run_nothing(server, body, status, needle):
    res = server.post("/alerts", content=body, headers=AM)
    assert res.status_code == status, res.text
    assert needle in res.text
    if status != 413:
        row = server.store.get_request(res.json()["request_id"])
        assert row["status"] == "rejected"
    assert server.store.requests_with_status("queued") == []
    assert server.project["state"].read_text() == "broken\n"

"""POST /alerts is served by its own ASGI app (orchestrator/server/intake.py), not by FastAPI's dependency solving
and parameter validation: it must answer exactly as the FastAPI endpoint it replaces. In-process, no workers (the
requests stay queued: what is stored is what the intake decided)."""

from __future__ import annotations

import json
import sqlite3

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from orchestrator.group_commit import StoreWriteFailed
from orchestrator.policy import Policy
from orchestrator.server import ServerConfig, create_app
from orchestrator.server.auth import sign
from orchestrator.server.config import token_digest
from orchestrator.server.intake import Reply
from orchestrator.store import Store

TOKEN = "am-token-0123456789abcdef"
AM = {"Authorization": f"Bearer {TOKEN}"}
SECRET = b"logicapp-secret-0123456789"
LIMIT = 4096
ALERT = json.dumps({"code": "TestLadderError", "host": "box"}).encode()
INVALID_BOOL = "Input should be a valid boolean, unable to interpret input"


@pytest.fixture
def server(project):
    config = ServerConfig(state=project["home"], inventory=project["inv"], policy=Policy(),
                          tokens={token_digest(TOKEN): "alertmanager"}, hmac_secrets={"logicapp": SECRET},
                          max_body=LIMIT)
    with TestClient(create_app(config, start_workers=False)) as client:
        client.store = Store.open(project["home"])
        yield client


@pytest.fixture(scope="module")
def fastapi_reference():
    """A bare FastAPI endpoint with the same query parameter: what FastAPI itself answers for each value."""
    ref = FastAPI()

    @ref.post("/x")
    def x(dry_run: bool = False) -> dict:
        return {"dry_run": dry_run}

    with TestClient(ref) as client:
        yield client


def alert(n: int) -> bytes:
    return json.dumps({"code": "TestLadderError", "host": "box", "alert_id": f"a{n}"}).encode()


def stored(server) -> dict:
    return server.store.count_by_status()


def metric(server, line: str) -> float:
    for row in server.get("/metrics").text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return 0.0


QUERIES = ["dry_run=true", "dry_run=True", "dry_run=TRUE", "dry_run=1", "dry_run=yes", "dry_run=on", "dry_run=t",
           "dry_run=Y", "dry_run=false", "dry_run=FaLsE", "dry_run=0", "dry_run=no", "dry_run=off", "dry_run=f",
           "dry_run=n", "", "other=1", "DRY_RUN=true", "dry-run=true", "dry_run=tru%65", "dry_run=maybe&dry_run=true",
           "dry_run=on&dry_run=off", "dry_run=true&dry_run=maybe", "dry_run=", "dry_run", "dry_run=maybe",
           "dry_run=2", "dry_run=-1", "dry_run=1.0", "dry_run=00", "dry_run=%20true", "dry_run=true%20",
           "dry_run=+true", "dry_run=%C3%A9", "dry_run=%00", "dry_run=true;x", "dry_run=" + "x" * 300]


@pytest.mark.parametrize("query", QUERIES)
def test_dry_run_is_read_as_fastapi_reads_a_bool_query_parameter(server, fastapi_reference, query):
    """intake.py query_flag: the last value, pydantic's booleans (FastAPI validates `dry_run: bool` with a
    TypeAdapter(bool), fastapi/_compat/v2.py ModelField.validate); an invalid one is FastAPI's 422, nothing stored."""
    expected = fastapi_reference.post(f"/x?{query}")
    res = server.post(f"/alerts?{query}", content=alert(1), headers=AM)
    if expected.status_code == 422:
        assert res.status_code == 422 and res.json() == expected.json()
        assert res.json()["detail"][0]["msg"] == INVALID_BOOL and res.json()["detail"][0]["loc"] == ["query", "dry_run"]
        assert stored(server) == {}
        return
    assert res.status_code == 202, res.text
    row = server.store.get_request(res.json()["requests"][0]["request_id"])
    assert row["mode"] == ("dry-run" if expected.json()["dry_run"] else "apply")
    assert row["params"]["dry_run"] is expected.json()["dry_run"]


def test_credentials_and_body_limit_are_checked_before_the_query(server):
    """FastAPI solves the `identity` dependency before it validates query parameters (fastapi/dependencies/utils.py
    solve_dependencies): a bad dry_run with bad credentials is a 401, with too large a body a 413."""
    res = server.post("/alerts?dry_run=maybe", content=alert(1))
    assert res.status_code == 401 and res.json() == {"detail": "missing credentials"}
    res = server.post("/alerts?dry_run=maybe", content=b"x" * (LIMIT + 1), headers=AM)
    assert res.status_code == 413
    assert server.post("/alerts?dry_run=maybe", content=alert(1), headers=AM).status_code == 422
    assert stored(server) == {}


@pytest.mark.parametrize(("content", "headers", "status", "detail"), [
    (b"x" * (LIMIT + 1), AM, 413, f"payload larger than {LIMIT} bytes"),  # Content-Length over the limit
    (b"x" * (LIMIT + 1), {}, 413, f"payload larger than {LIMIT} bytes"),  # before the credentials
    (iter([b"x" * 3000, b"y" * 3000]), AM, 413, f"payload larger than {LIMIT} bytes"),  # chunked: no Content-Length
    (b"{}", {"Content-Length": str(LIMIT + 1)}, 413, f"payload larger than {LIMIT} bytes"),
    (ALERT, {**AM, "Content-Length": "abc"}, 400, "invalid Content-Length"),
    (ALERT, {**AM, "Content-Length": "-1"}, 400, "invalid Content-Length"),
])
def test_body_limit_and_content_length(server, content, headers, status, detail):
    res = server.post("/alerts", content=content, headers=headers)
    assert res.status_code == status and res.json() == {"detail": detail}
    assert stored(server) == {}


def test_a_chunked_body_within_the_limit_is_read_whole(server):
    res = server.post("/alerts", content=iter([ALERT[:10], ALERT[10:]]), headers=AM)
    assert res.status_code == 202, res.text
    assert stored(server) == {"queued": 1}


@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "missing credentials"),
    ({"Authorization": "Bearer not-the-token-0123456789"}, "invalid credentials"),
    ({"Authorization": "Basic YTpi"}, "missing credentials"),
    ({"X-Remediate-Signature": "t=1,v1=zz"}, "invalid credentials"),
    ({"Cookie": "remediate_session=whatever"}, "missing credentials"),  # a POST never takes the page's session
])
def test_401_says_bearer_and_is_counted(server, headers, detail):
    before = metric(server, "remediate_auth_failures_total")
    res = server.post("/alerts", content=ALERT, headers=headers)
    assert res.status_code == 401 and res.json() == {"detail": detail}
    assert res.headers["www-authenticate"] == "Bearer"
    assert metric(server, "remediate_auth_failures_total") == before + 1
    assert stored(server) == {}


def test_a_signature_is_checked_against_the_body_read_and_claimed_once(server):
    body = alert(7)
    headers = {"X-Remediate-Signature": sign(SECRET, body)}
    res = server.post("/alerts?dry_run=1", content=body, headers=headers)
    assert res.status_code == 202, res.text
    row = server.store.get_request(res.json()["requests"][0]["request_id"])
    assert row["requester"] == "logicapp" and row["mode"] == "dry-run"
    assert server.post("/alerts", content=body, headers=headers).status_code == 401  # replayed
    assert server.post("/alerts", content=alert(8), headers={"X-Remediate-Signature": sign(SECRET, body)}
                       ).status_code == 401  # signed another body


def test_202_reply_and_metrics_per_request(server):
    res = server.post("/alerts", content=json.dumps([{"code": "TestLadderError", "host": "box"},
                                                     {"code": "TestLadderError", "host": "ghost"}]), headers=AM)
    assert res.status_code == 202 and res.headers["content-type"] == "application/json"
    body = res.json()
    assert body["count"] == 2 and [r["status"] for r in body["requests"]] == ["queued", "rejected"]
    assert list(body["requests"][0]) == ["source", "alert_id", "code", "host", "request_id", "status"]
    assert "not in the inventory" in body["requests"][1]["reason"]
    assert stored(server) == {"queued": 1, "rejected": 1}
    for _ in range(3):
        assert server.post("/alerts", content=ALERT, headers=AM).status_code == 202
    assert metric(server, 'remediate_alert_requests_total{kind="plain",outcome="queued"}') == 4
    assert metric(server, 'remediate_alert_requests_total{kind="plain",outcome="rejected"}') == 1


def test_rejected_alerts_answer_their_status_with_the_request_id(server):
    res = server.post("/alerts", content=b"{not json", headers=AM)
    assert res.status_code == 400 and set(res.json()) == {"error", "request_id"}
    res = server.post("/alerts", content=json.dumps({"code": "NoSuchCode", "host": "box"}), headers=AM)
    assert res.status_code == 422 and "unknown error code" in res.json()["error"]
    assert server.store.get_request(res.json()["request_id"])["status"] == "rejected"


@pytest.mark.parametrize("error", [
    StoreWriteFailed(RuntimeError("disk full")),
    OperationalError("INSERT INTO requests", {}, sqlite3.OperationalError("database is locked")),
])
def test_store_errors_are_503_with_retry_after(server, monkeypatch, error):
    async def failing(_rows):
        raise error

    monkeypatch.setattr(server.app.state.ctx.writer(), "write", failing)
    res = server.post("/alerts", content=ALERT, headers=AM)
    assert res.status_code == 503 and res.headers["retry-after"] == "10"
    assert res.json() == {"error": "the store is unavailable; retry later"}
    assert metric(server, 'remediate_alert_requests_total{kind="plain",outcome="queued"}') == 0  # not counted


def test_an_unreadable_inventory_is_the_remediate_error_mapping(server):
    server.app.state.ctx.config.inventory.write_text("all: [unclosed\n")
    res = server.post("/alerts", content=ALERT, headers=AM)
    assert res.status_code == 400 and res.json()["error"].startswith("invalid inventory ")
    assert stored(server) == {}


def test_other_methods_are_405_as_fastapi_answers(server):
    for method in ("GET", "PUT", "DELETE"):
        res = server.request(method, "/alerts", headers=AM)
        assert res.status_code == 405 and res.headers["allow"] == "POST"
        assert res.json() == {"detail": "Method Not Allowed"}


def test_openapi_documents_post_alerts(server):
    spec = server.get("/openapi.json").json()
    op = spec["paths"]["/alerts"]["post"]
    assert [(p["name"], p["in"], p["schema"]["type"], p["schema"]["default"]) for p in op["parameters"]] == [
        ("dry_run", "query", "boolean", False)]
    assert set(op["responses"]) == {"202", "400", "401", "413", "422"}
    assert op["responses"]["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Queued"}
    assert set(spec["components"]["schemas"]["Queued"]["properties"]) == {"requests", "count"}
    assert "Alertmanager" in op["description"]


def test_the_route_does_not_go_through_fastapis_solver(server, monkeypatch):
    """What the route is for (BENCHMARKS.md section 3): no dependency solving per alert; other endpoints use it."""
    async def no_solver(*args, **kwargs):
        raise AssertionError("solve_dependencies called")

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", no_solver)
    assert server.post("/alerts?dry_run=yes", content=ALERT, headers=AM).status_code == 202
    with pytest.raises(AssertionError, match="solve_dependencies called"):
        server.get("/requests", headers=AM)


def test_reply_encodes_as_jsonresponse():
    content = {"requests": [{"host": "vm-é", "reason": "quote \" and \u2028 and \U0001f600", "n": None}], "count": 1}
    assert Reply(content, status_code=202).body == JSONResponse(content, status_code=202).body
    with pytest.raises(ValueError, match="JSON compliant"):
        Reply({"x": float("nan")})

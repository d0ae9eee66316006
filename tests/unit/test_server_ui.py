"""The approvals page of `remediate serve` in-process (FastAPI TestClient): sign-in, sessions, CSRF and origin
checks, escaping, the page's headers, and approving / rejecting through the same service functions as the API.

Plans are written straight into the store and no worker runs (the e2e test in Chromium approves and applies a real
plan against the lab)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from orchestrator.catalog import load_catalog
from orchestrator.engine import file_digest, shared_playbook_digest
from orchestrator.policy import Policy
from orchestrator.server import ServerConfig, create_app
from orchestrator.server.config import token_digest
from orchestrator.server.sessions import SESSION_COOKIE, Sessions
from orchestrator.store import Store, now

TOKENS = {"am-token-0123456789abcdef": "alertmanager", "alice-token-0123456789ab": "alice",
          "bob-token-0123456789abcdef": "bob"}
ALICE, BOB = "alice-token-0123456789ab", "bob-token-0123456789abcdef"
HOSTILE = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>{{7*7}}"


def make_client(project, *, policy: Policy | None = None, base_url: str = "http://testserver") -> TestClient:
    config = ServerConfig(state=project["home"], inventory=project["inv"], policy=policy or Policy(),
                          tokens={token_digest(t): who for t, who in TOKENS.items()}, workers=1,
                          poll_interval=0.05)
    client = TestClient(create_app(config, start_workers=False), base_url=base_url, follow_redirects=False)
    client.store = Store.open(project["home"])
    return client


@pytest.fixture
def ui(project):
    with make_client(project) as client:
        yield client


def stored_plan(client, *, requester: str = "alertmanager", text: str = "", expires_in: float = 3600,
                valid_for: dict | None = None) -> str:
    """A pending plan written straight into the store, `text` in every field a person or an alert can shape.
    With `valid_for` (the project), its digests are the project's: approving it passes every check."""
    store = client.store
    rid = store.create_request(source="api", code="TestLadderError", runbook="ladder-test", hosts=["box"],
                               mode="apply", requester=requester, status="approval-required")
    step = {"step": 2, "id": "full-fix", "title": f"Full fix {text}", "risk": "medium", "changes": f"writes {text}",
            "would_change": [{"name": f"Write state {text}", "changed": True,
                              "changes": [f"/tmp/state: broken → ok {text}"]}], "idempotent": True}
    body = {"runbook": "ladder-test", "code": "TestLadderError", "title": f"Ladder test {text}", "source": "api",
            "alert_id": f"alert {text}" if text else None, "lang": "en",
            "hosts": {"box": {"diagnosis": {"summary": f"state is {text}"}, "status": "approval-required",
                              "steps": [step]}}}
    if valid_for is not None:
        catalog = load_catalog()
        runbook = catalog.runbooks["ladder-test"]
        full_fix = runbook.ladder[1]
        body |= {"runbook_sha256": file_digest(valid_for["proj"] / "runbooks" / "ladder-test.yml"),
                 "shared_sha256": shared_playbook_digest()}
        step |= {"playbook": full_fix.playbook, "vars": {**runbook.vars, **full_fix.vars},
                 "playbook_sha256": file_digest(catalog.playbooks_dir / full_fix.playbook)}
    return store.save_plan(request_id=rid, runbook="ladder-test", code="TestLadderError", hosts=["box"],
                           plan_hash="0" * 64, plan=body, expires_at=now() + timedelta(seconds=expires_in),
                           requester=requester, inventory=str(valid_for["inv"]) if valid_for else None,
                           max_risk="medium")


def sign_in(client, token: str = ALICE) -> str:
    """Sign in through the form; returns the session's CSRF token (read from the page)."""
    form = client.get("/ui/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)[1]
    res = client.post("/ui/login", data={"nonce": nonce, "token": token})
    assert res.status_code == 303 and res.headers["location"] == "/ui", res.text
    page = client.get("/ui")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text)[1]


def snapshot(client) -> tuple:
    store = client.store
    return (store.count_by_status(), [(p["id"], p["status"], p["decided_by"]) for p in store.list_plans(None)])


def test_pages_need_a_session_and_sign_in_takes_an_api_token(ui):
    assert ui.get("/").headers["location"] == "/ui"
    res = ui.get("/ui")
    assert res.status_code == 303 and res.headers["location"] == "/ui/login"
    assert ui.get("/ui/fragment").status_code == 401
    form = ui.get("/ui/login")
    assert form.status_code == 200 and 'type="password"' in form.text
    login_cookie = form.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie and "Path=/ui/login" in login_cookie
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)[1]

    wrong = ui.post("/ui/login", data={"nonce": nonce, "token": "not-a-token-0123456789"})
    assert wrong.status_code == 401 and "Invalid token" in wrong.text
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert "remediate_auth_failures_total 1.0" in ui.get("/metrics").text
    no_nonce = ui.post("/ui/login", data={"token": ALICE})
    assert no_nonce.status_code == 403 and SESSION_COOKIE not in no_nonce.headers.get("set-cookie", "")
    nonce = re.search(r'name="nonce" value="([^"]+)"', wrong.text)[1]  # each form rendering renews the nonce
    other_site = ui.post("/ui/login", data={"nonce": nonce, "token": ALICE}, headers={"Origin": "http://evil.test"})
    assert other_site.status_code == 403 and SESSION_COOKIE not in other_site.headers.get("set-cookie", "")

    sign_in(ui, ALICE)
    page = ui.get("/ui")
    assert '<strong id="identity">alice</strong>' in page.text
    assert ui.get("/ui/login").headers["location"] == "/ui"  # signed in already


def test_session_cookie_attributes(project):
    with make_client(project) as client:
        form = client.get("/ui/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)[1]
        cookie = client.post("/ui/login", data={"nonce": nonce, "token": ALICE}).headers["set-cookie"]
        session = next(c for c in cookie.split(", remediate_login") if c.startswith(SESSION_COOKIE))
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        assert "Secure" not in session  # plain http on loopback: a Secure cookie would never come back
    with make_client(project, base_url="https://testserver") as client:
        form = client.get("/ui/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)[1]
        cookie = client.post("/ui/login", data={"nonce": nonce, "token": ALICE}).headers["set-cookie"]
        assert "Secure" in cookie.split(", remediate_login")[0]


def test_page_headers_forbid_inline_code_and_external_assets(ui):
    pages = {"/ui/login": ui.get("/ui/login")}
    sign_in(ui)
    stored_plan(ui)
    pages |= {path: ui.get(path) for path in ("/ui", "/ui/static/ui.js", "/ui/static/ui.css")}
    for path, res in pages.items():
        assert res.status_code == 200, path
        csp = res.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert res.headers["x-content-type-options"] == "nosniff"
    for path in ("/ui/login", "/ui"):
        html = pages[path].text
        assert not re.search(r"<script(?![^>]*\bsrc=\"/ui/static/)", html)  # no inline script
        assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handler
        assert "style=" not in html
        assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another site
    assert ui.get("/ui").headers["cache-control"] == "no-store"


def test_hostile_plan_text_renders_as_text(ui):
    sign_in(ui)
    stored_plan(ui, requester="eve<b>", text=HOSTILE)
    ui.store.create_request(source="api", code=HOSTILE[:90], runbook=None, hosts=[HOSTILE[:50]], mode="apply",
                            requester="alertmanager", status="rejected", result={"error": f"bad alert {HOSTILE}"})
    page = ui.get("/ui").text
    fragment = ui.get("/ui/fragment").json()
    for html in (page, fragment["plans"][0]["html"], fragment["runs"]):
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;{{7*7}}" in page
    assert "eve&lt;b&gt;" in page
    assert "{{7*7}}" in fragment["runs"]  # data, never evaluated as a template


def test_every_form_post_needs_session_same_origin_and_csrf_token(ui):
    plan_id = stored_plan(ui)
    forms = [f"/ui/plans/{plan_id}/approve", f"/ui/plans/{plan_id}/reject", "/ui/logout"]
    before = snapshot(ui)
    for url in forms:  # no session at all
        res = ui.post(url, data={"csrf": "anything", "reason": "x"})
        assert res.status_code == 401, (url, res.text)
    csrf = sign_in(ui)
    bad = [({"reason": "x"}, {}), ({"csrf": "wrong-token", "reason": "x"}, {}), ({"csrf": "é" * 43}, {}),
           ({"csrf": csrf, "reason": "x"}, {"Origin": "http://evil.test"}),
           ({"csrf": csrf, "reason": "x"}, {"Origin": "null"}),
           ({"csrf": csrf, "reason": "x"}, {"Origin": "http://testserver:8080"}),
           ({"csrf": csrf, "reason": "x"}, {"Referer": "https://evil.test/ui"})]
    for url in forms:
        for data, headers in bad:
            res = ui.post(url, data=data, headers=headers)
            assert res.status_code == 403, (url, data, headers, res.text)
            assert "Nothing was changed" in res.text
    stolen = ui.cookies.get(SESSION_COOKIE)
    ui.cookies.clear()
    assert ui.post(forms[0], data={"csrf": csrf}).status_code == 401  # the token alone is not a session
    ui.cookies.set(SESSION_COOKIE, stolen)
    # the API's state changes never take the cookie, only a token or a signature
    assert ui.post(f"/plans/{plan_id}/approve").status_code == 401
    assert ui.post(f"/plans/{plan_id}/reject", json={"reason": "x"}).status_code == 401
    assert ui.post("/alerts", json={"code": "TestLadderError", "host": "box"}).status_code == 401
    assert snapshot(ui) == before
    assert ui.get("/ui").status_code == 200  # still signed in: the refusals changed nothing


def test_reads_of_the_api_accept_the_session(ui):
    plan_id = stored_plan(ui)
    assert ui.get(f"/plans/{plan_id}?format=md").status_code == 401
    sign_in(ui)
    record = ui.get(f"/plans/{plan_id}?format=md")
    assert record.status_code == 200 and record.text.startswith("# Change: Ladder test")
    assert ui.get("/plans").json()["count"] == 1


def test_page_shows_pending_plan_with_its_change_lines_and_record_link(ui):
    plan_id = stored_plan(ui, requester="alertmanager")
    sign_in(ui)
    page = ui.get("/ui").text
    card = page[page.index(f'data-plan-id="{plan_id}"'):]
    assert "/tmp/state: broken → ok" in card and "risk medium" in card and "alertmanager" in card
    assert f'href="/plans/{plan_id}?format=md"' in card
    assert f'action="/ui/plans/{plan_id}/approve"' in card and f'action="/ui/plans/{plan_id}/reject"' in card
    record = ui.get(f"/plans/{plan_id}?format=md").text
    for line in re.findall(r"<li>(.*?)</li>", card):
        assert line in record


def test_refusals_show_the_service_message_and_change_only_what_the_api_would(project):
    with make_client(project, policy=Policy(two_person_risks=["medium"])) as ui:
        own = stored_plan(ui, requester="alice")
        expired = stored_plan(ui, expires_in=-60)
        stale = stored_plan(ui)  # its runbook digest is not the project's: a new dry-run is needed
        csrf = sign_in(ui, ALICE)

        res = ui.post(f"/ui/plans/{own}/approve", data={"csrf": csrf})
        assert res.status_code == 303 and res.headers["location"] == "/ui"
        page = ui.get("/ui").text
        assert "two-person rule" in page and "its requester alice cannot approve it" in page
        assert ui.store.get_plan(own)["status"] == "pending"
        assert "two-person rule" not in ui.get("/ui").text  # a message is shown once

        ui.post(f"/ui/plans/{expired}/approve", data={"csrf": csrf})
        assert f"plan {expired} expired at" in ui.get("/ui").text
        assert ui.store.get_plan(expired)["status"] == "expired"

        ui.post(f"/ui/plans/{stale}/approve", data={"csrf": csrf})
        assert "runbook ladder-test changed since the plan" in ui.get("/ui").text
        assert ui.store.get_plan(stale)["status"] == "refused"

        ui.post("/ui/plans/not-a-plan/approve", data={"csrf": csrf})
        assert "invalid plan id" in ui.get("/ui").text
        assert ui.store.requests_with_status("queued") == []


def test_reject_from_the_page_records_the_reason_and_the_identity(ui):
    plan_id = stored_plan(ui)
    csrf = sign_in(ui, BOB)
    res = ui.post(f"/ui/plans/{plan_id}/reject", data={"csrf": csrf, "reason": "change freeze <until monday>"})
    assert res.status_code == 303
    plan = ui.store.get_plan(plan_id)
    assert (plan["status"], plan["decided_by"], plan["decision_reason"]) == ("rejected", "bob",
                                                                               "change freeze <until monday>")
    page = ui.get("/ui").text
    assert f"Plan {plan_id} rejected by bob." in page and "change freeze &lt;until monday&gt;" in page
    again = ui.post(f"/ui/plans/{plan_id}/reject", data={"csrf": csrf, "reason": "x" * 1001})
    assert again.status_code == 303 and "longer than 1000" in ui.get("/ui").text


def test_logout_ends_the_session(ui):
    csrf = sign_in(ui)
    cookie = ui.cookies.get(SESSION_COOKIE)
    res = ui.post("/ui/logout", data={"csrf": csrf})
    assert res.status_code == 303 and res.headers["location"] == "/ui/login"
    ui.cookies.set(SESSION_COOKIE, cookie)  # replaying the old cookie does not bring the session back
    assert ui.get("/ui").headers["location"] == "/ui/login"
    assert ui.get("/plans").status_code == 401


def test_sessions_expire_when_idle_or_too_old():
    clock = [1000.0]
    sessions = Sessions(idle=60, absolute=300, clock=lambda: clock[0])
    sid, session = sessions.create("alice")
    assert sessions.get(sid) is session and sessions.get("x" + sid) is None and sessions.get(None) is None
    clock[0] += 59
    assert sessions.get(sid) is session  # seen: the idle timer restarts
    clock[0] += 61
    assert sessions.get(sid) is None and len(sessions) == 0
    sid, _ = sessions.create("bob")
    for _ in range(6):
        clock[0] += 50
        assert sessions.get(sid) is not None
    clock[0] += 50
    assert sessions.get(sid) is None  # 350 s after the login


def test_forms_are_bounded(ui):
    csrf = sign_in(ui)
    plan_id = stored_plan(ui)
    big = ui.post(f"/ui/plans/{plan_id}/reject", data={"csrf": csrf, "reason": "x" * 20_000})
    assert big.status_code == 413
    not_form = ui.post(f"/ui/plans/{plan_id}/reject", content=json.dumps({"csrf": csrf}),
                       headers={"Content-Type": "application/json"})
    assert not_form.status_code == 415
    assert ui.store.get_plan(plan_id)["status"] == "pending"


def test_fragment_keeps_cards_and_tables_in_sync(ui):
    sign_in(ui)
    first = stored_plan(ui)
    data = ui.get("/ui/fragment").json()
    assert [p["id"] for p in data["plans"]] == [first] and f'data-plan-id="{first}"' in data["plans"][0]["html"]
    assert 'name="csrf"' in data["plans"][0]["html"] and "approval-required" in data["runs"]
    second = stored_plan(ui)
    ui.store.decide_plan(first, "rejected", by="bob", reason="no")
    data = ui.get("/ui/fragment").json()
    assert [p["id"] for p in data["plans"]] == [second]
    assert f'data-plan-id="{first}"' in data["decided"] and "rejected" in data["decided"]


def test_approve_from_the_page_queues_exactly_the_plan_for_the_signed_in_identity(ui, project):
    """A plan that matches the project byte for byte, approved on the page by alice: the same service function
    as the API claims it and queues its run with alice as the approver (the worker, off here, applies it; the
    e2e test in Chromium runs it to the end against the lab)."""
    plan_id = stored_plan(ui, valid_for=project)
    csrf = sign_in(ui, ALICE)
    assert f'data-plan-id="{plan_id}"' in ui.get("/ui").text
    res = ui.post(f"/ui/plans/{plan_id}/approve", data={"csrf": csrf})
    assert res.status_code == 303 and res.headers["location"] == "/ui"
    page = ui.get("/ui").text
    run_id = re.search(r'class="flash ok"[^>]*data-request-id="([^"]+)"', page)[1]
    assert f"Plan {plan_id} approved by alice" in page
    assert f'data-plan-id="{plan_id}"' not in page.split('id="plans"')[1].split("</section>")[0]
    queued = ui.store.get_request(run_id)
    assert (queued["status"], queued["requester"], queued["params"]) == (
        "queued", "alice", {"kind": "approve", "plan_id": plan_id, "approver": "alice", "lang": "en"})
    claimed = ui.store.get_plan(plan_id)
    assert (claimed["status"], claimed["decided_by"]) == ("approved", "alice")
    again = ui.post(f"/ui/plans/{plan_id}/approve", data={"csrf": csrf})
    assert again.status_code == 303 and f"plan {plan_id} is approved by alice" in ui.get("/ui").text

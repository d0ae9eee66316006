"""The approvals page end to end: the real `remediate serve` against the Windows lab, driven in headless Chromium
(Debian's /usr/bin/chromium, through Playwright; no browser download).

One lab and one server for the module. The lab is `vss-default` (vm1, two failing writers: SqlServerWriter on
SQLWriter, WMI Writer on Winmgmt) plus vm2, a copy of vm1, so the refusal cases (two-person rule, drift, expiry)
never touch vm1, whose restarts the approval path counts exactly. The server's policy requires two persons for
medium-risk plans. Screenshots go to $REMEDIATE_TEST_ARTIFACTS (else the pytest tmp dir); their paths are printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, TOKENS, Server, start_lab, stop_lab

CODE = "ExtensionFailedVssWriterInBadState"
ALERT = ROOT / "tests" / "fixtures" / "alerts" / "azure-backup-builtin-failure.json"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN_TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/bootstrap.sh --test)")]


# -- fixtures ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    scenario = tmp_path_factory.mktemp("scenario") / "vss-default-two-hosts.yml"
    default = ROOT / "lab" / "scenarios" / "vss-default.yml"
    vm2 = yaml.safe_load(default.read_text())["hosts"]["vm1"] | {"hostname": "VM2"}
    scenario.write_text(yaml.safe_dump({"include": [str(default)], "hosts": {"vm2": vm2}}))
    r = start_lab(tmp_path_factory, str(scenario))
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def server(lab):
    policy = lab.home / "policy-two-person.yml"
    policy.write_text("two_person_risks: [medium]\n")
    srv = Server(lab, policy=policy, workers=2).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    given = os.environ.get("REMEDIATE_TEST_ARTIFACTS")
    path = Path(given) / "approvals-page" if given else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies); console errors (CSP violations among them) fail the test."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], errors


@pytest.fixture(scope="module")
def vm2_plan(server, lab) -> str:
    """A plan for vm2 requested by alice (her token posts the alert)."""
    rid = post_alert(server, json.dumps({"code": CODE, "host": "vm2"}).encode(), "alice")
    row = wait_request(server, rid)
    assert row["status"] == "approval-required" and row["requester"] == "alice", row
    assert host_state(lab, "vm2")["service_restarts"] == []
    return row["plan_id"]


# -- helpers -----------------------------------------------------------------------------------------------------
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def api(server: Server, method: str, path: str, who: str = "alertmanager", body: bytes | None = None) -> tuple:
    req = urllib.request.Request(f"{server.url}{path}", data=body, method=method,
                                 headers={**server.headers(who), "Content-Type": "application/json"})
    try:
        with _OPENER.open(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def post_alert(server: Server, body: bytes, who: str) -> str:
    status, doc = api(server, "POST", "/alerts", who, body)
    assert status == 202, doc
    assert doc["count"] == 1 and doc["requests"][0]["status"] == "queued", doc
    return doc["requests"][0]["request_id"]


def wait_request(server: Server, rid: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, row = api(server, "GET", f"/requests/{rid}")
        assert status == 200, row
        if row["status"] not in ("queued", "running"):
            return row
        time.sleep(0.5)
    raise AssertionError(f"request {rid} still {row['status']} after {timeout}s; log: {server.log.read_text()[-3000:]}")


def requests_by_status(server: Server) -> dict[str, str]:
    status, doc = api(server, "GET", "/requests?limit=500")
    assert status == 200, doc
    return {row["id"]: row["status"] for row in doc["requests"]}


def plan(server: Server, plan_id: str) -> dict:
    status, doc = api(server, "GET", f"/plans/{plan_id}")
    assert status == 200, doc
    return doc


def host_state(lab, name: str) -> dict:
    res = lab("lab", "status", "--json")
    assert res.rc == 0, res.stderr
    return res.json["hosts"][name]


def failing(state: dict) -> list[str]:
    return sorted(w["name"] for w in state["vss_writers"] if w.get("state", 1) != 1)


def sign_in(page, server: Server, who: str) -> None:
    page.goto(f"{server.url}/ui")
    assert page.url == f"{server.url}/ui/login"  # no session: the page sends us to the sign-in form
    page.fill("#token", TOKENS[who])
    with page.expect_navigation():
        page.click("form.login button[type=submit]")
    assert page.url == f"{server.url}/ui"
    assert page.inner_text("#identity") == who


def card(page, plan_id: str):
    return page.locator(f'#plans > article[data-plan-id="{plan_id}"]')


def click_approve(page, plan_id: str):
    with page.expect_navigation():
        card(page, plan_id).locator("button.approve").click()
    return page.locator("p.flash")


def shot(page, shots: Path, name: str) -> Path:
    path = shots / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


# -- tests -------------------------------------------------------------------------------------------------------
def test_alert_to_plan_approved_in_chromium_applies_exactly_that_plan(server, lab, page, shots):
    from playwright.sync_api import expect

    before = host_state(lab, "vm1")
    assert failing(before) == ["SqlServerWriter", "WMI Writer"] and before["service_restarts"] == []
    rid = post_alert(server, ALERT.read_bytes(), "alertmanager")
    row = wait_request(server, rid)
    assert (row["status"], row["exit_code"], row["hosts"], row["code"]) == ("approval-required", 5, ["vm1"], CODE)
    plan_id = row["plan_id"]
    untouched = host_state(lab, "vm1")
    assert untouched["service_restarts"] == [] and untouched["vss_writers"] == before["vss_writers"]

    sign_in(page, server, "alice")
    shown = card(page, plan_id)
    expect(shown).to_be_visible()
    lines = shown.locator("ul.diff li").all_inner_texts()
    assert sorted(line.split(" — ")[0] for line in lines) == ["service SQLWriter", "service Winmgmt"], lines
    assert all("restarted" in line for line in lines), lines
    assert "risk medium" in shown.inner_text() and "alertmanager" in shown.locator(".requester").inner_text()

    # the change record behind the page's link is the one `remediate plan show ID --format md` prints
    href = shown.locator("a.change-record").get_attribute("href")
    record = page.request.get(f"{server.url}{href}")
    assert record.status == 200
    cli = lab("plan", "show", plan_id, "--format", "md")
    assert cli.rc == 0, cli.stderr
    assert record.text() == cli.stdout
    assert all(line in cli.stdout for line in lines)

    # the page refreshes itself without losing what is being typed
    reason = shown.locator("input[name=reason]")
    reason.fill("typed while the page refreshes")
    stamp = page.inner_text("#updated")
    expect(page.locator("#updated")).not_to_have_text(stamp, timeout=20_000)
    assert reason.input_value() == "typed while the page refreshes"
    reason.fill("")

    # a form post without a session changes nothing
    anonymous = page.context.browser.new_context()
    refused = anonymous.request.post(f"{server.url}/ui/plans/{plan_id}/approve", form={"csrf": "x"})
    assert refused.status == 401
    anonymous.close()
    assert plan(server, plan_id)["status"] == "pending"

    shot(page, shots, "1-pending-plan.png")
    flash = click_approve(page, plan_id)
    expect(flash).to_have_class("flash ok")
    run_id = flash.get_attribute("data-request-id")
    assert run_id and "approved by alice" in flash.inner_text()
    status_cell = page.locator(f'#runs tr[data-request-id="{run_id}"] td.status')
    expect(status_cell).to_have_text("fixed", timeout=RUN_TIMEOUT_MS)  # seen through the page's own refresh
    expect(card(page, plan_id)).to_have_count(0)
    expect(page.locator(f'#decided tr[data-plan-id="{plan_id}"] td.status')).to_have_text("applied")
    shot(page, shots, "2-applied.png")

    run = wait_request(server, run_id)
    assert (run["status"], run["requester"], run["exit_code"]) == ("fixed", "alice", 0)
    applied = plan(server, plan_id)
    assert applied["status"] == "applied" and applied["decided_by"] == "alice"
    assert applied["applied_request_id"] == run_id
    after = host_state(lab, "vm1")
    assert after["service_restarts"] == ["SQLWriter", "Winmgmt"]  # exactly the plan, once each
    assert failing(after) == []


def test_two_person_rule_refuses_the_requester_on_the_page(server, lab, page, vm2_plan):
    from playwright.sync_api import expect

    sign_in(page, server, "alice")
    requests_before = requests_by_status(server)
    flash = click_approve(page, vm2_plan)
    expect(flash).to_have_class("flash error")
    assert "two-person rule" in flash.inner_text() and "its requester alice cannot approve it" in flash.inner_text()
    assert plan(server, vm2_plan)["status"] == "pending"
    expect(card(page, vm2_plan)).to_be_visible()
    assert requests_by_status(server) == requests_before  # nothing queued, nothing ran
    decisions = [d for d in api(server, "GET", "/requests?limit=500")[1]["requests"] if d["plan_id"] == vm2_plan][0]
    assert decisions["decisions"][-1]["rule"] == "two-person"  # the refusal is on the audit trail
    assert host_state(lab, "vm2")["service_restarts"] == []


def test_drift_between_plan_and_approval_is_refused(server, lab, page, vm2_plan, shots):
    from playwright.sync_api import expect

    # between the plan and its approval an operator restarts Winmgmt by hand: the WMI writer is stable again,
    # so the planned step would now restart SQLWriter only
    adhoc = subprocess.run([str(Path(sys.executable).parent / "ansible"), "vm2", "-i",
                            str(lab.lab_dir / "inventory.yml"), "-m", "ansible.windows.win_service",
                            "-a", "name=Winmgmt state=restarted"],
                           cwd=ROOT, env=lab.env(), capture_output=True, text=True, timeout=120, check=False)
    assert adhoc.returncode == 0, adhoc.stdout + adhoc.stderr
    assert host_state(lab, "vm2")["service_restarts"] == ["Winmgmt"]

    sign_in(page, server, "bob")
    flash = click_approve(page, vm2_plan)
    expect(flash).to_have_class("flash ok")
    run_id = flash.get_attribute("data-request-id")
    row = page.locator(f'#runs tr[data-request-id="{run_id}"]')
    expect(row.locator("td.status")).to_have_text("approval-required", timeout=RUN_TIMEOUT_MS)
    expect(row.locator("td.message")).to_contain_text("would now change something else than plan")
    expect(page.locator(f'#decided tr[data-plan-id="{vm2_plan}"] td.status')).to_have_text("refused")
    shot(page, shots, "3-drift-refused.png")

    refused = plan(server, vm2_plan)
    assert refused["status"] == "refused" and refused["decided_by"] == "bob"
    assert "would now change something else" in refused["decision_reason"]
    state = host_state(lab, "vm2")
    assert state["service_restarts"] == ["Winmgmt"]  # nothing applied by the refused approval
    assert failing(state) == ["SqlServerWriter"]
    # the refusal stored a fresh plan of what the step would do now: SQLWriter only
    fresh = wait_request(server, run_id)["plan_id"]
    assert fresh and fresh != vm2_plan
    expect(card(page, fresh)).to_be_visible(timeout=20_000)
    assert [line.split(" — ")[0] for line in card(page, fresh).locator("ul.diff li").all_inner_texts()] == [
        "service SQLWriter"]


def test_expired_plan_is_refused_on_the_page(server, lab, page, shots):
    from playwright.sync_api import expect
    from sqlalchemy import update

    from orchestrator.store import Store, now, plans

    pending = [p for p in api(server, "GET", "/plans?status=pending")[1]["plans"] if p["hosts"] == ["vm2"]]
    if pending:
        plan_id = pending[0]["id"]
    else:  # run alone: make one
        plan_id = wait_request(server, post_alert(server, json.dumps({"code": CODE, "host": "vm2"}).encode(),
                                                  "alertmanager"))["plan_id"]
    store = Store.open(lab.home)
    with store.engine.begin() as conn:
        conn.execute(update(plans).where(plans.c.id == plan_id).values(expires_at=now() - timedelta(minutes=1)))
    restarts = host_state(lab, "vm2")["service_restarts"]

    sign_in(page, server, "bob")
    expect(card(page, plan_id).locator(".badge.expired")).to_be_visible()
    flash = click_approve(page, plan_id)
    expect(flash).to_have_class("flash error")
    assert f"plan {plan_id} expired at" in flash.inner_text()
    expect(card(page, plan_id)).to_have_count(0)
    shot(page, shots, "4-expired-refused.png")
    assert plan(server, plan_id)["status"] == "expired"
    assert host_state(lab, "vm2")["service_restarts"] == restarts

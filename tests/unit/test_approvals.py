"""Plans, approvals and policy through the real CLI and real ansible-playbook on a local connection.

The ladder project (conftest): step 1 (low) writes "half", step 2 (medium) writes "ok", step 3 is manual.
"""

from __future__ import annotations

import json
from datetime import timedelta

from orchestrator.store import Store, now

from .conftest import cli, remediate


def plan_row(project, plan_id: str) -> dict:
    return Store.open(project["home"]).get_plan(plan_id)


def approve(project, plan_id: str, user: str = "bob", *extra: str) -> tuple[int, dict, str]:
    rc, out, err = cli(project, "--approve", plan_id, "--json", *extra, user=user)
    return rc, json.loads(out), err


def test_stop_for_approval_list_show_and_approve_exactly_that_plan(project):
    rc, doc, err = remediate(project)  # low step applied, medium step stored as a plan
    assert rc == 5 and doc["status"] == "approval-required", err
    plan_id = doc["plan_id"]
    assert len(doc["plan_hash"]) == 64
    rc, out, _ = cli(project, "plans", "--json")
    listed = json.loads(out)["plans"]
    assert [p["id"] for p in listed] == [plan_id]
    assert listed[0]["max_risk"] == "medium" and listed[0]["requester"] == "alice"
    assert listed[0]["steps"][0]["id"] == "full-fix"
    rc, record, _ = cli(project, "plan", "show", plan_id, "--format", "md")
    assert rc == 0
    assert f"`{plan_id}`" in record and "Step 2: Full fix (risk medium)" in record
    assert "-half" in record and "+ok" in record  # the diff the approver signs off
    assert "Rollback:" in record and f"remediate --approve {plan_id}" in record

    rc, doc, err = approve(project, plan_id, "bob")
    assert rc == 0, err
    assert doc["status"] == "fixed" and doc["approved_plan_status"] == "applied" and doc["approver"] == "bob"
    assert [s["id"] for s in doc["steps"] if s["phase"] == "apply"] == ["full-fix"]
    assert project["state"].read_text() == "ok\n"
    row = plan_row(project, plan_id)
    assert row["status"] == "applied" and row["approved_by"] == "bob"
    assert row["applied_request_id"] == doc["request_id"]
    rc, doc, err = approve(project, plan_id)  # a plan runs once
    assert rc == 2 and "applied" in doc["error"]


def test_drift_between_plan_and_approval_is_refused_with_a_new_plan(project):
    rc, doc, _ = remediate(project)
    plan_id = doc["plan_id"]
    project["state"].write_text("something else\n")  # the host changed after the plan
    rc, doc, err = approve(project, plan_id)
    assert rc == 5, err
    assert doc["approved_plan_status"] == "refused" and doc["status"] == "approval-required"
    assert "changed since the plan" in doc["results"]["box"]["message"]
    assert doc["plan_id"] and doc["plan_id"] != plan_id  # a fresh plan to review
    assert project["state"].read_text() == "something else\n"  # nothing applied
    assert plan_row(project, plan_id)["status"] == "refused"


def test_expired_unknown_and_rejected_plans_exit_2(project):
    rc, doc, _ = remediate(project, "--dry-run")
    plan_id = doc["plan_id"]
    store = Store.open(project["home"])
    from sqlalchemy import update

    from orchestrator.store import plans

    with store.engine.begin() as c:
        c.execute(update(plans).where(plans.c.id == plan_id).values(expires_at=now() - timedelta(minutes=1)))
    rc, doc, _ = approve(project, plan_id)
    assert rc == 2 and "expired" in doc["error"]
    assert plan_row(project, plan_id)["status"] == "expired"
    assert project["state"].read_text() == "broken\n"
    rc, doc, _ = approve(project, "00000000-0000-4000-8000-000000000000")
    assert rc == 2 and "unknown plan" in doc["error"]
    rc, doc, _ = approve(project, "../../etc/passwd")
    assert rc == 2 and "invalid plan id" in doc["error"]

    rc, doc, _ = remediate(project, "--dry-run")
    rc, out, _ = cli(project, "plan", "reject", doc["plan_id"], "--reason", "not tonight", "--json", user="carol")
    assert rc == 0 and json.loads(out)["status"] == "rejected"
    rc, doc, _ = approve(project, doc["plan_id"])
    assert rc == 2 and "rejected by carol: not tonight" in doc["error"]


def test_a_changed_runbook_invalidates_its_plans(project):
    rc, doc, _ = remediate(project, "--dry-run")
    project["write_runbook"](step1_state="quarter")
    rc, out, err = cli(project, "--approve", doc["plan_id"], "--json", user="bob")
    assert rc == 5 and "changed since the plan" in json.loads(out)["error"]
    assert project["state"].read_text() == "broken\n"


def test_two_person_rule_refuses_the_requester(project, tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("two_person_risks: [medium]\n")
    project["environ"] = {"REMEDIATE_POLICY": str(policy)}
    rc, doc, _ = remediate(project)
    plan_id = doc["plan_id"]
    rc, out, err = cli(project, "--approve", plan_id, "--json", user="alice")
    assert rc == 7 and "two-person rule" in json.loads(out)["error"]
    assert plan_row(project, plan_id)["status"] == "pending"
    rc, doc, err = approve(project, plan_id, "bob")
    assert rc == 0 and doc["status"] == "fixed", err


def test_maintenance_window_runs_medium_steps_and_outside_window_can_skip(project, tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("maintenance_windows: [{start: '00:00', end: '23:59'}]\n")
    project["environ"] = {"REMEDIATE_POLICY": str(policy)}
    rc, doc, err = remediate(project)
    assert rc == 0 and doc["status"] == "fixed", err
    assert any("inside maintenance window" in d["reason"] for d in doc["decisions"])

    project["state"].write_text("broken\n")
    policy.write_text("outside_window: skip\n")
    rc, doc, err = remediate(project)
    assert rc == 7 and doc["status"] == "skipped", err
    assert "outside every maintenance window" in doc["results"]["box"]["message"]
    assert project["state"].read_text() == "half\n"  # the low step ran; the medium one was skipped by policy


def test_invalid_policy_is_a_usage_error_naming_the_field(project, tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("dedup_window: soon\n")
    rc, out, err = cli(project, "--code", "TestLadderError", "--host", "box", "-i", str(project["inv"]),
                       "--policy", str(policy))
    assert rc == 2 and "field dedup_window" in err


def _alert_run(project, *, dry_run: bool = False, policy=None, dedup_key: str | None = "TestLadderError|box"):
    """One run as the alert pipeline makes it (source alert, no terminal, no --yes)."""
    import io

    from orchestrator.catalog import load_catalog
    from orchestrator.engine import Engine, Request
    from orchestrator.inventory import load_inventory
    from orchestrator.policy import Policy
    from orchestrator.render import TerminalUI

    cat = load_catalog()
    inv = load_inventory(project["inv"])
    req = Request(runbook=cat.runbooks["ladder-test"], code="TestLadderError", hosts=[inv.hosts["box"]],
                  inventory=inv, dry_run=dry_run, source="alert", requester="alert", dedup_key=dedup_key,
                  policy=policy or Policy())
    engine = Engine(cat, Store.open(project["home"]), project["home"], TerminalUI(io.StringIO(), None, False))
    return engine.execute(req)


def test_alert_runs_are_deduplicated_within_the_window(project):
    from orchestrator.policy import Policy

    first = _alert_run(project, policy=Policy(cooldown=timedelta(0)))
    assert first.status == "approval-required"
    second = _alert_run(project, policy=Policy(cooldown=timedelta(0)))
    assert second.status == "skipped" and int(second.exit_code) == 7
    assert second.decisions[0]["rule"] == "dedup" and first.request_id in second.decisions[0]["reason"]
    assert second.steps == []  # nothing ran, not even a diagnose
    recorded = Store.open(project["home"]).get_request(second.request_id)
    assert recorded["status"] == "skipped" and recorded["decisions"][0]["rule"] == "dedup"
    third = _alert_run(project, policy=Policy(cooldown=timedelta(0), dedup_window=timedelta(0)))
    assert third.status != "skipped"  # the window elapsed


def test_cooldown_after_a_change_holds_automatic_runs_not_operators(project):
    from orchestrator.policy import Policy

    changed = _alert_run(project, dedup_key=None)
    assert changed.status == "approval-required"  # the low step changed the host
    held = _alert_run(project, dedup_key=None, policy=Policy(cooldown=timedelta(hours=1)))
    assert held.status == "skipped" and held.decisions[0]["rule"] == "cooldown"
    rc, doc, err = remediate(project, "--yes")  # an operator is not held by the cooldown
    assert rc == 0 and doc["status"] == "fixed", err


def test_error_budget_suspends_automatic_runs(project):
    from orchestrator.policy import ErrorBudget, Policy

    project["write_runbook"](step1_state="boom")
    failed = _alert_run(project, dedup_key=None)
    assert failed.status == "failed"
    policy = Policy(error_budget=ErrorBudget(window=timedelta(hours=1), max_failures=1))
    held = _alert_run(project, dedup_key=None, policy=policy)
    assert held.status == "skipped" and held.decisions[0]["rule"] == "error-budget"
    assert "1 failed runs" in held.hosts[0].message


def test_a_dry_run_says_what_follows_if_the_planned_step_does_not_fix(project):
    rc, doc, _ = remediate(project, "--dry-run")
    later = doc["results"]["box"]["later_steps"]
    assert [(s["id"], s["risk"], s["automated"]) for s in later] == [("full-fix", "medium", True),
                                                                      ("call-someone", "never", False)]
    rc, record, _ = cli(project, "plan", "show", doc["plan_id"], "--format", "md")
    assert "- step 2: Full fix (risk medium) — writes ok" in record


def test_a_step_that_would_change_nothing_is_skipped_without_asking(project):
    project["write_runbook"](step1_state="broken")  # step 1 rewrites what is there: a no-op
    rc, doc, err = remediate(project, "--dry-run")
    assert rc == 0 and doc["status"] == "planned", err
    assert [e["id"] for e in doc["results"]["box"]["plan"]] == ["full-fix"]  # the plan starts where a change is
    assert any(d["rule"] == "no-op" and "half-fix" in d["reason"] for d in doc["decisions"])

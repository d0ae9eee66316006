"""Approving, rejecting and describing stored dry-run plans.

A plan (stored by every dry-run and by every run that stopped for approval) has an id, the hash of everything it
will run and an expiry. Approving it re-checks, in this order: the plan exists and is pending (else exit 2), it has
not expired (exit 2), the two-person rule (exit 7), the runbook and playbooks are byte for byte those of the plan
(else exit 5: a new dry-run is needed); then the engine re-diagnoses the host and runs each planned step only if a
fresh check-mode run would change exactly what the plan showed (else it refuses, exit 5, and stores a new plan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog
from .engine import Outcome, Request, file_digest, shared_playbook_digest
from .errors import ApprovalRefused, PolicySkip, UsageError
from .inventory import load_inventory
from .policy import Policy
from .runbook import Risk
from .store import Store, now

PLAN_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NAME_RE = re.compile(r"^[\w.@\\ -]{1,200}$")


def validate_actor(name: str | None, what: str = "approver") -> str:
    if not name or not NAME_RE.fullmatch(name):
        raise UsageError(f"invalid {what} {str(name)[:60]!r}: letters, digits, '.', '@', '\\', '-', '_' and "
                         "spaces only")
    return name


class PlanNotFound(UsageError):
    """No such plan (exit 2, HTTP 404)."""


class PlanNotPending(UsageError):
    """The plan was decided already, is being applied, or expired (exit 2, HTTP 409)."""


def load_plan(store: Store, plan_id: str) -> dict:
    if not isinstance(plan_id, str) or not PLAN_ID_RE.fullmatch(plan_id):
        raise UsageError(f"invalid plan id {str(plan_id)[:60]!r}: expected the id printed by a dry-run")
    plan = store.get_plan(plan_id)
    if plan is None:
        raise PlanNotFound(f"unknown plan {plan_id}; see `remediate plans`")
    return plan


def _check_pending(store: Store, plan: dict) -> None:
    if plan["status"] != "pending":
        by = f" by {plan['decided_by']}" if plan.get("decided_by") else ""
        why = f": {plan['decision_reason']}" if plan.get("decision_reason") else ""
        raise PlanNotPending(f"plan {plan['id']} is {plan['status']}{by}{why}; nothing was run")
    if plan["expires_at"] <= now():
        store.decide_plan(plan["id"], "expired", reason=f"expired at {plan['expires_at']:%Y-%m-%d %H:%M} UTC")
        raise PlanNotPending(f"plan {plan['id']} expired at {plan['expires_at']:%Y-%m-%d %H:%M} UTC; make a new "
                             "dry-run")


def _plan_risks(plan: dict) -> set[Risk]:
    return {Risk(s["risk"]) for h in plan["plan"]["hosts"].values() for s in h["steps"]}


def _unchanged_project(catalog: Catalog, plan: dict) -> str | None:
    """None when the runbook and the playbooks are those of the plan, else what changed."""
    body = plan["plan"]
    rb = catalog.runbooks.get(plan["runbook"])
    if rb is None:
        return f"runbook {plan['runbook']} no longer exists"
    rb_file = catalog.root / "runbooks" / f"{rb.id}.yml"
    if body.get("runbook_sha256") != file_digest(rb_file):
        return f"runbook {rb.id} changed since the plan"
    steps = {s.id: s for s in rb.ladder}
    for host in body["hosts"].values():
        for entry in host["steps"]:
            step = steps.get(entry["id"])
            if step is None or not step.playbook:
                return f"step {entry['id']} is no longer an automated step of {rb.id}"
            path = catalog.playbooks_dir / step.playbook
            if not path.is_file() or file_digest(path) != entry.get("playbook_sha256"):
                return f"playbook {step.playbook} changed since the plan"
            if {**rb.vars, **step.vars} != entry.get("vars"):
                return f"the variables of step {step.id} changed since the plan"
    if body.get("shared_sha256") != shared_playbook_digest():
        return "the playbooks (a variables file, filter, template or included file) changed since the plan"
    return None


@dataclass
class Approval:
    plan: dict
    request: Request


def prepare(store: Store, catalog: Catalog, plan_id: str, *, approver: str, policy: Policy,
            source: str = "cli", lang: str = "en") -> Approval:
    """Every check before anything runs; claims the plan (pending -> approved) and returns the engine request."""
    approver = validate_actor(approver)
    plan = load_plan(store, plan_id)
    _check_pending(store, plan)
    two_person = _plan_risks(plan) & set(policy.two_person_risks)
    if two_person and plan.get("requester") and plan["requester"].casefold() == approver.casefold():
        reason = (f"two-person rule: plan {plan_id} has {', '.join(sorted(r.value for r in two_person))} risk "
                  f"steps; its requester {plan['requester']} cannot approve it")
        store.record_decision(plan["request_id"], rule="two-person", outcome="refuse", reason=reason)
        raise PolicySkip(reason, rule="two-person")
    changed = _unchanged_project(catalog, plan)
    if changed:
        store.decide_plan(plan_id, "refused", by=approver, reason=changed)
        raise ApprovalRefused(f"plan {plan_id} refused: {changed}; make a new dry-run")
    if not store.decide_plan(plan_id, "approved", by=approver, reason="approval in progress"):
        raise PlanNotPending(f"plan {plan_id} is no longer pending (approved or rejected meanwhile); nothing was "
                             "run")
    plan = load_plan(store, plan_id)
    try:
        return Approval(plan, request_for(plan, catalog, approver=approver, policy=policy, source=source,
                                          lang=lang))
    except BaseException:
        store.decide_plan(plan_id, "pending", reason="approval could not start", only_if="approved")
        raise


def request_for(plan: dict, catalog: Catalog, *, approver: str, policy: Policy, source: str = "cli",
                lang: str = "en") -> Request:
    """The engine request that applies a claimed (approved) plan."""
    inventory = load_inventory(Path(plan["inventory"]))
    hosts = [inventory.resolve(h)[0] for h in plan["hosts"]]
    rb = catalog.runbooks[plan["runbook"]]
    start = min(s["step"] for h in plan["plan"]["hosts"].values() for s in h["steps"])
    return Request(runbook=rb, code=plan.get("code"), hosts=hosts, inventory=inventory, start_step=start,
                   source=source, requester=approver, lang=lang, policy=policy, approved_plan=plan,
                   approver=approver)


def finish(store: Store, approval: Approval, outcome: Outcome) -> str:
    """Record how the approved plan ended: applied, or refused because the host drifted."""
    drift = [d for d in outcome.decisions if d["rule"] == "drift"]
    if drift:
        reason = "; ".join(d["reason"] for d in drift)
        store.decide_plan(approval.plan["id"], "refused", by=approval.request.approver, reason=reason,
                          only_if="approved")
        return "refused"
    store.decide_plan(approval.plan["id"], "applied", by=approval.request.approver, only_if="approved",
                      reason=f"applied by request {outcome.request_id}: {outcome.status}",
                      applied_request_id=outcome.request_id)
    return "applied"


def reject(store: Store, plan_id: str, *, by: str, reason: str | None) -> dict:
    by = validate_actor(by, "rejecter")
    plan = load_plan(store, plan_id)
    _check_pending(store, plan)
    if not store.decide_plan(plan_id, "rejected", by=by, reason=reason or "rejected"):
        raise PlanNotPending(f"plan {plan_id} is no longer pending; nothing changed")
    store.record_decision(plan["request_id"], rule="approval", outcome="refuse",
                          reason=f"plan {plan_id} rejected by {by}" + (f": {reason}" if reason else ""))
    return load_plan(store, plan_id)


def change_record(plan: dict, catalog: Catalog) -> str:
    """A Markdown change record for a change ticket: what, where, risk, diff, rollback, approval status."""
    body = plan["plan"]
    rb = catalog.runbooks.get(plan["runbook"])
    lang = body.get("lang", "en")
    title = rb.title.get(lang) if rb else body.get("title", plan["runbook"])
    risks = sorted({s["risk"] for h in body["hosts"].values() for s in h["steps"]})
    lines = [
        f"# Change: {title}",
        "",
        f"- **Plan**: `{plan['id']}` ({plan['status']}), hash `{plan['plan_hash']}`",
        f"- **Error code**: {plan.get('code') or '-'} — runbook `{plan['runbook']}`",
        f"- **Hosts**: {', '.join(plan['hosts'])}",
        f"- **Risk**: {', '.join(risks)}",
        f"- **Requested by**: {plan.get('requester') or '-'} ({body.get('source', 'cli')}"
        + (f", alert {body['alert_id']}" if body.get("alert_id") else "") + ")",
        f"- **Created**: {plan['created_at']:%Y-%m-%d %H:%M} UTC; **expires**: {plan['expires_at']:%Y-%m-%d %H:%M} UTC",
    ]
    if plan.get("decided_by"):
        lines.append(f"- **Decision**: {plan['status']} by {plan['decided_by']}"
                     + (f" — {plan['decision_reason']}" if plan.get("decision_reason") else ""))
    lines += ["", f"Apply exactly this plan: `remediate --approve {plan['id']}` (re-diagnoses first; refuses if the "
              "host changed since the plan).", ""]
    for host, data in body["hosts"].items():
        diag = data.get("diagnosis") or {}
        lines += [f"## {host}", "", f"Diagnosis: {diag.get('summary') or '-'}", ""]
        for finding in (diag.get("findings") or [])[:20]:
            lines.append(f"- {finding if isinstance(finding, str) else finding}")
        for step in data["steps"]:
            lines += ["", f"### Step {step['step']}: {step.get('title') or step['id']} (risk {step['risk']})", "",
                      step.get("changes") or "", "", "What would change:", "", "```"]
            shown = [line for task in step.get("would_change", []) for line in (task.get("changes") or
                     [f"{task['name']}" + (f" [{task['item']}]" if task.get("item") else "")])]
            lines += shown or ["(nothing)"]
            lines += ["```", ""]
            if not step.get("idempotent", True):
                lines.append("Note: not idempotent — running it again repeats the change.")
            rollback = step.get("rollback") or ("Revert each value to the left-hand side of the lines above."
                                                if any(" → " in s for s in shown) else
                                                "No configuration change to revert (service restart or command).")
            lines += [f"Rollback: {rollback}", ""]
        later = data.get("later_steps") or []
        if later:
            lines += ["If this does not fix it, the ladder continues (each step planned and approved on its own):", ""]
            lines += [f"- step {s['step']}: {s['title']} (risk {s['risk']}"
                      + (", manual" if not s.get("automated") else "") + ")"
                      + (f" — {s['changes']}" if s.get("changes") else "") for s in later]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def plan_summary(row: dict) -> dict:
    """A stored plan as the JSON listing shows it (without the full plan body)."""
    steps = [{"host": h, "step": s["step"], "id": s["id"], "risk": s["risk"],
              "changes": [line for t in s.get("would_change", []) for line in (t.get("changes") or [])]}
             for h, v in (row.get("plan") or {}).get("hosts", {}).items() for s in v.get("steps", [])]
    return {"id": row["id"], "status": row["status"], "runbook": row["runbook"], "code": row.get("code"),
            "hosts": row["hosts"], "max_risk": row.get("max_risk"), "requester": row.get("requester"),
            "created_at": row["created_at"], "expires_at": row["expires_at"], "plan_hash": row["plan_hash"],
            "request_id": row["request_id"], "decided_by": row.get("decided_by"),
            "decided_at": row.get("decided_at"), "decision_reason": row.get("decision_reason"),
            "applied_request_id": row.get("applied_request_id"), "steps": steps}

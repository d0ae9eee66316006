"""Diagnose -> plan -> (confirm) -> apply -> verify -> next step of the ladder -> manual guidance.

One host at a time, each playbook run limited to that host. Every run is recorded in the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from .ansible_run import PlaybookRun, TaskResult, run_playbook
from .catalog import Catalog, StepView
from .errors import ExitStatus
from .inventory import Host, Inventory
from .runbook import Runbook
from .store import Store, now

PLAN_TTL = timedelta(hours=24)

# host status -> exit status; the worst host decides the exit code of a multi-host run
# `applied-unverified`: a step changed the host but nothing could confirm the fault is gone (the runbook has no
# diagnose for this platform, the step says `verify: none`, or the diagnose could not tell). It is never `fixed`;
# an operator must confirm it (trigger a backup), so it exits like a manual action (4), with guidance.
STATUS_EXIT = {
    "fixed": ExitStatus.OK, "no-change": ExitStatus.OK, "planned": ExitStatus.OK,
    "failed": ExitStatus.FAILED, "manual": ExitStatus.MANUAL, "applied-unverified": ExitStatus.MANUAL,
    "approval-required": ExitStatus.APPROVAL_REQUIRED, "unreachable": ExitStatus.UNREACHABLE,
    "skipped": ExitStatus.SKIPPED,
}
SEVERITY = ["no-change", "planned", "fixed", "skipped", "approval-required", "applied-unverified", "manual",
            "unreachable", "failed"]
UNVERIFIED_GUIDANCE = {
    "en": "The change was applied but could not be verified automatically: trigger a backup (Azure portal > VM > "
          "Backup > Backup now) and check that it succeeds.",
    "fr": "La modification a été appliquée mais n’a pas pu être vérifiée automatiquement : déclenchez une "
          "sauvegarde (portail Azure > machine virtuelle > Sauvegarde > Sauvegarder maintenant) et vérifiez "
          "qu’elle réussit.",
}


class UI(Protocol):
    def phase(self, host: str, label: str) -> None: ...
    def task(self, result: TaskResult) -> None: ...
    def show_plan(self, host: str, step: StepView, run: PlaybookRun) -> None: ...
    def confirm(self, question: str) -> bool | None: ...  # None: no terminal to ask on
    def note(self, text: str) -> None: ...


@dataclass
class Request:
    runbook: Runbook
    code: str | None
    hosts: list[Host]
    inventory: Inventory
    dry_run: bool = False
    assume_yes: bool = False
    start_step: int = 1  # 1-based
    source: str = "cli"
    requester: str | None = None
    lang: str = "en"


@dataclass
class HostOutcome:
    host: str
    status: str
    message: str = ""
    diagnosis: dict | None = None
    verification: dict | None = None
    guidance: list[dict] = field(default_factory=list)
    plan: list[dict] = field(default_factory=list)


@dataclass
class Outcome:
    request_id: str
    status: str
    exit_code: ExitStatus
    hosts: list[HostOutcome]
    steps: list[dict]
    artifacts: list[str]
    plan_id: str | None = None


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_hash(plan: dict) -> str:
    return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()


class Engine:
    def __init__(self, catalog: Catalog, store: Store, state: Path, ui: UI) -> None:
        self.catalog = catalog
        self.store = store
        self.state = state
        self.ui = ui
        self._steps: list[dict] = []
        self._artifacts: list[str] = []

    # -- playbook runs ------------------------------------------------------------------------------------
    def _run(self, rid: str, host: Host, *, phase: str, playbook: Path, check: bool, step: StepView | None,
             extravars: dict, timeout: int) -> PlaybookRun:
        label = f"{phase} {step.step.id}" if step else phase
        self.ui.phase(host.name, f"{label}{' (check mode)' if check else ''}: {playbook.name}")
        started = now()
        seq = len(self._steps) + 1
        run = run_playbook(
            playbook, inventory=self.request.inventory.path, limit=[host.name],
            data_dir=self.state / "runs" / rid / f"{seq:02d}-{host.name}-{phase}",
            check=check, extravars=extravars, timeout=timeout, on_task=self.ui.task,
        )
        tasks = [t.as_dict() for t in run.tasks if t.host == host.name]
        failed = host.name in run.failed or host.name in run.unreachable or run.status != "successful"
        status = ("unreachable" if host.name in run.unreachable else "failed" if failed
                  else "changed" if run.changed else "ok")
        record = {
            "id": step.step.id if step else phase, "host": host.name, "phase": phase,
            "playbook": run.playbook, "risk": step.step.risk.value if step else "none",
            "check_mode": check, "status": status, "changed": run.changed, "failed": failed,
            "tasks": tasks, "artifacts": str(run.artifacts), "duration": round(run.duration, 3),
        }
        self._steps.append(record)
        self._artifacts.append(str(run.artifacts))
        self.store.record_step(
            rid, host=host.name, phase=phase, step_id=record["id"], playbook=run.playbook,
            risk=record["risk"], check_mode=check, status=status, changed=run.changed, failed=failed,
            tasks=tasks, artifacts=str(run.artifacts), started_at=started, duration=run.duration)
        return run

    def _vars(self, step: StepView | None) -> dict:
        v = dict(self.request.runbook.vars)
        if step:
            v.update(step.step.vars)
        return v

    def _diagnose(self, rid: str, host: Host, phase: str) -> tuple[str, dict | None, str]:
        """Returns (state, diagnosis, message); state is healthy | unhealthy | unknown | unreachable | failed."""
        playbook = self.catalog.diagnose_playbook(self.request.runbook, host.platform)
        if playbook is None:
            return "unknown", None, "no diagnose playbook for this platform"
        run = self._run(rid, host, phase=phase, playbook=playbook, check=True, step=None,
                        extravars=self._vars(None), timeout=600)
        if host.name in run.unreachable:
            return "unreachable", None, run.unreachable[host.name]
        if host.name in run.failed or run.status != "successful":
            return "failed", None, run.failed.get(host.name, f"diagnose ended {run.status}")
        diag = run.facts.get(host.name)
        if not isinstance(diag, dict) or "healthy" not in diag:
            return "failed", None, f"{playbook.name} did not set remediate_diagnosis.healthy"
        healthy = diag.get("healthy")
        if healthy is None:  # the diagnose ran but could not tell (e.g. the evidence it reads is unavailable)
            return "unknown", diag, str(diag.get("summary", "")) or f"{playbook.name} could not tell"
        if not isinstance(healthy, bool):
            return "failed", None, f"{playbook.name} set remediate_diagnosis.healthy to {healthy!r}, not a boolean"
        return ("healthy" if healthy else "unhealthy"), diag, str(diag.get("summary", ""))

    # -- the ladder -----------------------------------------------------------------------------------------
    def _guidance(self, views: list[StepView], start: int, host: Host) -> list[dict]:
        out = []
        for idx, view in enumerate(views, start=1):
            if idx < start or self.request.runbook.step_platform(view.step) not in (host.platform, "any"):
                continue
            if view.automated:
                continue
            text = view.step.guidance.get(self.request.lang) if view.step.guidance else ""
            if view.pending_playbook:
                text = (f"(not yet automated: playbook {view.step.playbook} is not written) "
                        + (view.step.changes.get(self.request.lang) if view.step.changes else "") + " " + text)
            out.append({"step": idx, "id": view.step.id, "title": view.step.title.get(self.request.lang),
                        "risk": view.step.risk.value, "guidance": text.strip()})
        return out

    def _unverified(self, outcome: HostOutcome, idx: int, step_id: str, why: str) -> HostOutcome:
        outcome.status = "applied-unverified"
        outcome.message = f"step {idx} ({step_id}) applied but not verified: {why}"
        outcome.guidance = [{"step": idx, "id": step_id, "title": "verify", "risk": "never",
                             "guidance": UNVERIFIED_GUIDANCE.get(self.request.lang, UNVERIFIED_GUIDANCE["en"])}]
        return outcome

    def _remediate_host(self, rid: str, host: Host) -> HostOutcome:
        req = self.request
        views = self.catalog.steps(req.runbook)
        state, diag, msg = self._diagnose(rid, host, "diagnose")
        if state == "unreachable":
            return HostOutcome(host.name, "unreachable", f"{host.name} unreachable: {msg}")
        if state == "failed":
            return HostOutcome(host.name, "failed", f"diagnosis failed on {host.name}: {msg}")
        if state == "healthy":
            return HostOutcome(host.name, "no-change", msg or "nothing to fix", diagnosis=diag)
        outcome = HostOutcome(host.name, "failed", diagnosis=diag)
        applied_any = False
        for idx, view in enumerate(views, start=1):
            step = view.step
            if idx < req.start_step:
                continue
            if req.runbook.step_platform(step) not in (host.platform, "any"):
                continue
            if not view.automated:
                outcome.status = "manual"
                outcome.guidance = self._guidance(views, idx, host)
                outcome.message = (f"step {idx} ({step.id}) needs an operator"
                                   + ("; the automated steps before it did not fix it" if applied_any else ""))
                return outcome
            assert view.playbook_path is not None
            needs_ok = step.approval_rule in ("window", "always")
            if req.dry_run or needs_ok:
                check = self._run(rid, host, phase="plan", playbook=view.playbook_path, check=True, step=view,
                                  extravars=self._vars(view), timeout=step.timeout)
                entry = {"step": idx, "id": step.id, "risk": step.risk.value, "approval": step.approval_rule,
                         "playbook": step.playbook, "vars": self._vars(view),
                         "playbook_sha256": _file_digest(view.playbook_path),
                         "changes": step.changes.get(req.lang) if step.changes else "",
                         "would_change": [t.as_dict() for t in check.tasks if t.changed],
                         "idempotent": step.idempotent}
                outcome.plan.append(entry)
                if _run_broke(outcome, host.name, check, f"step {step.id} (check mode)"):
                    return outcome
                self.ui.show_plan(host.name, view, check)
                if req.dry_run:
                    outcome.status = "planned"
                    outcome.message = f"step {idx} ({step.id}) would run; later steps follow if it does not fix"
                    outcome.guidance = self._guidance(views, idx + 1, host)
                    return outcome
                if not req.assume_yes:
                    answer = self.ui.confirm(f"Apply step {idx} ({step.id}, risk {step.risk.value}) on "
                                             f"{host.name}?")
                    if answer is None:
                        outcome.status = "approval-required"
                        outcome.message = (f"step {idx} ({step.id}) is {step.risk.value} risk: approval required "
                                           "(re-run with --yes, or from a terminal)")
                        return outcome
                    if not answer:
                        outcome.status = "skipped"
                        outcome.message = f"step {idx} ({step.id}) declined by the operator; nothing applied"
                        return outcome
            run = self._run(rid, host, phase="apply", playbook=view.playbook_path, check=False, step=view,
                            extravars=self._vars(view), timeout=step.timeout)
            applied_any = True
            if _run_broke(outcome, host.name, run, f"step {step.id}"):
                return outcome
            if step.verify == "none":
                return self._unverified(outcome, idx, step.id, "the step defines no verification")
            state, diag, msg = self._diagnose(rid, host, "verify")
            outcome.verification = {"step": step.id, "state": state, "summary": msg, "diagnosis": diag}
            if state == "healthy":
                outcome.status, outcome.message = "fixed", f"fixed by step {idx} ({step.id}): {msg}"
                return outcome
            if state in ("unreachable", "failed"):
                outcome.status = "unreachable" if state == "unreachable" else "failed"
                outcome.message = f"verification after {step.id} {state}: {msg}"
                return outcome
            if state == "unknown":
                return self._unverified(outcome, idx, step.id, msg)
            self.ui.note(f"{host.name}: still failing after {step.id}: {msg}; next step of the ladder")
        outcome.status = "failed"
        outcome.message = "verification still fails after the last automated step"
        return outcome

    def execute(self, request: Request) -> Outcome:
        self.request = request
        self._steps, self._artifacts = [], []
        names = [h.name for h in request.hosts]
        rid = self.store.create_request(
            source=request.source, code=request.code, runbook=request.runbook.id, hosts=names,
            mode="dry-run" if request.dry_run else "apply", requester=request.requester)
        if not request.dry_run:
            try:
                self.store.acquire_locks(names, rid)
            except Exception as exc:
                self.store.finish_request(rid, status="skipped", exit_code=int(ExitStatus.SKIPPED),
                                          result={"message": str(exc)})
                raise
        outcomes: list[HostOutcome] = []
        try:
            for host in request.hosts:
                outcomes.append(self._remediate_host(rid, host))
        finally:
            if not request.dry_run:
                self.store.release_locks(names, rid)
        worst = max(outcomes, key=lambda o: SEVERITY.index(o.status)).status
        exit_code = STATUS_EXIT[worst]
        plan_id = None
        if any(o.plan for o in outcomes) and worst in ("planned", "approval-required"):
            plan = {"runbook": request.runbook.id, "code": request.code,
                    "hosts": {o.host: {"diagnosis": o.diagnosis, "steps": o.plan} for o in outcomes}}
            plan_id = self.store.save_plan(
                request_id=rid, runbook=request.runbook.id, code=request.code, hosts=names,
                plan_hash=plan_hash(plan), plan=plan, expires_at=now() + PLAN_TTL)
        result = Outcome(rid, worst, exit_code, outcomes, self._steps, self._artifacts, plan_id)
        self.store.finish_request(rid, status=worst, exit_code=int(exit_code), result=summarize(result),
                                  plan_id=plan_id)
        return result


def _run_broke(outcome: HostOutcome, host: str, run: PlaybookRun, label: str) -> bool:
    """Mark the outcome unreachable / failed when the playbook run did not succeed on the host."""
    if host in run.unreachable:
        outcome.status, outcome.message = "unreachable", f"{host} unreachable during {label}: {run.unreachable[host]}"
        return True
    if host in run.failed or run.status != "successful":
        outcome.status = "failed"
        outcome.message = f"{label} failed: {run.failed.get(host, run.status)}"
        return True
    return False


def summarize(o: Outcome) -> dict:
    """What the store keeps of a result (the JSON output minus the task lists)."""
    return {"status": o.status, "exit_code": int(o.exit_code), "plan_id": o.plan_id,
            "hosts": {h.host: {"status": h.status, "message": h.message} for h in o.hosts},
            "artifacts": o.artifacts}

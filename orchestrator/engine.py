"""Diagnose -> plan -> (policy / confirm / approved plan) -> apply -> verify -> next step -> manual guidance.

The one place that sequences a remediation. The hosts of a request go through the ladder together: the hosts at the
same point of it share one playbook run, limited to them, and everything else (gates, plans, decisions,
verification, outcomes) is per host; every run, policy decision and plan is recorded in the store, per host.
A run may hold several playbooks one after the other (one Ansible start-up, one set of connections): the diagnose
and the check mode of the first step a host would need a plan for (read ahead, skipped on hosts found healthy);
a step's apply and its verification (a diagnose playbook: check mode in every play, whatever the run's mode).
An approved plan (`remediate --approve`) runs through here too: its step runs only if a fresh check-mode run of it
(in the same run as the diagnose, just before the apply) would change exactly what the plan showed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from .ansible_run import Lane, Part, PlaybookRun, TaskResult, prewarm, run_lanes
from .catalog import Catalog, StepView
from .errors import ExitStatus, HostLockedError
from .inventory import Host, Inventory
from .paths import project_dir
from .policy import Policy
from .runbook import RISK_ORDER, Risk, Runbook
from .store import Store, now

AUTOMATIC_SOURCES = ("alert", "api")
VERIFY_BACKUP_PLAYBOOK = "azure/verify_backup.yml"
BACKUP_AFTER = ("fixed", "no-change", "applied-unverified")  # outcomes after which --verify-backup runs

# `applied-unverified`: a step changed the host but nothing could confirm the fault is gone (the runbook has no
# diagnose for this platform, the step says `verify: none`, or the diagnose could not tell). It is never `fixed`;
# an operator must confirm it (trigger a backup), so it exits like a manual action (4), with guidance.
STATUS_EXIT = {
    "fixed": ExitStatus.OK, "no-change": ExitStatus.OK, "planned": ExitStatus.OK, "resolved": ExitStatus.OK,
    "failed": ExitStatus.FAILED, "manual": ExitStatus.MANUAL, "applied-unverified": ExitStatus.MANUAL,
    "approval-required": ExitStatus.APPROVAL_REQUIRED, "unreachable": ExitStatus.UNREACHABLE,
    "skipped": ExitStatus.SKIPPED,
}
SEVERITY = ["resolved", "no-change", "planned", "fixed", "skipped", "approval-required", "applied-unverified",
            "manual", "unreachable", "failed"]
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
    source: str = "cli"  # cli | alert | api
    requester: str | None = None
    lang: str = "en"
    policy: Policy = field(default_factory=Policy)
    alert_id: str | None = None
    payload_kind: str | None = None
    dedup_key: str | None = None
    approved_plan: dict | None = None  # the stored plan row being applied (remediate --approve)
    approver: str | None = None
    verify_backup: bool = False  # after the fix, trigger an on-demand backup and wait for its job
    verify_backup_timeout: int = 1800


@dataclass
class HostOutcome:
    host: str
    status: str
    message: str = ""
    diagnosis: dict | None = None
    verification: dict | None = None
    guidance: list[dict] = field(default_factory=list)
    plan: list[dict] = field(default_factory=list)
    backup: dict | None = None  # --verify-backup: the on-demand backup job's outcome
    later_steps: list[dict] = field(default_factory=list)  # dry-run: what follows if the planned step does not fix


@dataclass
class Outcome:
    request_id: str
    status: str
    exit_code: ExitStatus
    hosts: list[HostOutcome]
    steps: list[dict]
    artifacts: list[str]
    plan_id: str | None = None
    decisions: list[dict] = field(default_factory=list)
    plan_hash: str | None = None


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def shared_playbook_digest() -> str:
    """Every file of the playbooks tree (vars, filters, templates, task files included by playbooks, ...): a plan
    is approved for the exact project it was made with."""
    root = project_dir() / "playbooks"
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return _digest({str(p.relative_to(root)): file_digest(p) for p in files})


def run_signature(tasks: list[dict]) -> str:
    """What a check-mode run says it would change: the changed tasks with their items and change lines."""
    changed = sorted((str(t.get("name")), str(t.get("item") or ""), json.dumps(t.get("changes") or []))
                     for t in tasks if t.get("changed"))
    return _digest(changed)


def plan_hash(plan: dict) -> str:
    """The hash of everything an approved plan will run: runbook and playbook contents, vars, hosts, steps and
    what each step would change (not the diagnosis text, not timestamps)."""
    return _digest({
        "runbook": plan["runbook"], "runbook_sha256": plan.get("runbook_sha256"), "code": plan.get("code"),
        "inventory": plan.get("inventory"), "shared_sha256": plan.get("shared_sha256"),
        "hosts": {h: [{k: s.get(k) for k in ("step", "id", "playbook", "playbook_sha256", "vars", "signature")}
                      for s in v["steps"]] for h, v in sorted(plan["hosts"].items())},
    })


class Engine:
    def __init__(self, catalog: Catalog, store: Store, state: Path, ui: UI) -> None:
        self.catalog = catalog
        self.store = store
        self.state = state
        self.ui = ui
        self._steps: list[dict] = []
        self._artifacts: list[str] = []
        self._decisions: list[dict] = []
        self._runs = 0
        # (host, step index, phase) -> a part read ahead in an earlier run: (run, started, part)
        self._read_ahead: dict[tuple[str, int, str], tuple[PlaybookRun, datetime, _Part]] = {}
        self._gate_moments: dict[tuple[str, int], datetime] = {}  # when a read-ahead decided a step's gate
        self.forks = fork_limit()

    # -- records --------------------------------------------------------------------------------------------
    def _decide(self, rid: str, rule: str, outcome: str, reason: str, host: str | None = None) -> None:
        self._decisions.append({"rule": rule, "outcome": outcome, "reason": reason, "host": host})
        self.store.record_decision(rid, rule=rule, outcome=outcome, reason=reason, host=host)
        if outcome in ("skip", "refuse"):
            self.ui.note(f"policy ({rule}): {reason}")

    # -- playbook runs ------------------------------------------------------------------------------------
    def _run(self, rid: str, parts: list[_Part]) -> list[PlaybookRun]:
        """One playbook run for the parts given (each: a playbook for the hosts at the same point of the same
        runbook), recorded per host: each host's record holds its own tasks, status and change flag (a part read
        ahead is recorded when the host's ladder reaches it). The run is in check mode when every part is; a part
        in check mode inside a real run must be a diagnose playbook (its plays say `check_mode: true`). Parts
        whose extra vars differ run one after the other instead."""
        if not parts:
            return []
        if len(parts) > 1 and any(p.extravars != parts[0].extravars for p in parts):
            assert all(p.after is None for p in parts), "a part that follows another must share its run"
            return [run for part in parts for run in self._run(rid, [part])]
        check = all(p.check_mode for p in parts)
        assert check or all(p.phase != "plan" for p in parts), "a step's check mode cannot ride in a real run"
        names = list(dict.fromkeys(h.name for p in parts for h in p.hosts))
        labels = [f"{p.label}{' (check mode)' if p.check_mode else ''}: {p.playbook.name}" for p in parts]
        self.ui.phase(_hosts_label(names), "; then ".join(labels))
        started = now()
        self._runs += 1
        base = self.state / "runs" / rid / (f"{self._runs:02d}-{_hosts_label(names, sep='+')}-"
                                            + "+".join(dict.fromkeys(p.phase for p in parts)))
        # one lane (ansible-playbook process) per platform, side by side: a play over every host of the run
        # would cost each task a worker per host of the other platform, only to skip it
        platforms = list(dict.fromkeys(h.platform for p in parts for h in p.hosts))
        lanes: list[Lane] = []
        origin: list[list[int]] = []  # per lane: the index in `parts` of each of its parts
        batches = 1
        for platform in platforms:
            keep = [[h.name for h in p.hosts if h.platform == platform] for p in parts]  # per part
            mine = [n for n, hosts in enumerate(keep) if hosts]
            lane_hosts = list(dict.fromkeys(h for n in mine for h in keep[n]))
            forks = min(len(lane_hosts), self.forks)
            batches = max(batches, -(-len(lane_hosts) // forks))
            diagnosed = next((k for k, n in enumerate(mine) if parts[n].phase == "diagnose"), None)
            lanes.append(Lane([Part(parts[n].playbook, keep[n], parts[n].unhealthy_only,
                                    None if parts[n].after is None else mine.index(parts[n].after),
                                    diagnosed if parts[n].keeps_diagnosis and diagnosed is not None
                                    and diagnosed < k else None) for k, n in enumerate(mine)],
                              base / platform if len(platforms) > 1 else base, forks if len(lane_hosts) > 1 else None))
            origin.append(mine)
        recorded: set[tuple[int, str]] = set()
        lock = threading.Lock()

        def part_done(lane: int, k: int, run: PlaybookRun) -> None:  # recorded while the run goes on
            n = origin[lane][k]
            if parts[n].ahead is not None:
                return  # read ahead: recorded when the host's ladder gets there
            with lock:
                for host in lanes[lane].parts[k].hosts:
                    self._record(rid, parts[n], host, run, started)
                    recorded.add((n, host))

        results = run_lanes(lanes, inventory=self.request.inventory.path, check=check,
                            extravars=parts[0].extravars, timeout=sum(p.timeout for p in parts) * batches,
                            on_task=self.ui.task, on_part_done=part_done)
        got: list[list[tuple[PlaybookRun, list[str]]]] = [[] for _ in parts]  # per part: (run, hosts) per lane
        for lane, lane_runs, mine in zip(lanes, results, origin, strict=True):
            for k, n in enumerate(mine):
                got[n].append((lane_runs[k], lane.parts[k].hosts))
        runs = [g[0][0] if len(g) == 1 else PlaybookRun.merged([r for r, _ in g], [h for _, h in g]) for g in got]
        self._artifacts += [str(lane.data_dir / "artifacts" / "run") for lane in lanes]
        for n, (part, run) in enumerate(zip(parts, runs, strict=True)):
            for host in part.hosts:
                if part.ahead is not None:
                    self._read_ahead[(host.name, part.ahead, part.phase)] = (run, started, part)
                elif (n, host.name) not in recorded:
                    self._record(rid, part, host.name, run, started)
        return runs

    def _ahead(self, rid: str, host: str, idx: int, phase: str) -> tuple[PlaybookRun, _Part] | None:
        """The host's part of step `idx` read ahead in an earlier run, recorded now; None if there is none."""
        found = self._read_ahead.pop((host, idx, phase), None)
        if found is None:
            return None
        run, started, part = found
        self._record(rid, part, host, run, started)
        return run, part

    def _record(self, rid: str, part: _Part, host: str, run: PlaybookRun, started: datetime) -> None:
        tasks = [t.as_dict() for t in run.tasks if t.host == host]
        failed = run.broke(host)
        changed = run.changed_on(host)
        status = "unreachable" if host in run.unreachable else "failed" if failed else "changed" if changed else "ok"
        step = part.step
        record = {
            "id": step.step.id if step else part.phase, "host": host, "phase": part.phase,
            "playbook": run.playbook, "risk": step.step.risk.value if step else "none",
            "check_mode": part.check_mode, "status": status, "changed": changed, "failed": failed,
            "tasks": tasks, "artifacts": str(run.artifacts_of(host)), "duration": round(run.duration, 3),
        }
        self._steps.append(record)
        self.store.record_step(
            rid, host=host, phase=part.phase, step_id=record["id"], playbook=run.playbook,
            risk=record["risk"], check_mode=part.check_mode, status=status, changed=changed, failed=failed,
            tasks=tasks, artifacts=str(run.artifacts_of(host)), started_at=started, duration=run.duration)

    def _vars(self, step: StepView | None) -> dict:
        v = dict(self.request.runbook.vars)
        if step:
            v.update(step.step.vars)
        return v

    def _diagnose_parts(self, hosts: list[Host], phase: str
                        ) -> tuple[list[_Part], dict[str, tuple[str, dict | None, str]]]:
        """The diagnose parts for these hosts (hosts of one platform share one), and the hosts that have none."""
        out: dict[str, tuple[str, dict | None, str]] = {}
        by_playbook: dict[Path, list[Host]] = {}
        for host in hosts:
            playbook = self.catalog.diagnose_playbook(self.request.runbook, host.platform)
            if playbook is None:
                out[host.name] = ("unknown", None, "no diagnose playbook for this platform")
            else:
                by_playbook.setdefault(playbook, []).append(host)
        return [_Part(group, phase, playbook, extravars=self._vars(None))
                for playbook, group in by_playbook.items()], out

    @staticmethod
    def _diagnoses(parts: list[_Part], runs: list[PlaybookRun], out: dict[str, tuple[str, dict | None, str]]
                   ) -> dict[str, tuple[str, dict | None, str]]:
        """Per host: (state, diagnosis, message); state is healthy | unhealthy | unknown | unreachable | failed."""
        for part, run in zip(parts, runs, strict=True):
            for host in part.hosts:
                out[host.name] = _diagnosis(run, host.name, part.playbook)
        return out

    def _direct(self, gate: str, view: StepView) -> bool:
        """Whether the step is applied without a check run first: the policy runs it automatically, or --yes
        confirms an idempotent step that is not high risk (a disruptive step always shows what it would do, and
        is skipped when it would change nothing, before it runs)."""
        step = view.step
        return gate == "auto" or (gate == "confirm" and self.request.assume_yes and step.idempotent
                                  and RISK_ORDER[step.risk] <= RISK_ORDER[Risk.medium])

    def _first_parts(self, diagnose: list[_Part]) -> list[_Part]:
        """Read ahead, in the diagnose run, what each diagnosed host's first step will need where no decision of
        ours has to come in between: its apply and verification when the step is applied directly, else its check
        mode (the plan a dry-run, a confirmation or an approved plan needs). These parts are skipped on the hosts
        the diagnosis finds healthy; the gate they assume is the one the step then records."""
        req = self.request
        views = self.catalog.steps(req.runbook)
        checks: dict[int, list[Host]] = {}
        applies: dict[int, list[Host]] = {}
        moment = now()
        for host in (h for part in diagnose for h in part.hosts):
            for idx, view in enumerate(views, start=1):
                if idx < req.start_step or not req.runbook.runs_on(view.step, host.platform):
                    continue
                if view.automated and self._vars(view) == self._vars(None):  # a run has one set of extra vars
                    gate = self._gate_of(host, idx, view, moment)[0]
                    if gate != "skip":
                        (applies if self._direct(gate, view) else checks).setdefault(idx, []).append(host)
                        self._gate_moments[(host.name, idx)] = moment
                break
        parts: list[_Part] = []
        for idx, hosts in applies.items():  # a real run: the checks wait for their step
            view = views[idx - 1]
            assert view.playbook_path is not None
            parts.append(_Part(hosts, "apply", view.playbook_path, step=view, unhealthy_only=True, ahead=idx,
                               keeps_diagnosis=True, extravars=self._vars(view), timeout=view.step.timeout))
            at = len(diagnose) + len(parts) - 1
            if view.step.verify != "none":
                verify, _ = self._diagnose_parts(hosts, "verify")
                for part in verify:
                    part.after, part.ahead = at, idx
                parts += verify
        if applies:
            return parts
        return [_Part(hosts, "plan", views[idx - 1].playbook_path, step=views[idx - 1], unhealthy_only=True,
                      ahead=idx, keeps_diagnosis=True, extravars=self._vars(views[idx - 1]),
                      timeout=views[idx - 1].step.timeout)
                for idx, hosts in checks.items()]

    def _checks(self, rid: str, idx: int, view: StepView, hosts: list[Host]) -> dict[str, PlaybookRun]:
        """Each host's check-mode run of the step: read ahead in its diagnose run, or run now."""
        out: dict[str, PlaybookRun] = {}
        for host in hosts:
            ahead = self._ahead(rid, host.name, idx, "plan")
            if ahead is not None:
                out[host.name] = ahead[0]
        fresh = [h for h in hosts if h.name not in out]
        if fresh:
            check = self._run(rid, [_Part(fresh, "plan", view.playbook_path, step=view,
                                          extravars=self._vars(view), timeout=view.step.timeout)])[0]
            out.update((h.name, check) for h in fresh)
        return out

    def _applies(self, rid: str, idx: int, view: StepView, hosts: list[Host]
                 ) -> tuple[dict[str, PlaybookRun], dict[str, tuple[str, dict | None, str]]]:
        """Each host's apply run of the step and, unless the step says `verify: none`, its verification: read
        ahead in its diagnose run, or run now (the verification in the same run as the apply: Ansible leaves out
        of it the hosts the step failed on)."""
        runs: dict[str, PlaybookRun] = {}
        states: dict[str, tuple[str, dict | None, str]] = {}
        verifies = view.step.verify != "none"
        for host in hosts:
            ahead = self._ahead(rid, host.name, idx, "apply")
            if ahead is None:
                continue
            runs[host.name] = ahead[0]
            checked = self._ahead(rid, host.name, idx, "verify") if verifies else None
            if checked is not None:
                states[host.name] = _diagnosis(checked[0], host.name, checked[1].playbook)
            elif verifies:
                states[host.name] = ("unknown", None, "no diagnose playbook for this platform")
        fresh = [h for h in hosts if h.name not in runs]
        if fresh:
            apply = _Part(fresh, "apply", view.playbook_path, step=view, extravars=self._vars(view),
                          timeout=view.step.timeout)
            verify, unknown = self._diagnose_parts(fresh if verifies else [], "verify")
            done = self._run(rid, [apply] + verify)
            runs.update((h.name, done[0]) for h in fresh)
            states.update(self._diagnoses(verify, done[1:], unknown))
        return runs, states

    # -- the ladder -----------------------------------------------------------------------------------------
    def _guidance(self, views: list[StepView], start: int, host: Host) -> list[dict]:
        out = []
        for idx, view in enumerate(views, start=1):
            if idx < start or not self.request.runbook.runs_on(view.step, host.platform):
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

    def _approved_entry(self, host: str, idx: int) -> dict | None:
        plan = self.request.approved_plan
        if not plan:
            return None
        for entry in (plan["plan"]["hosts"].get(host) or {}).get("steps", []):
            if entry.get("step") == idx:
                return entry
        return None

    def _plan_entry(self, idx: int, view: StepView, check: PlaybookRun, host: str) -> dict:
        step = view.step
        assert view.playbook_path is not None
        tasks = [t.as_dict() for t in check.tasks if t.host == host]
        return {"step": idx, "id": step.id, "title": step.title.get(self.request.lang), "risk": step.risk.value,
                "approval": step.approval_rule, "playbook": step.playbook, "vars": self._vars(view),
                "playbook_sha256": file_digest(view.playbook_path),
                "changes": step.changes.get(self.request.lang) if step.changes else "",
                "rollback": step.rollback.get(self.request.lang) if step.rollback else None,
                "would_change": [t for t in tasks if t.get("changed")],
                "signature": run_signature(tasks), "idempotent": step.idempotent}

    def _gate_of(self, host: Host, idx: int, view: StepView, moment: datetime | None = None) -> tuple[str, str]:
        """plan (dry-run) | approved | auto | confirm | skip for this step at `moment` (default now), with the
        reason; nothing recorded."""
        if self.request.dry_run:
            return "plan", "dry-run"
        if self._approved_entry(host.name, idx) is not None:
            return "approved", f"plan {self.request.approved_plan['id']} approved by {self.request.approver}"
        return self.request.policy.step_gate(view.step.risk, view.step.approval_rule, moment)

    def _gate(self, rid: str, host: Host, idx: int, view: StepView) -> tuple[str, str]:
        """The step's gate now (or when a run read the step ahead), its policy decision recorded."""
        gate, reason = self._gate_of(host, idx, view, self._gate_moments.pop((host.name, idx), None))
        if gate in ("auto", "confirm", "skip"):
            self._decide(rid, "risk", {"auto": "run", "confirm": "wait", "skip": "skip"}[gate],
                         f"step {idx} ({view.step.id}): {reason}", host.name)
        return gate, reason

    def _remediate(self, rid: str, hosts: list[Host]) -> list[HostOutcome]:
        """The ladder for every host at once: the hosts at the same step share each run (diagnose, check, apply,
        verify); what happens to each host (gates, plans, decisions, verification) is decided per host."""
        req = self.request
        views = self.catalog.steps(req.runbook)
        done: list[HostOutcome] = []
        active: list[_Ladder] = []
        parts, first = self._diagnose_parts(hosts, "diagnose")
        self._diagnoses(parts, self._run(rid, parts + self._first_parts(parts))[:len(parts)], first)
        for host in hosts:
            state, diag, msg = first[host.name]
            if state == "unreachable":
                done.append(HostOutcome(host.name, "unreachable", f"{host.name} unreachable: {msg}"))
            elif state == "failed":
                done.append(HostOutcome(host.name, "failed", f"diagnosis failed on {host.name}: {msg}"))
            elif state == "healthy":
                done.append(HostOutcome(host.name, "no-change", msg or "nothing to fix", diagnosis=diag))
            else:
                active.append(_Ladder(host, HostOutcome(host.name, "failed", diagnosis=diag)))
        for idx, view in enumerate(views, start=1):
            if idx < req.start_step:
                continue
            here = [lad for lad in active if req.runbook.runs_on(view.step, lad.host.platform)]
            if not here:
                continue
            finished = self._step(rid, idx, view, views, here)
            done += finished
            active = [lad for lad in active if lad.outcome not in finished]
        for lad in active:
            outcome = lad.outcome
            if not lad.applied_any and lad.noop_steps:
                outcome.status = "manual"
                outcome.message = (f"no automated step would change anything ({', '.join(lad.noop_steps)}) while "
                                   "the diagnosis still fails: "
                                   f"{outcome.diagnosis and outcome.diagnosis.get('summary') or ''}").rstrip(": ")
            else:
                outcome.status = "failed"
                outcome.message = "verification still fails after the last automated step"
            done.append(outcome)
        return done

    def _step(self, rid: str, idx: int, view: StepView, views: list[StepView], here: list[_Ladder]
              ) -> list[HostOutcome]:
        """Step `idx` for the hosts that reached it; returns the outcomes that are final after it."""
        step = view.step
        finished: list[HostOutcome] = []
        if not view.automated:
            for lad in here:
                lad.outcome.status = "manual"
                lad.outcome.guidance = self._guidance(views, idx, lad.host)
                lad.outcome.message = (f"step {idx} ({step.id}) needs an operator"
                                       + ("; the automated steps before it did not fix it" if lad.applied_any else ""))
                finished.append(lad.outcome)
            return finished
        assert view.playbook_path is not None
        gates: dict[str, tuple[str, str]] = {}
        for lad in here:
            gate, reason = self._gate(rid, lad.host, idx, view)
            gates[lad.host.name] = (gate, reason)
            if gate == "skip":
                lad.outcome.status, lad.outcome.message = "skipped", f"step {idx} ({step.id}) not run: {reason}"
                finished.append(lad.outcome)
        direct = [lad for lad in here if self._direct(gates[lad.host.name][0], view)]
        checked = [lad for lad in here if gates[lad.host.name][0] in ("plan", "confirm", "approved")
                   and lad not in direct]
        to_apply = list(direct)
        for lad in direct:
            if gates[lad.host.name][0] == "confirm":
                self._decide(rid, "confirm", "run", f"step {idx} ({step.id}) confirmed with --yes (idempotent, "
                             f"risk {step.risk.value}: applied without a check run first)", lad.host.name)
        if checked:
            checks = self._checks(rid, idx, view, [lad.host for lad in checked])
            for lad in checked:
                if self._after_check(rid, idx, view, views, lad, gates[lad.host.name], checks[lad.host.name]):
                    finished.append(lad.outcome)
                elif lad.noop_steps[-1:] != [step.id]:
                    to_apply.append(lad)
        to_apply.sort(key=lambda lad: here.index(lad))
        if not to_apply:
            return finished
        runs, states = self._applies(rid, idx, view, [lad.host for lad in to_apply])
        verify = []
        unchanged: set[str] = set()  # applied with --yes without a check run, and changed nothing
        for lad in to_apply:
            name = lad.host.name
            if lad in direct and gates[name][0] == "confirm" and not runs[name].broke(name) \
                    and not runs[name].changed_on(name):
                unchanged.add(name)
                lad.noop_steps.append(step.id)  # counts like a step whose check run would change nothing
            else:
                lad.applied_any = True
            if _run_broke(lad.outcome, name, runs[name], f"step {step.id}"):
                finished.append(lad.outcome)
            elif step.verify == "none":
                finished.append(self._unverified(lad.outcome, idx, step.id, "the step defines no verification"))
            else:
                verify.append(lad)
        for lad in verify:
            state, diag, msg = states[lad.host.name]
            outcome = lad.outcome
            outcome.verification = {"step": step.id, "state": state, "summary": msg, "diagnosis": diag}
            if state == "healthy" and lad.host.name in unchanged:
                outcome.status = "no-change"
                outcome.message = f"healthy when verified after step {idx} ({step.id}), which changed nothing: {msg}"
            elif state == "healthy":
                outcome.status, outcome.message = "fixed", f"fixed by step {idx} ({step.id}): {msg}"
            elif state in ("unreachable", "failed"):
                outcome.status = "unreachable" if state == "unreachable" else "failed"
                outcome.message = f"verification after {step.id} {state}: {msg}"
            elif state == "unknown":
                self._unverified(outcome, idx, step.id, msg)
            else:
                outcome.diagnosis = diag
                self.ui.note(f"{lad.host.name}: still failing after {step.id}: {msg}; next step of the ladder")
                continue
            finished.append(outcome)
        return finished

    def _after_check(self, rid: str, idx: int, view: StepView, views: list[StepView], lad: _Ladder,
                     gate_reason: tuple[str, str], check: PlaybookRun) -> bool:
        """A host's check-mode run of the step: its plan entry, then the gate. True when the host's outcome is
        final (planned, waiting for approval, refused, declined, broken); False when it goes on (to apply, or to
        the next step when the step would change nothing: its id is then the last of `lad.noop_steps`)."""
        req, step, host, outcome = self.request, view.step, lad.host, lad.outcome
        gate, reason = gate_reason
        entry = self._plan_entry(idx, view, check, host.name)
        if _run_broke(outcome, host.name, check, f"step {step.id} (check mode)"):
            return True
        if gate != "approved" and not entry["would_change"]:
            # the host already is as this step would leave it: nothing to approve, nothing to run
            self._decide(rid, "no-op", "skip", f"step {idx} ({step.id}) would change nothing on "
                         f"{host.name}; the ladder goes on", host.name)
            lad.noop_steps.append(step.id)
            return False
        if gate == "approved":
            approved = self._approved_entry(host.name, idx) or {}
            if approved.get("signature") != entry["signature"]:
                outcome.plan.append(entry)
                outcome.status = "approval-required"
                outcome.message = (f"step {idx} ({step.id}) would now change something else than plan "
                                   f"{req.approved_plan['id']} showed (the host changed since the plan): "
                                   "refused; make a new dry-run")
                self._decide(rid, "drift", "refuse", outcome.message, host.name)
                return True
            self._decide(rid, "approval", "run", f"step {idx} ({step.id}): {reason}; the host still "
                         "matches the plan", host.name)
        else:
            outcome.plan.append(entry)
            self.ui.show_plan(host.name, view, check)
        if gate == "plan":
            outcome.status = "planned"
            outcome.message = f"step {idx} ({step.id}) would run; later steps follow if it does not fix"
            outcome.guidance = self._guidance(views, idx + 1, host)
            outcome.later_steps = [
                {"step": n, "id": v.step.id, "title": v.step.title.get(req.lang), "risk": v.step.risk.value,
                 "automated": v.automated,
                 "changes": v.step.changes.get(req.lang) if v.automated and v.step.changes else None}
                for n, v in enumerate(views, start=1)
                if n > idx and req.runbook.runs_on(v.step, host.platform)]
            return True
        if gate == "confirm" and not req.assume_yes:
            answer = self.ui.confirm(f"Apply step {idx} ({step.id}, risk {step.risk.value}) on {host.name}?")
            if answer is None:
                outcome.status = "approval-required"
                outcome.message = (f"step {idx} ({step.id}) is {step.risk.value} risk: approval required "
                                   "(approve the stored plan with remediate --approve PLAN_ID, or re-run "
                                   "with --yes or from a terminal)")
                return True
            if not answer:
                outcome.status = "skipped"
                outcome.message = f"step {idx} ({step.id}) declined by the operator; nothing applied"
                self._decide(rid, "confirm", "skip", outcome.message, host.name)
                return True
            self._decide(rid, "confirm", "run", f"step {idx} ({step.id}) confirmed at the terminal", host.name)
        elif gate == "confirm":
            self._decide(rid, "confirm", "run", f"step {idx} ({step.id}) confirmed with --yes", host.name)
        outcome.plan = [e for e in outcome.plan if e["step"] != idx]
        return False

    def _verify_backup(self, rid: str, host: Host, outcome: HostOutcome) -> None:
        """The strongest proof: an on-demand backup of the VM, its job polled to the end (bounded)."""
        playbook = self.catalog.playbooks_dir / VERIFY_BACKUP_PLAYBOOK
        if not playbook.is_file():
            outcome.backup = {"status": "unavailable", "summary": f"{VERIFY_BACKUP_PLAYBOOK} is not installed"}
            return
        timeout = self.request.verify_backup_timeout
        run = self._run(rid, [_Part([host], "backup", playbook, extravars={"verify_backup_timeout": timeout},
                                    timeout=timeout + 300)])[0]
        found = (run.results.get(host.name) or {}).get("remediate_backup")
        if run.broke(host.name) or not found:
            why = run.unreachable.get(host.name) or run.failed.get(host.name) or "the playbook set no result"
            outcome.backup = {"status": "unavailable", "summary": f"backup verification could not run: {why}"}
            return
        outcome.backup = {k: found.get(k) for k in ("status", "job_id", "error_code", "error_message", "summary")}
        if found.get("status") == "failed":
            self._decide(rid, "verify-backup", "refuse", f"on-demand backup job {found.get('job_id')} failed: "
                         f"{found.get('error_code')}", host.name)
            outcome.message = (f"{outcome.message}; but the on-demand backup failed ({found.get('error_code') or '?'}"
                               f": {found.get('error_message') or ''})").strip()
            outcome.status = "failed"
        else:
            outcome.message = f"{outcome.message}; on-demand backup {found.get('status')}"

    # -- policy before anything runs -------------------------------------------------------------------------
    def admit(self, request: Request, request_id: str) -> tuple[list[Host], list[HostOutcome], list[dict]]:
        """The admission rules alone, recorded on `request_id`: (hosts to run, skipped outcomes, decisions).
        The server applies them before it starts a run's process, so duplicates of an alert storm cost nothing."""
        self.request = request
        self._decisions = []
        to_run, skipped = self._admit(request_id)
        return to_run, skipped, list(self._decisions)

    def _admit(self, rid: str) -> tuple[list[Host], list[HostOutcome]]:
        """Dedup, error budget and cooldown for automatic sources. Returns (hosts to run, skipped outcomes)."""
        req = self.request
        if req.source not in AUTOMATIC_SOURCES:
            return list(req.hosts), []
        if req.approved_plan:
            self._decide(rid, "approval", "run", f"plan {req.approved_plan['id']} approved by {req.approver}: "
                         "dedup, cooldown and the error budget do not hold a human decision")
            return list(req.hosts), []
        policy = req.policy
        budget = policy.error_budget
        failures = self.store.count_failures(now() - budget.window)
        if failures >= budget.max_failures:
            reason = (f"fleet error budget exhausted: {failures} failed runs in the last {budget.window} "
                      f"(max {budget.max_failures}); automatic runs are suspended")
            self._decide(rid, "error-budget", "skip", reason)
            return [], [HostOutcome(h.name, "skipped", reason) for h in req.hosts]
        if req.dedup_key:
            key = req.dedup_key + ("|dry-run" if req.dry_run else "")  # a plan does not hold back the real run
            try:
                holder = self.store.claim_dedup(key, rid, policy.dedup_window.total_seconds())
            except HostLockedError:
                holder = "(contended)"
            if holder is not None:
                reason = (f"duplicate of request {holder} ({req.dedup_key}) within the dedup window "
                          f"{policy.dedup_window}")
                self._decide(rid, "dedup", "skip", reason)
                return [], [HostOutcome(h.name, "skipped", reason) for h in req.hosts]
        run, skipped = [], []
        for host in req.hosts:
            last = self.store.last_change(host.name)
            if last and not req.dry_run and now() - last[0] < policy.cooldown:
                reason = (f"{host.name} in cooldown: changed by request {last[1]} at {last[0]:%Y-%m-%d %H:%M:%S} "
                          f"UTC, cooldown {policy.cooldown}")
                self._decide(rid, "cooldown", "skip", reason, host.name)
                skipped.append(HostOutcome(host.name, "skipped", reason))
            else:
                run.append(host)
        return run, skipped

    def execute(self, request: Request, request_id: str | None = None) -> Outcome:
        """Run the request; `request_id` continues a request already stored (queued by the server)."""
        self.request = request
        self._steps, self._artifacts, self._decisions, self._runs = [], [], [], 0
        self._read_ahead, self._gate_moments = {}, {}
        if request.hosts:
            prewarm()  # ansible-runner is imported while the store records the request and the policy decides
        names = [h.name for h in request.hosts]
        if request_id:
            rid = request_id
            self.store.start_request(rid, runbook=request.runbook.id, hosts=names)
        else:
            rid = self.store.create_request(
                source=request.source, code=request.code, runbook=request.runbook.id, hosts=names,
                mode="dry-run" if request.dry_run else "apply", requester=request.requester,
                alert_id=request.alert_id, payload_kind=request.payload_kind)
        to_run, outcomes = self._admit(rid)
        locked: list[str] = []
        if to_run and not request.dry_run:
            try:
                self.store.acquire_locks([h.name for h in to_run], rid)
                locked = [h.name for h in to_run]
            except HostLockedError as exc:
                self._decide(rid, "lock", "skip", exc.message)
                outcomes += [HostOutcome(h.name, "skipped", exc.message) for h in to_run]
                to_run = []
        try:
            done = self._remediate(rid, to_run) if to_run else []
            for host in to_run:
                outcome = next(o for o in done if o.host == host.name)
                if request.verify_backup and not request.dry_run and outcome.status in BACKUP_AFTER:
                    self._verify_backup(rid, host, outcome)
                outcomes.append(outcome)
        except BaseException as exc:  # Ctrl-C, a crash: the audit trail says so, then the error goes on
            self.store.finish_request(rid, status="interrupted", exit_code=130 if isinstance(
                exc, KeyboardInterrupt) else int(ExitStatus.FAILED), result={"message": f"interrupted: {exc!r}"[:500]})
            raise
        finally:
            self.store.release_locks(locked, rid)
        outcomes.sort(key=lambda o: names.index(o.host))
        worst = max(outcomes, key=lambda o: SEVERITY.index(o.status)).status
        exit_code = STATUS_EXIT[worst]
        plan_id, digest = None, None
        waiting = [o for o in outcomes if o.plan and o.status in ("planned", "approval-required")]
        if waiting:  # also when another host of the request ended worse (unreachable, failed): these still wait
            plan_id, digest = self._save_plan(rid, waiting)
        result = Outcome(rid, worst, exit_code, outcomes, self._steps, self._artifacts, plan_id,
                         list(self._decisions), digest)
        self.store.finish_request(rid, status=worst, exit_code=int(exit_code), result=summarize(result),
                                  plan_id=plan_id)
        return result

    def _save_plan(self, rid: str, outcomes: list[HostOutcome]) -> tuple[str, str]:
        req = self.request
        runbook_file = self.catalog.root / "runbooks" / f"{req.runbook.id}.yml"
        plan = {"runbook": req.runbook.id, "code": req.code, "title": req.runbook.title.get(req.lang),
                "runbook_sha256": file_digest(runbook_file) if runbook_file.is_file() else None,
                "shared_sha256": shared_playbook_digest(), "inventory": str(req.inventory.path),
                "source": req.source, "alert_id": req.alert_id, "lang": req.lang,
                "hosts": {o.host: {"diagnosis": o.diagnosis, "status": o.status, "steps": o.plan,
                                   "later_steps": o.later_steps} for o in outcomes if o.plan}}
        risks = [Risk(s["risk"]) for o in outcomes for s in o.plan]
        max_risk = max(risks, key=lambda r: RISK_ORDER[r]).value if risks else None
        digest = plan_hash(plan)
        plan_id = self.store.save_plan(
            request_id=rid, runbook=req.runbook.id, code=req.code, hosts=sorted(plan["hosts"]), plan_hash=digest,
            plan=plan, expires_at=now() + req.policy.plan_ttl, requester=req.requester,
            inventory=str(req.inventory.path), max_risk=max_risk)
        return plan_id, digest


PLAN_TTL = timedelta(hours=24)  # the default; the policy's plan_ttl decides


def _run_broke(outcome: HostOutcome, host: str, run: PlaybookRun, label: str) -> bool:
    """Mark the outcome unreachable / failed when the playbook run did not succeed on the host."""
    if host in run.unreachable:
        outcome.status, outcome.message = "unreachable", f"{host} unreachable during {label}: {run.unreachable[host]}"
        return True
    if run.broke(host):
        outcome.status = "failed"
        outcome.message = f"{label} failed: {run.why(host)}"
        return True
    return False


def _diagnosis(run: PlaybookRun, host: str, playbook: Path) -> tuple[str, dict | None, str]:
    """(state, diagnosis, message) of one host from a diagnose run."""
    if host in run.unreachable:
        return "unreachable", None, run.unreachable[host]
    if run.broke(host):
        return "failed", None, run.failed.get(host, f"diagnose ended {run.status}")
    diag = run.facts.get(host)
    if not isinstance(diag, dict) or "healthy" not in diag:
        return "failed", None, f"{playbook.name} did not set remediate_diagnosis.healthy"
    healthy = diag.get("healthy")
    if healthy is None:  # the diagnose ran but could not tell (e.g. the evidence it reads is unavailable)
        return "unknown", diag, str(diag.get("summary", "")) or f"{playbook.name} could not tell"
    if not isinstance(healthy, bool):
        return "failed", None, f"{playbook.name} set remediate_diagnosis.healthy to {healthy!r}, not a boolean"
    return ("healthy" if healthy else "unhealthy"), diag, str(diag.get("summary", ""))


def _hosts_label(names: list[str], sep: str = ", ") -> str:
    """How a batch is named on screen and in its run directory: the hosts, or the first ones and a count."""
    if len(names) <= 3:
        return sep.join(names)
    return f"{names[0]}{sep}{names[1]}{sep}+{len(names) - 2}"


def fork_limit() -> int:
    """How many hosts of a batch Ansible works on at once ($REMEDIATE_FORKS, default 50)."""
    try:
        return max(1, int(os.environ.get("REMEDIATE_FORKS", "50")))
    except ValueError:
        return 50


@dataclass
class _Ladder:
    """Where one host is on the ladder while its batch goes on."""

    host: Host
    outcome: HostOutcome
    applied_any: bool = False
    noop_steps: list[str] = field(default_factory=list)


@dataclass
class _Part:
    """A playbook of an engine run for some hosts: what it is for (phase, step), its vars and time limit."""

    hosts: list[Host]
    phase: str  # diagnose | plan | apply | verify | backup
    playbook: Path
    step: StepView | None = None
    unhealthy_only: bool = False  # skipped on the hosts whose diagnosis, earlier in the run, is healthy
    after: int | None = None  # only on the hosts the run's part of this index ran on
    ahead: int | None = None  # read ahead for step `ahead`: recorded when the host's ladder gets there
    keeps_diagnosis: bool = False  # follows the run's diagnose: a diagnose playbook it imports keeps that diagnosis
    extravars: dict = field(default_factory=dict)
    timeout: int = 600

    @property
    def label(self) -> str:
        return f"{self.phase} {self.step.step.id}" if self.step else self.phase

    @property
    def check_mode(self) -> bool:
        return self.phase in ("diagnose", "verify", "plan")


def summarize(o: Outcome) -> dict:
    """What the store keeps of a result (the JSON output minus the task lists)."""
    return {"status": o.status, "exit_code": int(o.exit_code), "plan_id": o.plan_id,
            "hosts": {h.host: {"status": h.status, "message": h.message}
                      | ({"backup": h.backup} if h.backup else {}) for h in o.hosts},
            "decisions": o.decisions, "artifacts": o.artifacts}

"""A bounded pool of worker threads running queued requests with the same engine, policy and host locks as the
command line. A request is claimed atomically in the store (queued -> running), so several workers or several
server processes never run one twice. Each request runs in its own child process (`python -m
orchestrator.server.child`): Ansible forks, and forking from a multi-threaded server is unsafe; a crash of one run
never takes the server down; and a server killed mid-run leaves the run to finish (its process owns the request).
A request whose process is gone at start-up is marked interrupted and reported, or re-queued when configured.
An alert request that the admission rules skip (duplicate, error budget, cooldown) is finished in the worker's
thread, without a process: a storm of identical alerts starts one run.
Each worker keeps its next run process started ahead (a warm child: it has imported the engine, read the catalog
and imported Ansible's inventory code and ansible-runner while it waits for its job on stdin), so a request does not
wait for that."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .. import approvals
from ..engine import Engine, Outcome, Request, summarize
from ..errors import ExitStatus, RemediateError
from ..render import TerminalUI
from .service import ServerContext

log = logging.getLogger("remediate.serve")


def recover(ctx: ServerContext) -> list[dict]:
    """At start-up: requests left running by a dead process of this node become `interrupted`; an approval that
    was interrupted gives its plan back (pending); with on_interrupted=retry the request is queued again."""
    out = []
    for row in ctx.store.recover_interrupted():
        params = row.get("params") or {}
        if params.get("kind") == "approve":
            ctx.store.decide_plan(params["plan_id"], "pending", reason=f"approval request {row['id']} interrupted",
                                  only_if="approved")
        ctx.store.record_decision(row["id"], rule="restart", outcome="refuse" if ctx.config.on_interrupted ==
                                  "report" else "run", reason="the server stopped while this request ran; "
                                  + ("reported as interrupted" if ctx.config.on_interrupted == "report"
                                     else "queued again"))
        if ctx.config.on_interrupted == "retry" and params:
            ctx.store.release_dedup(row["id"])  # its own claim: the run again is not a duplicate of itself
            ctx.store.set_request_status(row["id"], "queued", only_if="interrupted")
        out.append(row)
        log.warning("request %s was interrupted by a restart (%s)", row["id"], ctx.config.on_interrupted)
    return out


def admit(ctx: ServerContext, row: dict) -> str | None:
    """The engine's admission rules (error budget, dedup, cooldown) for an alert request, in the worker's own
    thread: a request they skip is finished here and no process is started, so an alert storm of N duplicates
    costs one run's process, not N. Returns "skipped", "admitted" (it must run; its dedup key is claimed for it,
    so its process does not claim it again), or None (not an alert, or not runnable: its process reports it)."""
    if (row.get("params") or {}).get("kind") != "alert":
        return None
    try:
        request = alert_request(ctx, row)
    except RemediateError:
        return None
    engine = Engine(ctx.catalog, ctx.store, ctx.config.state, TerminalUI(io.StringIO(), None, interactive=False))
    to_run, skipped, decisions = engine.admit(request, row["id"])  # the engine's own rules, not a copy of them
    if to_run:
        return "admitted"
    outcome = Outcome(row["id"], "skipped", ExitStatus.SKIPPED, skipped, [], [], decisions=decisions)
    ctx.store.finish_request(row["id"], status="skipped", exit_code=int(ExitStatus.SKIPPED), result=summarize(outcome))
    return "skipped"


class WarmChild:
    """A run process (`python -m orchestrator.server.child`) started before its request exists: it warms up, then
    waits for its job on stdin. Its output goes to the request's worker.log once it has the job."""

    def __init__(self, on_used: Callable[[], None] | None = None, inventory: Path | None = None) -> None:
        self.on_used = on_used  # called once it has its job: the worker starts the next one ahead
        ahead = ["--inventory", str(inventory)] if inventory else []  # read ahead too (re-read if it changes)
        self.proc = subprocess.Popen([sys.executable, "-m", "orchestrator.server.child", *ahead], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        self.used = False

    def hand_over(self, job: dict) -> subprocess.Popen | None:
        """Give it its job; None when it is gone (the caller starts a fresh process instead)."""
        assert self.proc.stdin is not None
        self.used = True
        try:
            self.proc.stdin.write(json.dumps(job).encode())
            self.proc.stdin.close()
        except OSError:
            self.close()
            return None
        if self.on_used is not None:
            self.on_used()
        return self.proc

    def close(self) -> None:
        """Send it away without a job (it exits), or kill it if it does not."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin and not self.proc.stdin.closed:
                    self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def spawn(ctx: ServerContext, row: dict, spare: WarmChild | None = None) -> str:
    """Run one claimed request (in a child process unless admission skips it); return its final status.
    `spare`: a warm child to run it in (used up when the request runs)."""
    started = time.monotonic()
    verdict = admit(ctx, row)
    if verdict == "skipped":  # no process: the spare waits for the next request
        status = verdict
    else:
        status = run_child(ctx, row, admitted=verdict == "admitted", spare=spare)
    ctx.metrics.runs.labels(status=status).inc()
    ctx.metrics.run_seconds.observe(time.monotonic() - started)
    return status


def run_child(ctx: ServerContext, row: dict, *, admitted: bool = False, spare: WarmChild | None = None) -> str:
    """Run one claimed request in a child process (`spare` when given and alive); wait for it; return the final
    status from the store."""
    log_path = ctx.config.state / "runs" / row["id"] / "worker.log"  # survives a killed server
    job = {"state": str(ctx.config.state), "inventory": str(ctx.config.inventory), "request_id": row["id"],
           "policy": ctx.config.policy.model_dump(mode="json"), "admitted": admitted, "log": str(log_path)}
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        proc = spare.hand_over(job) if spare is not None else None
        if proc is not None:
            proc.wait()
        else:
            with open(log_path, "ab") as output:
                proc = subprocess.run([sys.executable, "-m", "orchestrator.server.child"],
                                      input=json.dumps(job).encode(), stdout=output, stderr=subprocess.STDOUT,
                                      env=dict(os.environ), check=False)
        if proc.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            log.error("request %s: child exited %s: %s", row["id"], proc.returncode, tail)
    except OSError as exc:
        log.error("request %s: cannot start its process: %s", row["id"], exc)
    final = ctx.store.get_request(row["id"]) or {}
    status = str(final.get("status") or "failed")
    if status in ("running", "queued"):  # the child died without finishing: say so, never leave it running
        ctx.store.finish_request(row["id"], status="interrupted", exit_code=int(ExitStatus.FAILED),
                                 result={"error": "the run's process ended without finishing the request"})
        status = "interrupted"
    return status


def alert_request(ctx: ServerContext, row: dict, *, dedup: bool = True) -> Request:
    """The engine request of a queued alert request (raises RemediateError when it can no longer run); without
    `dedup` when the worker's admission already claimed its dedup key for it."""
    params = row["params"]
    inv = ctx.inventory()
    match = ctx.catalog.lookup(params["code"])
    if params["host"] not in inv.hosts:
        raise RemediateError(f"host {params['host']} is no longer in the inventory; nothing was run")
    return Request(runbook=match.runbook, code=match.code, hosts=[inv.hosts[params["host"]]], inventory=inv,
                   dry_run=bool(params.get("dry_run")), source="api", requester=row.get("requester"),
                   lang=params.get("lang", "en"), policy=ctx.config.policy, alert_id=row.get("alert_id"),
                   payload_kind=row.get("payload_kind"), dedup_key=params.get("dedup_key") if dedup else None)


def run_row(ctx: ServerContext, row: dict, *, admitted: bool = False) -> str:
    """Run one claimed request to its end in this process (the child's job); returns its final status.
    `admitted`: the worker's admission passed it (its dedup key is claimed for it)."""
    params = row.get("params") or {}
    ui = TerminalUI(io.StringIO(), None, interactive=False)
    engine = Engine(ctx.catalog, ctx.store, ctx.config.state, ui)
    try:
        if params.get("kind") == "approve":
            plan = approvals.load_plan(ctx.store, params["plan_id"])
            if plan["status"] != "approved":
                raise RemediateError(f"plan {plan['id']} is {plan['status']}, not approved; nothing was run")
            request = approvals.request_for(plan, ctx.catalog, approver=params["approver"],
                                            policy=ctx.config.policy, source="api", lang=params.get("lang", "en"))
            approval = approvals.Approval(plan, request)
            outcome = engine.execute(request, request_id=row["id"])
            approvals.finish(ctx.store, approval, outcome)
        elif params.get("kind") == "alert":
            outcome = engine.execute(alert_request(ctx, row, dedup=not admitted), request_id=row["id"])
        else:
            raise RemediateError(f"request {row['id']} has no runnable parameters")
        status = outcome.status
    except RemediateError as exc:
        status = "failed"
        ctx.store.finish_request(row["id"], status=status, exit_code=int(exc.status), result={"error": exc.message})
    except Exception as exc:  # noqa: BLE001 - a worker never dies of one request
        log.exception("request %s crashed", row["id"])
        status = "failed"
        ctx.store.finish_request(row["id"], status=status, exit_code=int(ExitStatus.FAILED),
                                 result={"error": f"internal error: {type(exc).__name__}: {exc}"[:500]})
        if params.get("kind") == "approve":
            ctx.store.decide_plan(params["plan_id"], "pending", reason="approval run crashed", only_if="approved")
    return status


class WorkerPool:
    def __init__(self, ctx: ServerContext, size: int) -> None:
        self.ctx = ctx
        self.size = max(1, size)
        self.stopping = threading.Event()
        self.queued = threading.Event()  # set when a request is queued: an idle worker claims it at once
        self.threads: list[threading.Thread] = []
        self.busy = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        for n in range(self.size):
            thread = threading.Thread(target=self._loop, name=f"remediate-worker-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def wake(self) -> None:
        """A request was queued in this process (the slow poll finds those queued by other processes)."""
        self.queued.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.queued.set()
        for thread in self.threads:
            thread.join(timeout)

    def _loop(self) -> None:
        slot: list[WarmChild | None] = [None]

        def refill() -> None:
            slot[0] = self._warm_child(refill)

        try:
            while not self.stopping.is_set():
                spare = slot[0]
                if spare is None or spare.used or spare.proc.poll() is not None:
                    refill()
                self.queued.clear()  # before the claim: a request queued after it sets it again
                try:
                    rows = self.ctx.store.claim_queued(1)
                except Exception:  # noqa: BLE001 - the store may be briefly busy; try again
                    log.exception("claiming queued requests failed")
                    rows = []
                if not rows:
                    self.queued.wait(self.ctx.config.poll_interval)
                    continue
                self._run(rows[0], slot[0])
        finally:
            if slot[0] is not None:
                slot[0].close()

    def _warm_child(self, on_used: Callable[[], None]) -> WarmChild | None:
        if self.stopping.is_set():
            return None
        try:
            return WarmChild(on_used, self.ctx.config.inventory)
        except OSError as exc:
            log.error("cannot start a run process ahead: %s", exc)
            return None

    def _run(self, row: dict, spare: WarmChild | None) -> None:
        with self._lock:
            self.busy += 1
        try:
            spawn(self.ctx, row, spare)
        except Exception as exc:  # noqa: BLE001 - a worker never dies of one request (e.g. a store error)
            log.exception("request %s: the worker failed", row["id"])
            try:
                self.ctx.store.finish_request(row["id"], status="failed", exit_code=int(ExitStatus.FAILED),
                                              result={"error": f"worker error: {type(exc).__name__}: {exc}"[:500]})
            except Exception:  # noqa: BLE001 - the store is down: the restart reports it interrupted
                log.exception("request %s: cannot record the failure", row["id"])
        finally:
            with self._lock:
                self.busy -= 1

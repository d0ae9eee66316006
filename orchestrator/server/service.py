"""What the HTTP API and the approvals page do, in one place: accept alerts (persisted before the reply), approve
or reject plans, read requests and plans. Pure functions of a ServerContext; no HTTP here."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import approvals
from ..alerts import AlertError, map_hosts, parse, resolve_codes
from ..catalog import Catalog
from ..errors import ExitStatus, UsageError
from ..group_commit import GroupCommit
from ..inventory import Inventory, load_inventory
from ..store import Store, request_row
from .config import ServerConfig
from .metrics import Metrics


@dataclass
class ServerContext:
    config: ServerConfig
    store: Store
    catalog: Catalog
    metrics: Metrics
    wake: Callable[[], None] = field(default=lambda: None, repr=False)  # a request was queued: wake a worker
    _inventory: tuple[float, Inventory] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _writer: GroupCommit | None = field(default=None, repr=False)

    def writer(self) -> GroupCommit:
        """The intake's group-commit writer (started on first use); a commit holding a queued request wakes a
        worker."""
        with self._lock:
            if self._writer is None:
                self._writer = GroupCommit(self.store, on_commit=self._committed)
            return self._writer

    def _committed(self, rows: list[dict]) -> None:
        if any(row["status"] == "queued" for row in rows):
            self.wake()

    def close(self) -> None:
        """Commit what the intake has submitted, then stop its writer."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def inventory(self) -> Inventory:
        """The inventory, re-read when its file changes (hosts added while the server runs are seen)."""
        try:
            mtime = self.config.inventory.stat().st_mtime  # one system call per alert
        except FileNotFoundError:
            mtime = 0.0
        with self._lock:
            if self._inventory is None or self._inventory[0] != mtime:
                self._inventory = (mtime, load_inventory(self.config.inventory))
            return self._inventory[1]


class Rejected(Exception):
    """The alert as a whole is refused (4xx): status, reason; recorded as a rejected request."""

    def __init__(self, status: int, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.request_id = request_id


@dataclass
class Intake:
    """What an alert payload becomes before it is stored: the request rows, the reply, the metrics to count, and
    the refusal (4xx) when nothing in it can run. Nothing of it counts until the rows are committed."""
    rows: list[dict] = field(default_factory=list)
    reply: list[dict] = field(default_factory=list)
    counted: list[tuple[str, str]] = field(default_factory=list)  # (payload kind, outcome) per request
    refused: Rejected | None = None

    def add(self, kind: str, reply: dict, **row: Any) -> None:
        stored = request_row(source="api", **row)
        self.rows.append(stored)
        self.reply.append(reply | {"request_id": stored["id"], "status": stored["status"]})
        self.counted.append((kind, stored["status"]))


def read_alert(ctx: ServerContext, raw: bytes, identity: str, *, dry_run: bool = False) -> Intake:
    """Parse, map and validate every request of an alert payload (no store write: see submit_alert)."""
    intake = Intake()
    try:
        parsed = parse(raw, ctx.catalog)
    except AlertError as exc:
        intake.add("invalid", {}, code=None, runbook=None, hosts=[], mode="apply", requester=identity,
                   status="rejected", result={"error": exc.message})
        intake.refused = Rejected(400, exc.message, intake.rows[0]["id"])
        return intake
    inv = ctx.inventory()
    parsed = map_hosts(resolve_codes(parsed, ctx.catalog, os.environ), inv)
    for item in parsed:
        base = {"source": item.source, "alert_id": item.alert_id, "code": item.code, "host": item.host}
        hosts = [item.host] if item.host else []
        if item.status == "resolved":
            intake.add(item.source, base, code=item.code, runbook=None, hosts=hosts, mode="ack", requester=identity,
                       status="resolved", alert_id=item.alert_id, payload_kind=item.source,
                       result={"message": "alert resolved: acknowledged, nothing run"})
            continue
        problem, status = item.problem, int(item.exit_status or ExitStatus.USAGE)
        runbook = None
        if not problem:
            match = ctx.catalog.lookup(item.code)
            runbook = match.runbook
            host = inv.hosts[item.host]
            if not runbook.applies_to(host.platform):
                problem = f"runbook {runbook.id} is for {runbook.platform.value} hosts; {host.name} is {host.platform}"
        if problem:
            intake.add(item.source, base | {"reason": problem}, code=item.code, runbook=None, hosts=hosts,
                       mode="apply", requester=identity, status="rejected", alert_id=item.alert_id,
                       payload_kind=item.source, result={"error": problem, "exit_code": status})
            continue
        params = {"kind": "alert", "code": item.code, "host": item.host, "dry_run": dry_run,
                  "dedup_key": item.dedup_key(), "lang": "en"}
        intake.add(item.source, base, code=item.code, runbook=runbook.id if runbook else None, hosts=[item.host],
                   mode="dry-run" if dry_run else "apply", requester=identity, status="queued",
                   alert_id=item.alert_id, payload_kind=item.source, params=params)
    if intake.reply and all(r["status"] == "rejected" for r in intake.reply):
        intake.refused = Rejected(422, "; ".join(r["reason"] for r in intake.reply), intake.reply[0]["request_id"])
    return intake


async def submit_alert(ctx: ServerContext, raw: bytes, identity: str, *, dry_run: bool = False) -> dict:
    """Parse, map, validate and queue every request of an alert payload. Every request (queued, resolved or
    rejected) is committed to the store before this returns, in one transaction with the other alerts arriving
    meanwhile (ctx.writer(), group commit). Raises Rejected when nothing in the payload can run, StoreWriteFailed
    when the store did not take them."""
    intake = read_alert(ctx, raw, identity, dry_run=dry_run)
    await ctx.writer().write(intake.rows)
    for kind, outcome in intake.counted:
        ctx.metrics.alert(kind, outcome)
    if intake.refused is not None:
        raise intake.refused
    return {"requests": intake.reply, "count": len(intake.reply)}


def approve_plan(ctx: ServerContext, plan_id: str, identity: str) -> dict:
    """Claim the plan for `identity` now (every check answers at once) and queue its run; returns the request."""
    approval = approvals.prepare(ctx.store, ctx.catalog, plan_id, approver=identity, policy=ctx.config.policy,
                                 source="api")
    params = {"kind": "approve", "plan_id": plan_id, "approver": identity, "lang": "en"}
    rid = ctx.store.create_request(source="api", code=approval.plan.get("code"), runbook=approval.plan["runbook"],
                                   hosts=approval.plan["hosts"], mode="apply", requester=identity, status="queued",
                                   params=params)
    ctx.wake()
    return {"request_id": rid, "plan_id": plan_id, "status": "queued", "approver": identity}


def reject_plan(ctx: ServerContext, plan_id: str, identity: str, reason: str | None) -> dict:
    row = approvals.reject(ctx.store, plan_id, by=identity, reason=reason)
    return {"plan_id": plan_id, "status": row["status"], "rejected_by": row["decided_by"]}


def request_view(ctx: ServerContext, rid: str) -> dict | None:
    if not isinstance(rid, str) or not approvals.PLAN_ID_RE.fullmatch(rid):
        raise UsageError(f"invalid request id {str(rid)[:60]!r}")
    row = ctx.store.get_request(rid)
    if row is None:
        return None
    row.pop("params", None)
    return row

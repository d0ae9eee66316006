"""What the HTTP API and the approvals page do, in one place: accept alerts (persisted before the reply), approve
or reject plans, read requests and plans. Pure functions of a ServerContext; no HTTP here."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from .. import approvals
from ..alerts import AlertError, map_hosts, parse, resolve_codes
from ..catalog import Catalog
from ..errors import ExitStatus, UsageError
from ..inventory import Inventory, load_inventory
from ..store import Store
from .config import ServerConfig
from .metrics import Metrics


@dataclass
class ServerContext:
    config: ServerConfig
    store: Store
    catalog: Catalog
    metrics: Metrics
    _inventory: tuple[float, Inventory] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inventory(self) -> Inventory:
        """The inventory, re-read when its file changes (hosts added while the server runs are seen)."""
        path = self.config.inventory
        mtime = path.stat().st_mtime if path.exists() else 0.0
        with self._lock:
            if self._inventory is None or self._inventory[0] != mtime:
                self._inventory = (mtime, load_inventory(path))
            return self._inventory[1]


class Rejected(Exception):
    """The alert as a whole is refused (4xx): status, reason; recorded as a rejected request."""

    def __init__(self, status: int, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.request_id = request_id


def submit_alert(ctx: ServerContext, raw: bytes, identity: str, *, dry_run: bool = False) -> dict:
    """Parse, map, validate and queue every request of an alert payload. Every request (queued, resolved or
    rejected) is in the store before this returns. Raises Rejected when nothing in the payload can run."""
    try:
        parsed = parse(raw, ctx.catalog)
    except AlertError as exc:
        rid = ctx.store.create_request(source="api", code=None, runbook=None, hosts=[], mode="apply",
                                       requester=identity, status="rejected", result={"error": exc.message})
        ctx.metrics.alert("invalid", "rejected")
        raise Rejected(400, exc.message, rid) from exc
    inv = ctx.inventory()
    parsed = map_hosts(resolve_codes(parsed, ctx.catalog, os.environ), inv)
    rows = []
    for item in parsed:
        base = {"source": item.source, "alert_id": item.alert_id, "code": item.code, "host": item.host}
        if item.status == "resolved":
            rid = ctx.store.create_request(source="api", code=item.code, runbook=None,
                                           hosts=[item.host] if item.host else [], mode="ack", requester=identity,
                                           status="resolved", alert_id=item.alert_id, payload_kind=item.source,
                                           result={"message": "alert resolved: acknowledged, nothing run"})
            rows.append(base | {"request_id": rid, "status": "resolved"})
            ctx.metrics.alert(item.source, "resolved")
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
            rid = ctx.store.create_request(source="api", code=item.code, runbook=None,
                                           hosts=[item.host] if item.host else [], mode="apply",
                                           requester=identity, status="rejected", alert_id=item.alert_id,
                                           payload_kind=item.source, result={"error": problem, "exit_code": status})
            rows.append(base | {"request_id": rid, "status": "rejected", "reason": problem})
            ctx.metrics.alert(item.source, "rejected")
            continue
        params = {"kind": "alert", "code": item.code, "host": item.host, "dry_run": dry_run,
                  "dedup_key": item.dedup_key(), "lang": "en"}
        rid = ctx.store.create_request(source="api", code=item.code, runbook=runbook.id if runbook else None,
                                       hosts=[item.host], mode="dry-run" if dry_run else "apply",
                                       requester=identity, status="queued", alert_id=item.alert_id,
                                       payload_kind=item.source, params=params)
        rows.append(base | {"request_id": rid, "status": "queued"})
        ctx.metrics.alert(item.source, "queued")
    if rows and all(r["status"] == "rejected" for r in rows):
        raise Rejected(422, "; ".join(r["reason"] for r in rows), rows[0]["request_id"])
    return {"requests": rows, "count": len(rows)}


def approve_plan(ctx: ServerContext, plan_id: str, identity: str) -> dict:
    """Claim the plan for `identity` now (every check answers at once) and queue its run; returns the request."""
    approval = approvals.prepare(ctx.store, ctx.catalog, plan_id, approver=identity, policy=ctx.config.policy,
                                 source="api")
    params = {"kind": "approve", "plan_id": plan_id, "approver": identity, "lang": "en"}
    rid = ctx.store.create_request(source="api", code=approval.plan.get("code"), runbook=approval.plan["runbook"],
                                   hosts=approval.plan["hosts"], mode="apply", requester=identity, status="queued",
                                   params=params)
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

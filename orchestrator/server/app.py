"""The HTTP API of `remediate serve` (FastAPI). OpenAPI at /openapi.json, docs at /docs; the approvals page at
/ui (ui.py); POST /alerts, the alert intake, in intake.py.

Every endpoint but /healthz and /metrics needs credentials (bearer token or HMAC signature, see auth.py and
caller.py); a failure is 401 and changes nothing. Alerts are persisted before the 202 reply and run by the worker
pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError

from .. import approvals
from ..approvals import PlanNotFound, PlanNotPending, plan_summary
from ..catalog import load_catalog
from ..errors import ApprovalRefused, PolicySkip, RemediateError
from ..group_commit import StoreWriteFailed
from ..store import Store
from ..version import version
from . import intake, service, ui
from .caller import Caller
from .config import ServerConfig
from .metrics import CONTENT_TYPE, Metrics
from .worker import WorkerPool, recover

log = logging.getLogger("remediate.serve")
STORE_RETRY_AFTER = 10  # seconds: the Retry-After of a 503 when the store is unavailable


class Decision(BaseModel):
    reason: Annotated[str | None, Field(max_length=1000)] = None


def create_app(config: ServerConfig, *, start_workers: bool = True) -> FastAPI:
    store = Store.open(config.state)
    ctx = service.ServerContext(config=config, store=store, catalog=load_catalog(),
                                metrics=Metrics(store.count_by_status))
    pool = WorkerPool(ctx, config.workers)
    ctx.wake = pool.wake

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recovered = recover(ctx)
        if recovered:
            log.warning("%d request(s) interrupted by the previous stop", len(recovered))
        try:
            ctx.inventory()  # read now, not by the first alert (on the event loop)
        except Exception as exc:  # noqa: BLE001 - each alert reports it until it is fixed; the server starts
            log.warning("inventory: %s", getattr(exc, "message", exc))
        ctx.writer()
        if start_workers:
            pool.start()
        yield
        ctx.close()  # alerts already submitted are committed (their senders get their 202)
        pool.stop()

    app = FastAPI(title="azure-backup-remediate", version=version(), lifespan=lifespan,
                  description="Alert webhook receiver, approvals and audit API of remediate.")
    app.state.ctx = ctx
    app.state.pool = pool
    intake.install(app, ctx)  # POST /alerts, first: the most frequent call is matched first
    ui.install(app)  # the approvals page

    @app.exception_handler(RemediateError)
    async def _remediate_error(request: Request, exc: RemediateError) -> JSONResponse:
        status = (404 if isinstance(exc, PlanNotFound) else 403 if isinstance(exc, PolicySkip)
                  else 409 if isinstance(exc, (ApprovalRefused, PlanNotPending)) else 400)
        return JSONResponse({"error": exc.message}, status_code=status)

    @app.exception_handler(OperationalError)
    @app.exception_handler(StoreWriteFailed)
    async def _store_unavailable(request: Request, exc: OperationalError | StoreWriteFailed) -> JSONResponse:
        """The store cannot be read or written (locked, disk full, database down): 503 with Retry-After, so the
        sender retries (Alertmanager retries any 5xx; Azure Monitor action groups retry 503, not 500). A batch of
        the group-commit writer that failed fails its alerts this way (none of them was stored)."""
        log.error("store unavailable: %s", str(exc.orig)[:300])
        return JSONResponse({"error": "the store is unavailable; retry later"},
                            status_code=503, headers={"Retry-After": str(STORE_RETRY_AFTER)})

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        counts = store.count_by_status()
        return {"status": "ok", "version": version(), "workers": pool.size, "busy": pool.busy,
                "queued": counts.get("queued", 0), "running": counts.get("running", 0)}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/requests/{request_id}")
    def get_request(request_id: str, caller: Caller) -> Any:
        row = service.request_view(ctx, request_id)
        if row is None:
            raise HTTPException(404, f"unknown request {request_id}")
        return row

    @app.get("/requests")
    def list_requests(caller: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
        return {"requests": store.history(limit=limit)}

    @app.get("/plans")
    def list_plans(caller: Caller, status: str = "pending", limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
        if status not in ("pending", "approved", "applied", "rejected", "refused", "expired", "all"):
            raise HTTPException(400, f"invalid status {status[:40]!r}")
        rows = store.list_plans(None if status == "all" else status, limit=limit)
        return {"plans": [plan_summary(r) for r in rows], "count": len(rows)}

    @app.get("/plans/{plan_id}")
    def get_plan(plan_id: str, caller: Caller, format: str = "json") -> Any:  # noqa: A002 - query name
        row = approvals.load_plan(store, plan_id)
        if format == "md":
            return PlainTextResponse(approvals.change_record(row, ctx.catalog), media_type="text/markdown")
        return plan_summary(row) | {"plan": row["plan"]}

    @app.post("/plans/{plan_id}/approve", status_code=202)
    def approve(plan_id: str, caller: Caller) -> Any:
        """Approve as the caller: the checks answer at once (404 unknown, 409 not pending / expired / changed,
        403 two-person rule); the run is queued and re-diagnoses the host before applying exactly the plan."""
        return service.approve_plan(ctx, plan_id, caller)

    @app.post("/plans/{plan_id}/reject")
    def reject(plan_id: str, request: Request, caller: Caller) -> Any:
        reason = None
        if request.state.body:
            try:
                reason = Decision.model_validate_json(request.state.body).reason
            except ValueError as exc:
                raise HTTPException(400, "expected {\"reason\": \"...\"}") from exc
        return service.reject_plan(ctx, plan_id, caller, reason)

    return app

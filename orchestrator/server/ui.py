"""The approvals page of `remediate serve` (`/ui`): pending plans with what they would change, approve / reject,
recent runs and decisions, refreshed by a small script that polls `/ui/fragment`.

Sign-in takes one of the API's bearer tokens; the token's name is the identity shown and recorded as approver
(sessions.py). Approving and rejecting call the same service functions as the API (service.py), so the page
refuses exactly what the API refuses and shows its message. Every page is rendered by Jinja2 with autoescape
(plan text is data, never markup), served with a strict Content-Security-Policy; scripts and styles are static
files of this package (no inline code, no external assets).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..approvals import plan_summary
from ..errors import RemediateError
from . import service
from .auth import bearer_identity
from .caller import read_body
from .sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Session,
    Sessions,
    clear_cookie,
    request_session,
    same_origin,
    set_cookie,
    tokens_match,
)

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
REFRESH_SECONDS = 5
MAX_FORM_BYTES = 16_384
MAX_REASON_CHARS = 1000
RECENT_RUNS = 30
RECENT_DECISIONS = 10
SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def _utc(value: Any) -> str:
    if not isinstance(value, datetime):
        return "-" if value in (None, "") else str(value)
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters["utc"] = _utc

router = APIRouter(include_in_schema=False)


class SecurityHeaders:
    """ASGI middleware: the page's headers (CSP, nosniff, no framing, no caching) on `/` and every `/ui` path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path == "/ui" or path.startswith("/ui/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name != "cache-control" or not path.startswith("/ui/static/"):  # assets may be cached
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Add the page to the API app: its routes, static files, sessions and headers."""
    app.state.sessions = Sessions()
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_middleware(SecurityHeaders)


# -- views of the store ------------------------------------------------------------------------------------------
def plan_view(row: dict, moment: datetime) -> dict:
    """A pending plan as the page shows it: the API's summary (its change lines) plus titles and diagnoses."""
    summary = plan_summary(row)
    lines = {(s["host"], s["step"]): s["changes"] for s in summary["steps"]}
    body = row.get("plan") or {}
    hosts = []
    for host, data in (body.get("hosts") or {}).items():
        diagnosis = (data.get("diagnosis") or {}).get("summary") or ""
        steps = [{"step": s["step"], "id": s["id"], "title": s.get("title") or s["id"], "risk": s["risk"],
                  "description": s.get("changes") or "", "lines": lines.get((host, s["step"]), []),
                  "idempotent": s.get("idempotent", True)} for s in data.get("steps", [])]
        hosts.append({"name": host, "diagnosis": diagnosis, "steps": steps})
    return summary | {"title": body.get("title") or row["runbook"], "source": body.get("source") or "-",
                      "alert_id": body.get("alert_id"), "detail": hosts, "expired": row["expires_at"] <= moment}


def run_message(row: dict) -> str:
    """One line saying how a request ended (or why it was refused)."""
    result = row.get("result") or {}
    if not isinstance(result, dict):
        return str(result)
    if result.get("error"):
        return str(result["error"])
    per_host = [f"{host}: {value['message']}" for host, value in (result.get("hosts") or {}).items()
                if isinstance(value, dict) and value.get("message")]
    return "; ".join(per_host) or str(result.get("message") or "")


def run_view(row: dict) -> dict:
    return {"id": row["id"], "created_at": row["created_at"], "source": row.get("payload_kind") or row["source"],
            "requester": row.get("requester"), "code": row.get("code"), "hosts": row.get("hosts") or [],
            "mode": row["mode"], "status": row["status"], "message": run_message(row), "plan_id": row.get("plan_id")}


def page_state(ctx: service.ServerContext) -> dict:
    moment = datetime.now(UTC)
    store = ctx.store
    plans = [plan_view(r, moment) for r in store.list_plans("pending", limit=100)]
    decided = sorted((r for r in store.list_plans(None, limit=RECENT_DECISIONS * 5) if r["status"] != "pending"),
                     key=lambda r: r.get("decided_at") or r["created_at"], reverse=True)[:RECENT_DECISIONS]
    decided = [plan_summary(r) for r in decided]
    runs = [run_view(r) for r in store.history(limit=RECENT_RUNS)]
    return {"plans": plans, "decided": decided, "runs": runs, "now": moment}


# -- responses ---------------------------------------------------------------------------------------------------
def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status)


def refuse(status: int, message: str) -> HTMLResponse:
    return render("refused.html", status, code=status, message=message)


def login_page(request: Request, *, error: str | None = None, status: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render("login.html", status, nonce=nonce, error=error)
    set_cookie(response, request, LOGIN_COOKIE, nonce, path="/ui/login")
    return response


def to_page() -> RedirectResponse:
    return RedirectResponse("/ui", status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form of at most MAX_FORM_BYTES (first value of each field)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "expected an HTML form (application/x-www-form-urlencoded)")
    body = await read_body(request, MAX_FORM_BYTES)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "invalid form") from exc
    return {key: values[0] for key, values in fields.items()}


async def guarded(request: Request) -> tuple[Session, str, dict[str, str]] | Response:
    """The session, its id and the form of a state-changing post; or the refusal (401 no session, 403 another
    site or a wrong CSRF token). A refused post changes nothing."""
    session_id, session = request_session(request)
    if session is None or session_id is None:
        return refuse(401, "Not signed in (or the session expired): sign in again. Nothing was changed.")
    form = await read_form(request)
    if not same_origin(request):
        return refuse(403, "This form was sent from another site: refused. Nothing was changed.")
    if not tokens_match(session.csrf, form.get("csrf")):
        return refuse(403, "The form's CSRF token is missing or wrong: reload the page. Nothing was changed.")
    return session, session_id, form


# -- routes ------------------------------------------------------------------------------------------------------
@router.get("/")
def root() -> RedirectResponse:
    return to_page()


@router.get("/ui")
def page(request: Request) -> Response:
    session = request_session(request)[1]
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    flash, session.flash = session.flash, []
    return render("approvals.html", identity=session.identity, csrf=session.csrf, flash=flash,
                  refresh=REFRESH_SECONDS, **page_state(request.app.state.ctx))


@router.get("/ui/fragment")
def fragment(request: Request) -> Response:
    """What the page's script polls: each pending plan's card, the runs and decisions tables."""
    session = request_session(request)[1]
    if session is None:
        return JSONResponse({"error": "not signed in"}, status_code=401)
    state = page_state(request.app.state.ctx)
    card = _env.get_template("plan_card.html")
    return JSONResponse({
        "plans": [{"id": p["id"], "html": card.render(plan=p, csrf=session.csrf)} for p in state["plans"]],
        "runs": _env.get_template("runs.html").render(runs=state["runs"]),
        "decided": _env.get_template("decided.html").render(decided=state["decided"]),
        "now": _utc(state["now"]),
    })


@router.get("/ui/login")
def login_form(request: Request) -> Response:
    if request_session(request)[1] is not None:
        return to_page()
    return login_page(request)


@router.post("/ui/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    if not same_origin(request):
        return refuse(403, "This form was sent from another site: refused.")
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not nonce or not tokens_match(nonce, form.get("nonce")):
        return login_page(request, error="The sign-in form expired: try again.", status=403)
    ctx: service.ServerContext = request.app.state.ctx
    identity = bearer_identity(ctx.config, (form.get("token") or "").strip())
    if identity is None:
        ctx.metrics.auth_failures.inc()
        return login_page(request, error="Invalid token.", status=401)
    sessions: Sessions = request.app.state.sessions
    sessions.drop(request.cookies.get(SESSION_COOKIE))  # never keep a session id chosen before the login
    session_id, _ = sessions.create(identity)
    response = to_page()
    set_cookie(response, request, SESSION_COOKIE, session_id)
    clear_cookie(response, request, LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    checked = await guarded(request)
    if isinstance(checked, Response):
        return checked
    request.app.state.sessions.drop(checked[1])
    response = RedirectResponse("/ui/login", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.post("/ui/plans/{plan_id}/approve")
async def approve(plan_id: str, request: Request) -> Response:
    checked = await guarded(request)
    if isinstance(checked, Response):
        return checked
    session = checked[0]
    try:
        queued = await run_in_threadpool(service.approve_plan, request.app.state.ctx, plan_id, session.identity)
    except RemediateError as exc:
        session.flash.append({"kind": "error", "text": exc.message, "plan_id": plan_id[:60], "request_id": ""})
    else:
        session.flash.append({"kind": "ok", "plan_id": plan_id, "request_id": queued["request_id"],
                              "text": f"Plan {plan_id} approved by {session.identity}: its run is queued as "
                                      f"request {queued['request_id']} (it re-diagnoses the host first)."})
    return to_page()


@router.post("/ui/plans/{plan_id}/reject")
async def reject(plan_id: str, request: Request) -> Response:
    checked = await guarded(request)
    if isinstance(checked, Response):
        return checked
    session, _, form = checked
    reason = (form.get("reason") or "").strip() or None
    try:
        if reason and len(reason) > MAX_REASON_CHARS:
            raise RemediateError(f"the reason is longer than {MAX_REASON_CHARS} characters; nothing changed")
        done = await run_in_threadpool(service.reject_plan, request.app.state.ctx, plan_id, session.identity,
                                       reason)
    except RemediateError as exc:
        session.flash.append({"kind": "error", "text": exc.message, "plan_id": plan_id[:60], "request_id": ""})
    else:
        session.flash.append({"kind": "ok", "plan_id": plan_id, "request_id": "",
                              "text": f"Plan {plan_id} rejected by {done['rejected_by']}."})
    return to_page()

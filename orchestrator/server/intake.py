"""`POST /alerts`, the alert intake of `remediate serve`.

The endpoint is an ordinary FastAPI endpoint (`post_alert`: OpenAPI documents it from its signature and
responses), but its route does not run FastAPI's per-request machinery (dependency solving, parameter validation,
response handling: about 40 % of the app's CPU per alert, BENCHMARKS.md section 3). `AlertIntake`, the route's
ASGI app, resolves the endpoint's two parameters the way FastAPI would and calls it:
- `caller`: the same `identity` dependency as every other endpoint (caller.py: body within the limit, 400/413,
  bearer or HMAC, 401 counted in remediate_auth_failures_total);
- `dry_run`: `query_flag`, FastAPI's reading of a `bool` query parameter (the last value; pydantic's booleans:
  true/false, 1/0, yes/no, on/off, t/f, y/n in any case), an invalid one a 422 with FastAPI's body, after the
  credentials were checked, as FastAPI orders them.
Errors propagate as exceptions to the app's handlers, as from any endpoint (HTTPException, RequestValidationError,
RemediateError, StoreWriteFailed and OperationalError -> 503 with Retry-After).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from . import service
from .caller import Caller, identity

_BOOL = TypeAdapter(bool)  # what FastAPI validates a `bool` query parameter with
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))  # JSONResponse's, built once


class Queued(BaseModel):
    requests: list[dict[str, Any]]
    count: int


class Reply(JSONResponse):
    """A JSONResponse (the same bytes) encoded by one encoder built once, not one per reply."""

    def render(self, content: Any) -> bytes:
        return _JSON.encode(content).encode("utf-8")


def query_flag(query_string: bytes, name: str) -> bool:
    """The boolean query parameter `name` as FastAPI reads `name: bool = False`: absent is False; present, its last
    value validated by pydantic; invalid, RequestValidationError (422 {"detail": [...]}, loc ["query", name])."""
    if not query_string:
        return False
    value = QueryParams(query_string).get(name)
    if value is None:
        return False
    try:
        return _BOOL.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", name)} for e in exc.errors(include_url=False)]) from None


class AlertIntake:
    """The ASGI app of the POST /alerts route: the endpoint's parameters resolved without FastAPI's solver."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        caller = await identity(request)
        response = await self.endpoint(request, caller, query_flag(scope["query_string"], "dry_run"))
        await response(scope, receive, send)


def install(app: FastAPI, ctx: service.ServerContext) -> None:
    """Add POST /alerts to the app (call it before other routes: it is matched first)."""

    async def post_alert(request: Request, caller: Caller, dry_run: bool = False) -> Any:
        """An alert payload (Azure Monitor common schema, Log Analytics, Alertmanager, plain); the kind is
        detected. Every request it holds is stored before this returns (committed with the alerts arriving at
        the same time: one commit for many; parsing is CPU on the event loop, the write is not)."""
        try:
            # a Response: not validated again against Queued (the model documents it)
            return Reply(await service.submit_alert(ctx, request.state.body, caller, dry_run=dry_run),
                         status_code=202)
        except service.Rejected as exc:
            return Reply({"error": exc.reason, "request_id": exc.request_id}, status_code=exc.status)

    app.add_api_route("/alerts", post_alert, methods=["POST"], status_code=202, response_model=Queued,
                      responses={400: {"description": "invalid payload"}, 401: {"description": "unauthenticated"},
                                 413: {"description": "payload too large"},
                                 422: {"description": "nothing can run"}})
    route = app.router.routes[-1]
    assert isinstance(route, APIRoute) and route.endpoint is post_alert
    route.app = AlertIntake(post_alert)

"""Who calls a protected endpoint of `remediate serve`: its body, read once within the size limit, and its identity
(bearer token or HMAC signature, see auth.py; for a read, the approvals page's session cookie).

One function does it for every endpoint: `authenticate_request`, called by the FastAPI dependency `identity`
(`Caller`, the API's endpoints) and by the alert intake's own route (intake.py). A failure is an HTTPException:
400 invalid Content-Length, 413 body over the limit, 401 with `WWW-Authenticate: Bearer` (counted in
remediate_auth_failures_total); nothing else happens.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from .auth import AuthFailed, authenticate
from .service import ServerContext
from .sessions import session_identity


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes (413) whether or not Content-Length is sent."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPException(413, f"payload larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"payload larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def authenticate_request(request: Request) -> tuple[str, bytes]:
    """(the caller's identity, the body). A POST's body is read within the limit first (a GET's is b""), then the
    credentials are checked against it. A read (GET) without credentials may use the approvals page's session
    cookie (e.g. its change record links); a POST never does: the API's state changes need a token or a signature
    (no cookie, no CSRF)."""
    ctx: ServerContext = request.app.state.ctx
    body = await read_body(request, ctx.config.max_body) if request.method == "POST" else b""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if request.method in ("GET", "HEAD") and "authorization" not in headers and "x-remediate-signature" not in headers:
        who = session_identity(request)
        if who:
            return who, body
    try:
        if "x-remediate-signature" not in headers:  # a bearer token: constant-time compares, no I/O
            return authenticate(ctx.config, ctx.store, headers, body), body
        # a signature is claimed in the store (replays): a write, off the event loop
        return await run_in_threadpool(authenticate, ctx.config, ctx.store, headers, body), body
    except AuthFailed as exc:
        ctx.metrics.auth_failures.inc()
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


async def identity(request: Request) -> str:
    """The caller's identity (dependency of every protected API endpoint); the body is kept in request.state.body."""
    who, request.state.body = await authenticate_request(request)
    return who


Caller = Annotated[str, Depends(identity)]

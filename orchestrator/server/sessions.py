"""Browser sessions of the approvals page, and the checks every state-changing form passes.

A session is created by logging in with one of the API's bearer tokens (identity = the token's name). Its id is
random (256 bits), kept server-side in memory (a restart signs everyone out), sent as the cookie
`remediate_session` (HttpOnly, SameSite=Strict, Path=/, Secure over https). Sessions end on logout, after
`IDLE` without a request, or `ABSOLUTE` after the login.

Every state-changing form carries the session's CSRF token (compared in constant time), and its Origin (or else
Referer) header, when present, must be this server. The login form, which has no session yet, carries a random
nonce that must equal the `remediate_login` cookie set with the form (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "remediate_session"
LOGIN_COOKIE = "remediate_login"
IDLE_SECONDS = 8 * 3600
ABSOLUTE_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Session:
    identity: str
    csrf: str
    created: float
    seen: float
    flash: list[dict] = field(default_factory=list)  # messages shown once on the next page


def _key(session_id: str) -> str:
    """Sessions are filed by a digest of their id: the lookup never compares the secret itself."""
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class Sessions:
    def __init__(self, idle: float = IDLE_SECONDS, absolute: float = ABSOLUTE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        self._by_key: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, identity: str) -> tuple[str, Session]:
        """A new session for `identity`: (the cookie value, the session)."""
        session_id = secrets.token_urlsafe(32)
        moment = self.clock()
        session = Session(identity=identity, csrf=secrets.token_urlsafe(32), created=moment, seen=moment)
        with self._lock:
            self._expire(moment)
            if len(self._by_key) >= MAX_SESSIONS:  # bounded: the least recently used session goes
                oldest = min(self._by_key, key=lambda k: self._by_key[k].seen)
                del self._by_key[oldest]
            self._by_key[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 200:
            return None
        moment = self.clock()
        with self._lock:
            session = self._by_key.get(_key(session_id))
            if session is None:
                return None
            if moment - session.seen > self.idle or moment - session.created > self.absolute:
                del self._by_key[_key(session_id)]
                return None
            session.seen = moment
            return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._by_key.pop(_key(session_id), None)

    def __len__(self) -> int:
        return len(self._by_key)

    def _expire(self, moment: float) -> None:
        for key in [k for k, s in self._by_key.items()
                    if moment - s.seen > self.idle or moment - s.created > self.absolute]:
            del self._by_key[key]


def request_session(request: Request) -> tuple[str | None, Session | None]:
    """(cookie value, live session) of a request; (None, None) without a valid session."""
    sessions: Sessions | None = getattr(request.app.state, "sessions", None)
    session_id = request.cookies.get(SESSION_COOKIE)
    if sessions is None or not session_id:
        return None, None
    session = sessions.get(session_id)
    return (session_id, session) if session else (None, None)


def session_identity(request: Request) -> str | None:
    """The identity of the request's browser session (the API accepts it for reads only, see app.identity)."""
    session = request_session(request)[1]
    return session.identity if session else None


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two tokens (any text; never raises on non-ASCII input)."""
    return given is not None and hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = (parts.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_origin(request: Request) -> bool:
    """False when the Origin header (or, without it, the Referer) names another site than this server; true
    when it names this server or neither header is sent (then the CSRF token alone decides)."""
    server = _origin(str(request.base_url))
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            return server is not None and _origin(value) == server
    return True


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, path: str = "/") -> None:
    response.set_cookie(name, value, path=path, httponly=True, samesite="strict", secure=is_https(request))


def clear_cookie(response: Response, request: Request, name: str, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="strict", secure=is_https(request))

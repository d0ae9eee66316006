"""Who is calling: a bearer token (Alertmanager's `authorization` credentials) or an HMAC-SHA256 signature.

Signature: header `X-Remediate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, optional
`X-Remediate-Key: <key id>` (required when several secrets exist). The timestamp must be within the replay window
and a signature is accepted once (claimed in the store, so also across server processes). Every comparison is
constant-time. A failure never says which part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping

from ..store import Store
from .config import ServerConfig, token_digest

_SIG = re.compile(r"^t=(?P<t>\d{1,12}),v1=(?P<v1>[0-9a-fA-F]{64})$")


class AuthFailed(Exception):
    """401: missing, unknown or badly signed credentials."""


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for `body` (what a client sends)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def bearer_identity(config: ServerConfig, token: str) -> str | None:
    digest = token_digest(token)
    found = None
    for known, identity in config.tokens.items():  # no early exit: the time does not depend on the match
        if hmac.compare_digest(known, digest):
            found = identity
    return found


def authenticate(config: ServerConfig, store: Store, headers: Mapping[str, str], body: bytes) -> str:
    """The caller's identity, or AuthFailed."""
    auth = headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        identity = bearer_identity(config, auth[7:].strip())
        if identity:
            return identity
        raise AuthFailed("invalid credentials")
    signature = headers.get("x-remediate-signature")
    if signature and config.hmac_secrets:
        match = _SIG.match(signature.strip())
        if not match:
            raise AuthFailed("invalid credentials")
        key_id = headers.get("x-remediate-key")
        if key_id is None and len(config.hmac_secrets) == 1:
            key_id = next(iter(config.hmac_secrets))
        secret = config.hmac_secrets.get(key_id or "")
        if secret is None:
            raise AuthFailed("invalid credentials")
        t = int(match["t"])
        if abs(time.time() - t) > config.replay_window:
            raise AuthFailed("invalid credentials")
        expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["v1"].lower()):
            raise AuthFailed("invalid credentials")
        if store.claim_dedup(f"sig:{expected}", "hmac-signature", config.replay_window * 2) is not None:
            raise AuthFailed("invalid credentials")  # replayed
        return str(key_id)
    raise AuthFailed("missing credentials")

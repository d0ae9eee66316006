"""What `remediate serve` needs: state, inventory, policy, credentials, limits.

Credentials live in an auth file (`--auth-file`, `$REMEDIATE_AUTH_FILE`, else `$REMEDIATE_HOME/serve-auth.yml`),
which must not be readable by group or others (like an SSH key):

```yaml
tokens:                 # bearer tokens: identity -> token, or "sha256:<hex of the token>"
  alertmanager: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  alice: correct-horse-battery-staple
hmac:                   # HMAC-SHA256 signing secrets: key id -> secret (header X-Remediate-Key picks one)
  logicapp: another-long-random-secret
```
The identity of the credential used is the requester of an alert and the approver of a plan (so the two-person
rule can tell people apart). No credential, no service: `serve` refuses to start without at least one.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UsageError
from ..policy import Policy

MAX_BODY_BYTES = 1_048_576
REPLAY_WINDOW_SECONDS = 300
IDENTITY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")


@dataclass
class ServerConfig:
    state: Path
    inventory: Path
    policy: Policy
    tokens: dict[str, str] = field(default_factory=dict)  # sha256 hex of a token -> identity
    hmac_secrets: dict[str, bytes] = field(default_factory=dict)  # key id -> secret
    workers: int = 2
    max_body: int = MAX_BODY_BYTES
    replay_window: int = REPLAY_WINDOW_SECONDS
    on_interrupted: str = "report"  # report | retry (re-queue requests a dead worker left running)
    poll_interval: float = 1.0  # seconds: the workers' look for requests queued by other processes (ours wake them)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_auth(path: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """(token digests -> identity, hmac key id -> secret) from the auth file; errors name the field."""
    try:
        info = path.stat()
    except OSError as exc:
        raise UsageError(f"cannot read the auth file {path}: {exc.strerror}; serve needs credentials "
                         "(see `remediate serve --help`)") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"the auth file {path} is readable by group or others; chmod 600 it")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"invalid auth file {path}: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"tokens", "hmac"}:
        raise UsageError(f"invalid auth file {path}: expected the keys tokens and/or hmac")
    tokens: dict[str, str] = {}
    for name, value in (data.get("tokens") or {}).items():
        _identity(path, "tokens", name)
        if not isinstance(value, str) or not value:
            raise UsageError(f"invalid auth file {path}: field tokens.{name}: expected a token string")
        if value.startswith("sha256:"):
            digest = value[7:].lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise UsageError(f"invalid auth file {path}: field tokens.{name}: sha256: needs 64 hex digits")
        else:
            if len(value) < 16:
                raise UsageError(f"invalid auth file {path}: field tokens.{name}: use at least 16 characters")
            digest = token_digest(value)
        tokens[digest] = str(name)
    secrets: dict[str, bytes] = {}
    for name, value in (data.get("hmac") or {}).items():
        _identity(path, "hmac", name)
        if not isinstance(value, str) or len(value) < 16:
            raise UsageError(f"invalid auth file {path}: field hmac.{name}: use a secret of at least 16 characters")
        secrets[str(name)] = value.encode("utf-8")
    if not tokens and not secrets:
        raise UsageError(f"invalid auth file {path}: no token and no hmac secret: serve would accept nobody")
    return tokens, secrets


def _identity(path: Path, section: str, name: object) -> None:
    if not isinstance(name, str) or not name or len(name) > 100 or set(name) - IDENTITY_CHARS:
        raise UsageError(f"invalid auth file {path}: field {section}: {str(name)[:40]!r} is not a valid identity "
                         "(letters, digits, . _ @ -)")


def auth_path(given: Path | None, env: dict[str, str], state: Path) -> Path:
    if given:
        return given
    if env.get("REMEDIATE_AUTH_FILE"):
        return Path(env["REMEDIATE_AUTH_FILE"])
    return state / "serve-auth.yml"


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))

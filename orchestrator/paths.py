"""Where things live: the project (runbooks, playbooks) and the per-user state directory."""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The directory holding runbooks/, playbooks/ and ansible.cfg (override: REMEDIATE_PROJECT_DIR)."""
    env = os.environ.get("REMEDIATE_PROJECT_DIR")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def state_dir(env: dict[str, str] | None = None) -> Path:
    """$REMEDIATE_HOME, else $XDG_STATE_HOME/remediate, else ~/.local/state/remediate. Created 0700."""
    env = os.environ if env is None else env
    if env.get("REMEDIATE_HOME"):
        path = Path(env["REMEDIATE_HOME"])
    else:
        base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        path = Path(base) / "remediate"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path

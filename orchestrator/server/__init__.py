"""`remediate serve`: the webhook receiver, approvals and audit API (FastAPI + uvicorn).

`create_app(config)` builds the app (tests use it directly); `run(config, host, port)` serves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import ServerConfig

__all__ = ["ServerConfig", "create_app", "run"]


def __getattr__(name: str) -> Any:
    """`create_app` and `ServerConfig` are imported when asked for: a run process (`python -m
    orchestrator.server.child`) imports this package first, and must lower its priority before any heavy import
    (child.py); it never imports the HTTP app at all (FastAPI, Starlette: about 0.35 s of CPU per run)."""
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServerConfig":
        from .config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


GIL_SWITCH_SECONDS = 0.0005


def run(config: ServerConfig, host: str, port: int) -> None:
    import sys

    import uvicorn

    from .app import create_app

    # The event loop and the group-commit writer hand the GIL to each other at every system call; with Python's
    # default 5 ms switch interval a commit waits up to 5 ms per call for the loop to let go (measured in bench 3:
    # commit p50 4.5 ms -> 2.2 ms). Each holder's Python bursts are short, so a shorter interval costs little.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)

    # loop and http "auto": uvloop and httptools (pinned dependencies), else asyncio and h11
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False,
                server_header=False, date_header=True)

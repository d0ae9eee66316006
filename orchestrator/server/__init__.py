"""`remediate serve`: the webhook receiver, approvals and audit API (FastAPI + uvicorn).

`create_app(config)` builds the app (tests use it directly); `run(config, host, port)` serves it.
"""

from __future__ import annotations

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app", "run"]


def run(config: ServerConfig, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False,
                server_header=False, date_header=True)

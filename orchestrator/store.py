"""The audit store: requests, plans, step results, artifacts, host locks.

SQLAlchemy Core, so the same schema runs on SQLite (WAL, the default, in the state directory) and on PostgreSQL
(REMEDIATE_DB_URL=postgresql+psycopg://...). Nothing secret is ever written here: task results arrive already
censored by Ansible's no_log, and we store names, statuses and diffs, never host variables.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from .errors import HostLockedError

metadata = MetaData()

requests = Table(
    "requests", metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("source", String(16), nullable=False),  # cli | alert | api
    Column("code", String(100)),
    Column("runbook", String(100)),
    Column("hosts", JSON, nullable=False),
    Column("mode", String(16), nullable=False),  # dry-run | apply
    Column("status", String(32), nullable=False),  # running | fixed | no-change | failed | manual | ...
    Column("exit_code", Integer),
    Column("requester", String(200)),
    Column("plan_id", String(36)),
    Column("result", JSON),
)

step_results = Table(
    "step_results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("host", String(255), nullable=False, index=True),
    Column("phase", String(16), nullable=False),  # diagnose | plan | apply | verify
    Column("step_id", String(64)),
    Column("playbook", String(255)),
    Column("risk", String(16)),
    Column("check_mode", Boolean, nullable=False),
    Column("status", String(32), nullable=False),
    Column("changed", Boolean, nullable=False),
    Column("failed", Boolean, nullable=False),
    Column("tasks", JSON, nullable=False),
    Column("artifacts", String(1024)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration", Float, nullable=False),
)

plans = Table(
    "plans", metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("runbook", String(100), nullable=False),
    Column("code", String(100)),
    Column("hosts", JSON, nullable=False),
    Column("plan_hash", String(64), nullable=False),
    Column("plan", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | applied | expired | refused
    Column("approved_by", String(200)),
    Column("approved_at", DateTime(timezone=True)),
)

host_locks = Table(
    "host_locks", metadata,
    Column("host", String(255), primary_key=True),
    Column("request_id", String(36), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("owner_node", String(255), nullable=False),
    Column("owner_pid", Integer, nullable=False),
)


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=10000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        metadata.create_all(self.engine)

    @classmethod
    def open(cls, state: Path) -> Store:
        url = os.environ.get("REMEDIATE_DB_URL") or f"sqlite:///{state / 'remediate.db'}"
        return cls(url)

    # requests -------------------------------------------------------------------------------------------
    def create_request(self, *, source: str, code: str | None, runbook: str | None, hosts: list[str],
                       mode: str, requester: str | None) -> str:
        rid = new_id()
        with self.engine.begin() as c:
            c.execute(insert(requests).values(
                id=rid, created_at=now(), source=source, code=code, runbook=runbook, hosts=hosts, mode=mode,
                status="running", requester=requester))
        return rid

    def finish_request(self, rid: str, *, status: str, exit_code: int, result: dict,
                       plan_id: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(update(requests).where(requests.c.id == rid).values(
                status=status, exit_code=exit_code, finished_at=now(), result=json.loads(json.dumps(result)),
                plan_id=plan_id))

    def record_step(self, rid: str, *, host: str, phase: str, step_id: str | None, playbook: str | None,
                    risk: str | None, check_mode: bool, status: str, changed: bool, failed: bool,
                    tasks: list[dict], artifacts: str | None, started_at: datetime, duration: float) -> None:
        with self.engine.begin() as c:
            c.execute(insert(step_results).values(
                request_id=rid, host=host, phase=phase, step_id=step_id, playbook=playbook, risk=risk,
                check_mode=check_mode, status=status, changed=changed, failed=failed,
                tasks=json.loads(json.dumps(tasks)), artifacts=artifacts, started_at=started_at,
                duration=duration))

    def history(self, host: str | None = None, limit: int = 50) -> list[dict]:
        q = select(requests).order_by(requests.c.created_at.desc()).limit(limit * 4 if host else limit)
        out = []
        with self.engine.connect() as c:
            rows = [dict(r._mapping) for r in c.execute(q)]
            for row in rows:
                if host and host not in (row["hosts"] or []):
                    continue
                steps = c.execute(select(step_results).where(step_results.c.request_id == row["id"])
                                  .order_by(step_results.c.id))
                row["steps"] = [
                    {k: v for k, v in dict(s._mapping).items() if k not in ("request_id", "tasks")}
                    | {"tasks": len(s.tasks)} for s in steps]
                out.append(row)
                if len(out) >= limit:
                    break
        return out

    # plans --------------------------------------------------------------------------------------------
    def save_plan(self, *, request_id: str, runbook: str, code: str | None, hosts: list[str], plan_hash: str,
                  plan: dict, expires_at: datetime) -> str:
        pid = new_id()
        with self.engine.begin() as c:
            c.execute(insert(plans).values(
                id=pid, request_id=request_id, created_at=now(), expires_at=expires_at, runbook=runbook,
                code=code, hosts=hosts, plan_hash=plan_hash, plan=json.loads(json.dumps(plan)),
                status="pending"))
        return pid

    def get_plan(self, plan_id: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(select(plans).where(plans.c.id == plan_id)).first()
            return dict(row._mapping) if row else None

    def set_plan_status(self, plan_id: str, status: str, approved_by: str | None = None) -> None:
        values: dict[str, object] = {"status": status}
        if approved_by:
            values |= {"approved_by": approved_by, "approved_at": now()}
        with self.engine.begin() as c:
            c.execute(update(plans).where(plans.c.id == plan_id).values(**values))

    # host locks ---------------------------------------------------------------------------------------
    def acquire_locks(self, hosts: list[str], request_id: str) -> None:
        """All or nothing: a host already held by a live run raises HostLockedError naming the holder."""
        node = socket.gethostname()
        taken: list[str] = []
        try:
            for host in hosts:
                self._acquire_one(host, request_id, node)
                taken.append(host)
        except HostLockedError:
            self.release_locks(taken, request_id)
            raise

    def _acquire_one(self, host: str, request_id: str, node: str) -> None:
        for _ in range(2):
            try:
                with self.engine.begin() as c:
                    c.execute(insert(host_locks).values(host=host, request_id=request_id, acquired_at=now(),
                                                        owner_node=node, owner_pid=os.getpid()))
                return
            except IntegrityError:
                with self.engine.begin() as c:
                    row = c.execute(select(host_locks).where(host_locks.c.host == host)).first()
                    if row is None:
                        continue
                    if row.owner_node == node and not _pid_alive(row.owner_pid):
                        # the holder died without releasing: a stale lock on this machine is taken over
                        c.execute(host_locks.delete().where(host_locks.c.host == host)
                                  .where(host_locks.c.request_id == row.request_id))
                        continue
                    raise HostLockedError(
                        f"host {host} is locked by request {row.request_id} (since "
                        f"{row.acquired_at:%Y-%m-%d %H:%M:%S}); skipped", holder=row.request_id, host=host) from None
        raise HostLockedError(f"host {host} could not be locked; skipped", host=host)

    def release_locks(self, hosts: list[str], request_id: str) -> None:
        with self.engine.begin() as c:
            for host in hosts:
                c.execute(host_locks.delete().where(host_locks.c.host == host)
                          .where(host_locks.c.request_id == request_id))

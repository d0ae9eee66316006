"""The audit store: requests, plans, step results, artifacts, host locks.

SQLAlchemy Core, so the same schema runs on SQLite (WAL, the default, in the state directory) and on PostgreSQL
(REMEDIATE_DB_URL=postgresql+psycopg://...). Nothing secret is ever written here: task results arrive already
censored by Ansible's no_log, and we store names, statuses and diffs, never host variables.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
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
    Column("alert_id", String(256)),  # the alert's id / fingerprint when the request came from an alert
    Column("payload_kind", String(32)),  # azure-monitor | log-analytics | alertmanager | plain
    Column("dedup_key", String(300), index=True),
    Column("params", JSON),  # a queued request: what the worker needs to run it (code, host, mode, approver, ...)
    Column("worker", String(300)),  # node:pid of the process running it (restart recovery)
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
    Column("status", String(16), nullable=False),  # pending | applied | rejected | expired | refused | superseded
    Column("approved_by", String(200)),
    Column("approved_at", DateTime(timezone=True)),
    Column("requester", String(200)),
    Column("inventory", String(1024)),
    Column("max_risk", String(16)),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", String(1000)),
    Column("applied_request_id", String(36)),
)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("host", String(255)),
    Column("rule", String(64), nullable=False),  # dedup | cooldown | error-budget | window | two-person | lock ...
    Column("outcome", String(16), nullable=False),  # run | wait | skip | refuse
    Column("reason", String(1000), nullable=False),
)

dedup_keys = Table(
    "dedup_keys", metadata,
    Column("key", String(300), primary_key=True),
    Column("request_id", String(36), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
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


def _aware(row: dict) -> dict:
    """SQLite returns naive datetimes; every time in the store is UTC."""
    for key, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
    return row


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` of this node still runs. A zombie does not: a killed worker whose parent died too is
    reparented to PID 1, and an init that does not reap (as in many containers) leaves it a zombie forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (or it just exited): kill(0) said it exists
    return stat.rpartition(")")[2].split()[:1] != ["Z"]  # state follows the parenthesised command name


def request_row(*, source: str, code: str | None, runbook: str | None, hosts: list[str], mode: str,
                requester: str | None, status: str = "running", alert_id: str | None = None,
                payload_kind: str | None = None, result: dict | None = None, rid: str | None = None,
                params: dict | None = None) -> dict:
    """The values of one new request (Store.create_request writes one, Store.insert_requests a batch)."""
    at = now()
    return {"id": rid or new_id(), "created_at": at, "source": source, "code": code, "runbook": runbook,
            "hosts": hosts, "mode": mode, "status": status, "requester": requester, "alert_id": alert_id,
            "payload_kind": payload_kind,
            "result": json.loads(json.dumps(result)) if result is not None else None,
            "params": json.loads(json.dumps(params)) if params is not None else None,
            "worker": _worker_id() if status == "running" else None,
            "finished_at": at if status not in ("running", "queued") else None,
            "exit_code": None, "plan_id": None, "dedup_key": None}


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        # One writer at a time per process, waiting on a lock that wakes it at once (SQLite's busy handler sleeps
        # up to 100 ms between tries, the tail of the intake's latency). Other processes still meet on SQLite's
        # lock and busy_timeout. PostgreSQL locks rows, not the database: no lock there.
        self._write_lock: threading.RLock | nullcontext = nullcontext()
        if url.startswith("sqlite"):
            self._write_lock = threading.RLock()

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk (WAL synced) before it returns
                cur.execute("PRAGMA busy_timeout=10000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Stores written by an older version gain the new (nullable) columns; nothing is ever dropped."""
        inspector = inspect(self.engine)
        with self._begin() as c:
            for table in metadata.sorted_tables:
                present = {col["name"] for col in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in present and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        c.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction (committed on exit, rolled back on an exception), one per process at a time."""
        with self._write_lock, self.engine.begin() as c:
            yield c

    @classmethod
    def open(cls, state: Path) -> Store:
        url = os.environ.get("REMEDIATE_DB_URL")
        if not url:
            state.mkdir(parents=True, exist_ok=True, mode=0o700)
            url = f"sqlite:///{state / 'remediate.db'}"
        return cls(url)

    # requests -------------------------------------------------------------------------------------------
    def create_request(self, *, source: str, code: str | None, runbook: str | None, hosts: list[str],
                       mode: str, requester: str | None, status: str = "running", alert_id: str | None = None,
                       payload_kind: str | None = None, result: dict | None = None, rid: str | None = None,
                       params: dict | None = None) -> str:
        row = request_row(source=source, code=code, runbook=runbook, hosts=hosts, mode=mode, requester=requester,
                          status=status, alert_id=alert_id, payload_kind=payload_kind, result=result, rid=rid,
                          params=params)
        self.insert_requests([row])
        return row["id"]

    def insert_requests(self, rows: list[dict]) -> None:
        """Insert request rows (built by `request_row`) in one transaction: all of them or none (the group-commit
        writer's batch, see group_commit.py)."""
        if rows:
            with self._begin() as c:
                c.execute(insert(requests), rows)

    def claim_queued(self, limit: int = 1) -> list[dict]:
        """Take up to `limit` queued requests, oldest first, each claimed atomically (queued -> running) so no
        two workers, threads or processes ever run the same request."""
        claimed: list[dict] = []
        with self.engine.connect() as c:
            ids = [r.id for r in c.execute(select(requests.c.id).where(requests.c.status == "queued")
                                           .order_by(requests.c.created_at).limit(limit * 4))]
        for rid in ids:
            with self._begin() as c:
                got = c.execute(update(requests).where(requests.c.id == rid).where(requests.c.status == "queued")
                                .values(status="running", worker=_worker_id())).rowcount
            if got == 1:
                row = self.get_request(rid)
                if row is not None:
                    claimed.append(row)
                if len(claimed) >= limit:
                    break
        return claimed

    def start_request(self, rid: str, *, runbook: str | None, hosts: list[str]) -> None:
        with self._begin() as c:
            c.execute(update(requests).where(requests.c.id == rid).values(
                status="running", runbook=runbook, hosts=hosts, worker=_worker_id()))

    def recover_interrupted(self) -> list[dict]:
        """Requests left `running` by a process of this node that is gone: mark them `interrupted` and return
        them (the server reports or re-queues them per policy). Live owners are left alone."""
        node = socket.gethostname()
        out = []
        for row in self.requests_with_status("running"):
            worker = row.get("worker") or ""
            owner_node, _, pid = worker.rpartition(":")
            if owner_node != node or not pid.isdigit() or _pid_alive(int(pid)):
                continue
            with self._begin() as c:
                done = c.execute(update(requests).where(requests.c.id == row["id"])
                                 .where(requests.c.status == "running")
                                 .values(status="interrupted", finished_at=now(),
                                         result={"message": f"interrupted: worker {worker} died"})).rowcount
            if done:
                out.append(row)
        return out

    def count_by_status(self) -> dict[str, int]:
        with self.engine.connect() as c:
            return {str(s): int(n) for s, n in c.execute(select(requests.c.status, func.count())
                                                         .group_by(requests.c.status))}

    def get_request(self, rid: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(select(requests).where(requests.c.id == rid)).first()
            if row is None:
                return None
            out = dict(row._mapping)
            out["decisions"] = [dict(d._mapping) for d in c.execute(
                select(decisions).where(decisions.c.request_id == rid).order_by(decisions.c.id))]
            return out

    def set_request_status(self, rid: str, status: str, *, only_if: str | None = None) -> bool:
        """Move a request to `status` (optionally only from `only_if`); True when a row changed."""
        q = update(requests).where(requests.c.id == rid)
        if only_if is not None:
            q = q.where(requests.c.status == only_if)
        with self._begin() as c:
            return c.execute(q.values(status=status)).rowcount == 1

    def requests_with_status(self, status: str, limit: int = 1000) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(requests).where(requests.c.status == status)
                             .order_by(requests.c.created_at).limit(limit))
            return [dict(r._mapping) for r in rows]

    # policy records -------------------------------------------------------------------------------------
    def record_decision(self, rid: str, *, rule: str, outcome: str, reason: str, host: str | None = None) -> None:
        with self._begin() as c:
            c.execute(insert(decisions).values(request_id=rid, created_at=now(), host=host, rule=rule,
                                               outcome=outcome, reason=reason[:1000]))

    def claim_dedup(self, key: str, rid: str, window_seconds: float) -> str | None:
        """Atomically claim `key`. Returns None when claimed, else the request that claimed it less than
        `window_seconds` ago (a duplicate). Safe across threads and processes (primary key + retry)."""
        from datetime import timedelta

        for _ in range(5):
            try:
                with self._begin() as c:
                    c.execute(insert(dedup_keys).values(key=key, request_id=rid, claimed_at=now()))
                return None
            except IntegrityError:
                with self._begin() as c:
                    row = c.execute(select(dedup_keys).where(dedup_keys.c.key == key)).first()
                    if row is None:
                        continue
                    claimed = row.claimed_at if row.claimed_at.tzinfo else row.claimed_at.replace(tzinfo=UTC)
                    if claimed > now() - timedelta(seconds=window_seconds):
                        return str(row.request_id)
                    c.execute(dedup_keys.delete().where(dedup_keys.c.key == key)
                              .where(dedup_keys.c.request_id == row.request_id))
        raise HostLockedError(f"dedup key {key} is contended; skipped")

    def release_dedup(self, rid: str) -> int:
        """Give back the dedup keys `rid` claimed (a request queued again must not be a duplicate of itself)."""
        with self._begin() as c:
            return c.execute(dedup_keys.delete().where(dedup_keys.c.request_id == rid)).rowcount

    def last_change(self, host: str) -> tuple[datetime, str] | None:
        """When a run last changed `host` (an apply step that reported changes), and which request."""
        with self.engine.connect() as c:
            row = c.execute(select(step_results.c.started_at, step_results.c.request_id)
                            .where(step_results.c.host == host).where(step_results.c.phase == "apply")
                            .where(step_results.c.changed.is_(True))
                            .order_by(step_results.c.started_at.desc()).limit(1)).first()
        if row is None:
            return None
        at = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
        return at, str(row.request_id)

    def count_failures(self, since: datetime) -> int:
        """Runs in apply mode that ended failed or unreachable since `since` (the fleet error budget)."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(requests)
                                 .where(requests.c.created_at >= since).where(requests.c.mode == "apply")
                                 .where(requests.c.status.in_(("failed", "unreachable")))).scalar_one())

    def finish_request(self, rid: str, *, status: str, exit_code: int, result: dict,
                       plan_id: str | None = None) -> None:
        with self._begin() as c:
            c.execute(update(requests).where(requests.c.id == rid).values(
                status=status, exit_code=exit_code, finished_at=now(), result=json.loads(json.dumps(result)),
                plan_id=plan_id))

    def record_step(self, rid: str, *, host: str, phase: str, step_id: str | None, playbook: str | None,
                    risk: str | None, check_mode: bool, status: str, changed: bool, failed: bool,
                    tasks: list[dict], artifacts: str | None, started_at: datetime, duration: float) -> None:
        with self._begin() as c:
            c.execute(insert(step_results).values(
                request_id=rid, host=host, phase=phase, step_id=step_id, playbook=playbook, risk=risk,
                check_mode=check_mode, status=status, changed=changed, failed=failed,
                tasks=json.loads(json.dumps(tasks)), artifacts=artifacts, started_at=started_at,
                duration=duration))

    def history(self, host: str | None = None, limit: int = 50) -> list[dict]:
        """The newest requests (of `host` when given) with their step results (without task lists) and decisions,
        in three queries whatever the limit."""
        q = select(requests).order_by(requests.c.created_at.desc())
        if host:  # the JSON text of the hosts list holds the quoted name (SQLite and PostgreSQL alike)
            q = q.where(cast(requests.c.hosts, String).like(f'%{json.dumps(host)}%'))
        with self.engine.connect() as c:
            rows = [dict(r._mapping) for r in c.execute(q.limit(limit * 4 if host else limit))]
            rows = [r for r in rows if not host or host in (r["hosts"] or [])][:limit]
            ids = [r["id"] for r in rows]
            steps: dict[str, list[dict]] = {i: [] for i in ids}
            found: dict[str, list[dict]] = {i: [] for i in ids}
            if ids:
                for s in c.execute(select(step_results).where(step_results.c.request_id.in_(ids))
                                   .order_by(step_results.c.id)):
                    steps[s.request_id].append(
                        {k: v for k, v in dict(s._mapping).items() if k not in ("request_id", "tasks")}
                        | {"tasks": len(s.tasks)})
                for d in c.execute(select(decisions).where(decisions.c.request_id.in_(ids))
                                   .order_by(decisions.c.id)):
                    found[d.request_id].append(
                        {k: v for k, v in dict(d._mapping).items() if k not in ("request_id", "id")})
        for row in rows:
            row["steps"], row["decisions"] = steps[row["id"]], found[row["id"]]
        return rows

    # plans --------------------------------------------------------------------------------------------
    def save_plan(self, *, request_id: str, runbook: str, code: str | None, hosts: list[str], plan_hash: str,
                  plan: dict, expires_at: datetime, requester: str | None = None, inventory: str | None = None,
                  max_risk: str | None = None) -> str:
        pid = new_id()
        with self._begin() as c:
            c.execute(insert(plans).values(
                id=pid, request_id=request_id, created_at=now(), expires_at=expires_at, runbook=runbook,
                code=code, hosts=hosts, plan_hash=plan_hash, plan=json.loads(json.dumps(plan)),
                status="pending", requester=requester, inventory=inventory, max_risk=max_risk))
        return pid

    def get_plan(self, plan_id: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(select(plans).where(plans.c.id == plan_id)).first()
            return _aware(dict(row._mapping)) if row else None

    def list_plans(self, status: str | None = "pending", limit: int = 200) -> list[dict]:
        q = select(plans).order_by(plans.c.created_at.desc()).limit(limit)
        if status:
            q = q.where(plans.c.status == status)
        with self.engine.connect() as c:
            return [_aware(dict(r._mapping)) for r in c.execute(q)]

    def decide_plan(self, plan_id: str, status: str, *, by: str | None = None, reason: str | None = None,
                    only_if: str = "pending", applied_request_id: str | None = None) -> bool:
        """Move a plan from `only_if` to `status`, recording who and why. False if it was not in `only_if`
        (another approver or worker got there first)."""
        values: dict[str, object] = {"status": status, "decided_by": by, "decided_at": now(),
                                     "decision_reason": (reason or "")[:1000] or None}
        if status == "applied":
            values |= {"approved_by": by, "approved_at": now(), "applied_request_id": applied_request_id}
        with self._begin() as c:
            res = c.execute(update(plans).where(plans.c.id == plan_id).where(plans.c.status == only_if)
                            .values(**values))
            return res.rowcount == 1

    def set_plan_status(self, plan_id: str, status: str, approved_by: str | None = None) -> None:
        values: dict[str, object] = {"status": status}
        if approved_by:
            values |= {"approved_by": approved_by, "approved_at": now()}
        with self._begin() as c:
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
                with self._begin() as c:
                    c.execute(insert(host_locks).values(host=host, request_id=request_id, acquired_at=now(),
                                                        owner_node=node, owner_pid=os.getpid()))
                return
            except IntegrityError:
                with self._begin() as c:
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
        with self._begin() as c:
            for host in hosts:
                c.execute(host_locks.delete().where(host_locks.c.host == host)
                          .where(host_locks.c.request_id == request_id))

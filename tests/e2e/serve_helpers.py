"""Reading what `remediate serve` recorded, straight from its SQLite store (read-only), and posting to it: the
helpers of the serve end-to-end tests (Alertmanager, resilience, storm)."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from collections.abc import Callable

from .conftest import Remediate, Server


def db(r: Remediate) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{r.home / 'remediate.db'}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def _full(conn: sqlite3.Connection, row: sqlite3.Row) -> dict:
    out = dict(row)
    for key in ("hosts", "result", "params"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    out["decisions"] = [dict(d) for d in conn.execute(
        "SELECT rule, outcome, reason FROM decisions WHERE request_id = ? ORDER BY id", (out["id"],))]
    out["steps"] = [dict(s) for s in conn.execute(
        "SELECT phase, step_id, host, check_mode, status, started_at FROM step_results WHERE request_id = ? "
        "ORDER BY id", (out["id"],))]
    return out


def request(r: Remediate, rid: str) -> dict:
    """One request with its decisions and step results."""
    with db(r) as conn:
        return _full(conn, conn.execute("SELECT * FROM requests WHERE id = ?", (rid,)).fetchone())


def requests_for(r: Remediate, *, alert_id: str) -> list[dict]:
    """Every request recorded for one alert (Alertmanager fingerprint, Azure alert id), oldest first."""
    with db(r) as conn:
        rows = conn.execute("SELECT * FROM requests WHERE alert_id = ? ORDER BY created_at", (alert_id,)).fetchall()
        return [_full(conn, row) for row in rows]


def settled(r: Remediate, done: Callable[[list[dict]], bool], *, alert_id: str, timeout: float = 240) -> list[dict]:
    """The requests of an alert once `done(requests)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = requests_for(r, alert_id=alert_id)
        if done(rows):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"alert {alert_id}: not settled within {timeout}s: {[x['status'] for x in rows]}")


def wait(r: Remediate, rid: str, until: Callable[[dict], bool], what: str, timeout: float = 240) -> dict:
    """Request `rid` once `until(request)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = request(r, rid)
        if until(row):
            return row
        time.sleep(0.2)
    raise AssertionError(f"request {rid}: not {what} within {timeout}s: {row['status']} {row['steps']}")


def finished(row: dict) -> bool:
    return row["status"] not in ("queued", "running")


def post_alert(server: Server, body: bytes, who: str = "alertmanager") -> tuple[int, dict]:
    """POST /alerts over real HTTP; (status, JSON reply)."""
    req = urllib.request.Request(f"{server.url}/alerts", data=body, method="POST",
                                 headers=server.headers(who) | {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as res:  # noqa: S310 - loopback
        return res.status, json.loads(res.read())


def get(server: Server, path: str, who: str = "alice") -> dict:
    req = urllib.request.Request(f"{server.url}{path}", headers=server.headers(who))
    with urllib.request.urlopen(req, timeout=30) as res:  # noqa: S310 - loopback
        return json.loads(res.read())

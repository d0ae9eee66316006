"""`remediate serve` killed with SIGKILL while a request runs, then started again: the request is never lost (it is
in the store), is reported interrupted or finished, and never runs twice at once; a request still queued at the
kill runs after the restart.

Real `remediate serve` processes, real WinRM lab hosts. vm1, vm3 and vm4 answer win_service (the restart step)
after a delay (lab fault `delay_seconds`), so the apply is reliably in progress when the test kills. The policy
runs medium-risk steps automatically, so an alert goes diagnose -> apply -> verify with no approval.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, Remediate, Server, stop_lab
from .serve_helpers import db, finished, get, post_alert, request, wait

pytestmark = pytest.mark.lab

CODE = "ExtensionFailedVssWriterInBadState"
DELAY = 5  # seconds per win_service call: the step restarts two services, so its apply lasts at least 10 s


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    vm = yaml.safe_load((ROOT / "lab" / "scenarios" / "vss-default.yml").read_text())["hosts"]["vm1"]
    slow = vm | {"faults": {"delay_seconds": DELAY, "modules": ["win_service"]}}
    scenario = tmp_path_factory.mktemp("scenario") / "resilience.yml"
    scenario.write_text(yaml.safe_dump({"hosts": {"vm1": slow, "vm2": vm, "vm3": slow, "vm4": slow}}))
    r = Remediate(tmp_path_factory.mktemp("home"))
    up = r("lab", "up", "--scenario", str(scenario), "--json", timeout=120)
    assert up.rc == 0, up.stderr
    policy = r.home / "policy.yml"
    policy.write_text("auto_risks: [low, medium]\n")
    r.policy = policy
    yield r
    stop_lab(r)


def applying(row: dict) -> bool:
    """Diagnosed (the apply step, slowed by the fault, is starting), still running."""
    return row["status"] == "running" and [s["phase"] for s in row["steps"]] == ["diagnose"]


def post(server: Server, host: str) -> str:
    status, reply = post_alert(server, json.dumps({"code": CODE, "host": host}).encode())
    assert status == 202
    return reply["requests"][0]["request_id"]


def restarts(r: Remediate, host: str) -> list[str]:
    return r("lab", "status", "--json").json["hosts"][host]["service_restarts"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").is_dir() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(server: Server) -> None:
    """SIGKILL serve and every process it started (what systemd does to the unit's control group)."""
    assert server.proc is not None
    tree = [server.proc.pid, *descendants(server.proc.pid)]
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.proc.wait(timeout=10)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_sigkill_of_serve_lets_the_run_finish_once_and_runs_the_queued_request_after_restart(lab):
    server = Server(lab, policy=lab.policy, workers=1).start()
    try:
        running = post(server, "vm1")
        queued = post(server, "vm2")  # one worker: waits behind vm1
        row = wait(lab, running, applying, "applying")
        time.sleep(1)  # the apply's ansible-playbook is under way, waiting on the slow win_service
        assert request(lab, queued)["status"] == "queued"
        server.stop(signal.SIGKILL)  # serve alone: its run's process lives on and owns the request
        owner = int(row["worker"].rpartition(":")[2])
        assert owner != server.proc.pid and alive(owner)

        # While the orphaned run holds vm1, nothing else runs on it: the host lock names the running request.
        cli = lab("--code", CODE, "--host", "vm1", "--yes", "--json")
        assert cli.rc == 7, cli.stdout + cli.stderr
        assert cli.json["status"] == "skipped"
        lock = request(lab, cli.json["request_id"])
        assert [d["rule"] for d in lock["decisions"]] == ["lock"] and running in lock["decisions"][0]["reason"]
        assert lock["steps"] == []

        restarted_at = datetime.now(UTC)
        server.start()
        done = wait(lab, running, finished, "finished")
        assert done["status"] == "fixed", done
        assert [(s["phase"], s["step_id"]) for s in done["steps"]] == [
            ("diagnose", "diagnose"), ("apply", "restart-failing-writers"), ("verify", "verify")]
        assert all(d["rule"] != "restart" for d in done["decisions"])  # the new server left its live owner alone
        assert sorted(restarts(lab, "vm1")) == ["SQLWriter", "Winmgmt"]  # each service restarted once: ran once

        after = wait(lab, queued, finished, "finished")
        assert after["status"] == "fixed", after
        assert after["steps"] and all(utc(s["started_at"]) > restarted_at for s in after["steps"])
        assert sorted(restarts(lab, "vm2")) == ["SQLWriter", "Winmgmt"]
        with db(lab) as conn:
            appliers = conn.execute("SELECT DISTINCT request_id FROM step_results WHERE host = 'vm1' AND "
                                    "phase = 'apply'").fetchall()
        assert [a[0] for a in appliers] == [running]
    finally:
        server.stop()


def test_sigkill_of_serve_and_its_runs_reports_the_request_interrupted(lab):
    server = Server(lab, policy=lab.policy, workers=1).start()
    try:
        rid = post(server, "vm3")
        wait(lab, rid, applying, "applying")
        time.sleep(1)
        kill_tree(server)
        assert request(lab, rid)["status"] == "running"  # nobody left to say otherwise: the restart will
        server.start()
        row = wait(lab, rid, finished, "reported")
        assert row["status"] == "interrupted"
        [restart] = [d for d in row["decisions"] if d["rule"] == "restart"]
        assert restart["outcome"] == "refuse" and "reported as interrupted" in restart["reason"]
        time.sleep(2)  # ten poll intervals: an interrupted request is reported, never picked up again
        again = request(lab, rid)
        assert again["status"] == "interrupted" and again["steps"] == row["steps"]
        assert [s["phase"] for s in again["steps"]] == ["diagnose"]  # the killed apply recorded nothing
        api = get(server, f"/requests/{rid}")
        assert api["status"] == "interrupted" and api["id"] == rid
    finally:
        server.stop()
    # The dead run's host lock does not hold the host forever: the next run takes it over (a runbook with nothing
    # automated for Windows: it locks the host, then ends at its manual guidance, rc 4 and not 7).
    with db(lab) as conn:
        assert conn.execute("SELECT request_id FROM host_locks WHERE host = 'vm3'").fetchone()[0] == rid
    cli = lab("--code", "ExtensionFailedSnapshotLimitReachedError", "--host", "vm3", "--json")
    assert cli.rc == 4, cli.stdout + cli.stderr
    assert cli.json["status"] == "manual"


def test_with_on_interrupted_retry_the_request_runs_again_after_the_restart(lab):
    server = Server(lab, policy=lab.policy, workers=1, extra_args=("--on-interrupted", "retry"))
    server.start()
    try:
        rid = post(server, "vm4")
        wait(lab, rid, applying, "applying")
        time.sleep(1)
        kill_tree(server)
        restarted_at = datetime.now(UTC)
        server.start()
        row = wait(lab, rid, finished, "finished")
        assert row["status"] == "fixed", row
        [restart] = [d for d in row["decisions"] if d["rule"] == "restart"]
        assert restart["outcome"] == "run" and "queued again" in restart["reason"]
        phases = [s["phase"] for s in row["steps"]]
        assert phases == ["diagnose", "diagnose", "apply", "verify"]  # the killed attempt got no further
        assert all(utc(s["started_at"]) > restarted_at for s in row["steps"][1:])  # one attempt at a time
        # The killed attempt died before its second restart (each waits DELAY s); only the retry restarted Winmgmt.
        assert restarts(lab, "vm4").count("Winmgmt") == 1
    finally:
        server.stop()

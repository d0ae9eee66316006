"""`remediate --alert FILE|-`: once parsed it behaves like --code/--host; several requests, the worst exit wins."""

from __future__ import annotations

import json

from orchestrator.store import Store

from .conftest import cli


def alert(project, payload, *args: str) -> tuple[int, dict, str]:
    rc, out, err = cli(project, "--alert", "-", "-i", str(project["inv"]), "--json", *args,
                       answer=payload if isinstance(payload, str) else json.dumps(payload))
    return rc, json.loads(out), err


def am(status: str, labels: dict, fingerprint: str) -> dict:
    return {"status": status, "labels": labels, "annotations": {}, "startsAt": "2026-11-20T02:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": fingerprint}


def test_plain_alert_runs_like_code_and_host(project):
    rc, doc, err = alert(project, {"code": "TestLadderError", "host": "box"}, "--dry-run")
    assert rc == 0, err
    [row] = doc["requests"]
    assert (row["code"], row["host"], row["status"]) == ("TestLadderError", "box", "planned")
    assert row["result"]["plan_id"] and project["state"].read_text() == "broken\n"
    rc, doc, err = alert(project, {"code": "999001", "host": "box"}, "--yes")  # numeric alias, confirmed
    assert rc == 0 and doc["requests"][0]["status"] == "fixed", err
    assert project["state"].read_text() == "ok\n"


def test_alertmanager_group_resolved_runs_nothing_and_the_worst_exit_wins(project):
    group = {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "remediate",
             "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
             "truncatedAlerts": 0,
             "alerts": [am("firing", {"alertname": "BackupFailed", "code": "TestLadderError", "host": "box"}, "a1"),
                        am("resolved", {"alertname": "BackupFailed", "code": "TestLadderError", "host": "box"}, "a2"),
                        am("firing", {"alertname": "BackupFailed", "code": "TestLadderError", "host": "ghost"},
                           "a3")]}
    rc, doc, err = alert(project, group)
    assert [r["status"] for r in doc["requests"]] == ["approval-required", "resolved", "rejected"]
    assert rc == 2  # a usage problem (unmapped host) outranks approval-required (5)
    assert "not in the inventory" in doc["requests"][2]["message"]
    store = Store.open(project["home"])
    statuses = sorted(r["status"] for r in store.history(limit=10))
    assert statuses == ["approval-required", "rejected", "resolved"]  # every request recorded


def test_invalid_payloads_exit_2_and_are_recorded(project):
    for payload in ("{not json", json.dumps({"schemaId": "azureMonitorCommonAlertSchema", "data": 3})):
        rc, out, err = cli(project, "--alert", "-", "-i", str(project["inv"]), answer=payload)
        assert rc == 2 and "alert payload" in err
    rc, out, err = cli(project, "--alert", "/nonexistent.json", "-i", str(project["inv"]))
    assert rc == 2 and "cannot read alert payload" in err
    rows = Store.open(project["home"]).history(limit=10)
    assert [r["status"] for r in rows] == ["rejected", "rejected"]
    assert project["state"].read_text() == "broken\n"


def test_alert_and_code_cannot_be_combined(project):
    rc, _, err = cli(project, "--alert", "-", "--code", "TestLadderError", "-i", str(project["inv"]))
    assert rc == 2 and "cannot be combined" in err
    rc, _, err = cli(project, "--alert", "-", "--host", "box", "-i", str(project["inv"]))
    assert rc == 2 and "do not pass --host" in err
    rc, out, _ = cli(project, "--version")
    assert rc == 0 and out.startswith("remediate ")

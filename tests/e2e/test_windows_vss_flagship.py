"""The flagship: `remediate --code ExtensionFailedVssWriterInBadState --host vm1` against the simulated Windows
host, through the real command, real ansible-runner, real WinRM (pywinrm) on loopback.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from .conftest import start_lab, stop_lab

CODE = "ExtensionFailedVssWriterInBadState"


def vm1(r) -> dict:
    res = r("lab", "status", "--json")
    assert res.rc == 0, res.stderr
    return res.json["hosts"]["vm1"]


def failing(state: dict) -> list[str]:
    return sorted(w["name"] for w in state["vss_writers"] if w.get("state", 1) != 1)


@pytest.fixture(scope="module")
def default_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "vss-default.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def persistent_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "vss-persistent.yml")
    yield r
    stop_lab(r)


@pytest.fixture(scope="module")
def french_lab(tmp_path_factory):
    r = start_lab(tmp_path_factory, "vss-french.yml")
    yield r
    stop_lab(r)


def test_dry_run_shows_which_services_and_why_and_touches_nothing(default_lab):
    before = vm1(default_lab)
    assert failing(before) == ["SqlServerWriter", "WMI Writer"]
    res = default_lab("--code", CODE, "--host", "vm1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["status"] == "planned" and doc["plan_id"]
    step = doc["results"]["vm1"]["plan"][0]
    assert step["id"] == "restart-failing-writers" and step["risk"] == "medium"
    items = " ".join(str(t.get("item", "")) + " " + t["name"] for t in step["would_change"])
    assert "SQLWriter" in items and "Winmgmt" in items
    assert "SqlServerWriter" in items and "WMI Writer" in items  # why: the writers behind each service
    assert "CryptSvc" not in items and "BITS" not in items
    diag = doc["diagnosis"]["vm1"]
    assert diag["healthy"] is False
    after = vm1(default_lab)
    assert after["service_restarts"] == before["service_restarts"] == []
    assert after["vss_writers"] == before["vss_writers"]


def test_without_terminal_or_yes_approval_is_required(default_lab):
    res = default_lab("--code", CODE, "--host", "vm1", "--json")
    assert res.rc == 5, res.stderr
    assert res.json["status"] == "approval-required" and res.json["plan_id"]
    assert vm1(default_lab)["service_restarts"] == []


def test_apply_restarts_exactly_the_failing_writers_services(default_lab):
    res = default_lab("--code", CODE, "--host", "vm1", "--yes", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed"
    assert doc["verification"]["vm1"]["state"] == "healthy"
    state = vm1(default_lab)
    assert sorted(state["service_restarts"]) == ["SQLWriter", "Winmgmt"]
    assert failing(state) == []
    applied = [s for s in doc["steps"] if s["phase"] == "apply"]
    assert [s["id"] for s in applied] == ["restart-failing-writers"]


def test_rerun_reports_no_change(default_lab):
    res = default_lab("--code", CODE, "--host", "vm1", "--yes", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change"
    assert sorted(vm1(default_lab)["service_restarts"]) == ["SQLWriter", "Winmgmt"]


def test_lab_password_never_leaks(default_lab):
    inventory = (default_lab.lab_dir / "inventory.yml").read_text()
    import yaml

    hosts = yaml.safe_load(inventory)["all"]["children"]["windows"]["hosts"]
    password = hosts["vm1"]["ansible_password"]
    assert len(password) >= 12
    for args in (["history", "--json"], ["lab", "status", "--json"]):
        res = default_lab(*args)
        assert password not in res.stdout + res.stderr
    dump = "\n".join(sqlite3.connect(default_lab.home / "remediate.db").iterdump())
    assert password not in dump
    for path in (default_lab.home / "runs").rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path


def test_persistent_failure_escalates_to_step_2_then_manual(persistent_lab):
    res = persistent_lab("--code", CODE, "--host", "vm1", "--yes", "--json")
    assert res.rc == 4, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "manual"
    assert [s["id"] for s in doc["steps"] if s["phase"] == "apply"] == ["restart-failing-writers",
                                                                         "snapshot-without-threads"]
    assert doc["guidance"] and doc["guidance"][0]["id"] == "iops-guidance"
    state = persistent_lab("lab", "status", "--json").json["hosts"]["vm1"]
    assert failing(state)
    text = json.dumps(state["registry"])
    assert "SnapshotWithoutThreads" in text


def test_french_host_is_parsed_and_fixed(french_lab):
    res = french_lab("--code", CODE, "--host", "vm1", "--yes", "--json", "--lang", "fr")
    assert res.rc == 0, res.stderr + res.stdout
    assert res.json["status"] == "fixed"
    assert failing(vm1(french_lab)) == []

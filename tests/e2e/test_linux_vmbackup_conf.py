"""ExtensionFailedSnapshotLimitReachedError, Linux part, through the real `remediate` command over real SSH.

dry-run: check mode + diff, the lab host's file untouched; apply: the key set, every other key and comment kept;
rerun: no change. Then history, the host lock, and bad input.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lab import linux

from .linux_lab import lab_module

CODE = "ExtensionFailedSnapshotLimitReachedError"
CONF = "etc/azure/vmbackup.conf"


@pytest.fixture(scope="module")
def linux_lab(tmp_path_factory):
    """The ASR lab (linux-asr.yml), which must leave no loop device, mount or process behind."""
    yield from lab_module(tmp_path_factory, "linux-asr.yml")


def host_file(r, host: str) -> Path:
    return linux.host_root(r.lab_dir / "linux", host) / CONF


def test_dry_run_plans_and_changes_nothing(linux_lab):
    before = host_file(linux_lab, "lnx1").read_text()
    res = linux_lab("--code", CODE, "--host", "lnx1", "--dry-run", "--json")
    assert res.rc == 0, res.stderr
    doc = res.json
    assert doc["mode"] == "dry-run" and doc["status"] == "planned"
    assert doc["plan_id"]
    plan = doc["results"]["lnx1"]["plan"]
    assert plan[0]["id"] == "asr-isanysnapshotfailed" and plan[0]["risk"] == "low"
    diffs = [d for t in plan[0]["would_change"] for d in t.get("diff", [])]
    assert any("isanysnapshotfailed = false" in str(d.get("after", "")) for d in diffs), diffs
    assert all(s["check_mode"] for s in doc["steps"])
    assert host_file(linux_lab, "lnx1").read_text() == before


def test_apply_fixes_and_verifies_keeping_other_keys(linux_lab):
    res = linux_lab("--code", CODE, "--host", "lnx1", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    doc = res.json
    assert doc["status"] == "fixed" and doc["mode"] == "apply"
    assert doc["verification"]["lnx1"]["state"] == "healthy"
    text = host_file(linux_lab, "lnx1").read_text()
    assert "isanysnapshotfailed = false" in text
    assert "isanysnapshotfailed = True" not in text
    for kept in ("# Azure VM Backup (VMSnapshotLinux) settings", "fsfreeze = True", "MountsToSkip = /mnt/resource",
                 "timeout = 60", "[SnapshotThread]"):
        assert kept in text
    assert all(Path(a).is_dir() for a in doc["artifacts"])


def test_rerun_reports_no_change(linux_lab):
    before = host_file(linux_lab, "lnx1").read_text()
    res = linux_lab("--code", CODE, "--host", "lnx1", "--json")
    assert res.rc == 0, res.stderr
    assert res.json["status"] == "no-change"
    assert [s["phase"] for s in res.json["steps"]] == ["diagnose"]
    assert host_file(linux_lab, "lnx1").read_text() == before


def test_missing_file_is_created_from_the_template(linux_lab):
    assert not host_file(linux_lab, "lnx2").exists()
    res = linux_lab("--code", CODE, "--host", "lnx2", "--json")
    assert res.rc == 0, res.stderr + res.stdout
    text = host_file(linux_lab, "lnx2").read_text()
    assert "[SnapshotThread]" in text and "isanysnapshotfailed = false" in text and "fsfreeze = True" in text
    assert not Path("/etc/azure/vmbackup.conf").exists() or "lab" not in Path("/etc/azure/vmbackup.conf").read_text()


def test_without_site_recovery_nothing_changes_and_the_manual_steps_follow(linux_lab):
    before = host_file(linux_lab, "lnx3").read_text()
    res = linux_lab("--code", CODE, "--host", "lnx3", "--json")
    assert res.rc == 4, res.stderr
    doc = res.json
    assert doc["status"] == "manual"
    diag = doc["diagnosis"]["lnx3"]
    assert diag["site_recovery"] is False and [f["key"] for f in diag["findings"]] == ["asr"]
    apply = next(s for s in doc["steps"] if s["phase"] == "apply")
    assert not apply["changed"]
    assert host_file(linux_lab, "lnx3").read_text() == before  # isanysnapshotfailed = True stays
    assert doc["results"]["lnx3"]["guidance"][0]["id"] == "delete-unneeded-blob-snapshots"


def test_history_shows_the_runs(linux_lab):
    res = linux_lab("history", "--host", "lnx1", "--json")
    assert res.rc == 0, res.stderr
    rows = res.json["requests"]
    statuses = [(r["mode"], r["status"]) for r in reversed(rows)]
    assert statuses[:3] == [("dry-run", "planned"), ("apply", "fixed"), ("apply", "no-change")]
    assert all(r["code"] == CODE for r in rows)
    assert any(s["phase"] == "apply" and s["changed"] for s in rows[-2]["steps"])


def test_a_second_run_on_a_locked_host_exits_7(linux_lab):
    from orchestrator.store import Store

    store = Store.open(linux_lab.home)
    store.acquire_locks(["lnx1"], "11111111-2222-3333-4444-555555555555")  # held by this live process
    try:
        res = linux_lab("--code", CODE, "--host", "lnx1", "--json")
    finally:
        store.release_locks(["lnx1"], "11111111-2222-3333-4444-555555555555")
    assert res.rc == 7, res.stderr
    assert "11111111-2222-3333-4444-555555555555" in res.stderr  # the holder is named
    assert res.json["status"] == "skipped" and res.json["steps"] == []  # nothing ran
    [decision] = res.json["decisions"]
    assert decision["rule"] == "lock" and "11111111-2222-3333-4444-555555555555" in decision["reason"]


def test_host_not_in_inventory_is_refused_before_anything_runs(linux_lab):
    runs = linux_lab.home / "runs"
    before = sorted(runs.iterdir()) if runs.exists() else []
    res = linux_lab("--code", CODE, "--host", "db-prod-17")
    assert res.rc == 2
    assert "db-prod-17" in res.stderr and "not in the inventory" in res.stderr
    assert (sorted(runs.iterdir()) if runs.exists() else []) == before


@pytest.mark.parametrize("host", ["lnx1;reboot", "$(id)", "lnx1,,lnx2", "-x"])
def test_malformed_host_names_are_usage_errors(linux_lab, host):
    res = linux_lab("--code", CODE, "--host", host)
    assert res.rc == 2
    assert "Traceback" not in res.stderr


def test_unknown_code_exits_3_with_suggestions(linux_lab):
    res = linux_lab("--code", "ExtensionFailedSnapshotLimitReached", "--host", "lnx1")
    assert res.rc == 3
    assert CODE in res.stderr


def test_invalid_inventory_exits_2_naming_the_file(linux_lab, tmp_path):
    bad = tmp_path / "broken.yml"
    bad.write_text("all: [this is: not an inventory\n")
    res = linux_lab("--code", CODE, "--host", "lnx1", "--inventory", str(bad))
    assert res.rc == 2
    assert str(bad) in res.stderr
    missing = linux_lab("--code", CODE, "--host", "lnx1", "--inventory", str(tmp_path / "nope.yml"))
    assert missing.rc == 2 and "nope.yml" in missing.stderr


def test_unreachable_host_exits_6_naming_it(linux_lab, tmp_path):
    inv = tmp_path / "inv.yml"
    key = linux_lab.lab_dir / "linux"
    inv.write_text(
        "all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.0.1\n      ansible_port: 9\n"
        "      ansible_user: root\n      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o ConnectTimeout=5\n")
    res = linux_lab("--code", CODE, "--host", "ghost", "--inventory", str(inv), "--json")
    assert res.rc == 6, res.stderr
    assert "ghost" in res.stderr + res.stdout
    assert key.exists()


def test_no_secret_in_output_store_or_artifacts(linux_lab):
    keys = [p for p in (linux_lab.lab_dir / "linux").rglob("id_*") if not p.name.endswith(".pub")]
    assert keys, "lab private key not found"
    secret = keys[0].read_text().splitlines()[1]  # a line of the private key body
    db = sqlite3.connect(linux_lab.home / "remediate.db")
    dump = "\n".join(db.iterdump())
    assert secret not in dump
    for path in (linux_lab.home / "runs").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path

"""The ladder, driven through the real CLI and real ansible-playbook on a local connection.

A throwaway project holds one runbook: diagnose reads a state file (healthy when it says "ok"); step 1 (low) only
half-fixes it, step 2 (medium) fixes it unless told not to, step 3 is manual. This exercises escalation,
confirmation, approval-required, manual guidance and failures without any lab host.
"""

from __future__ import annotations

import io
import json

from orchestrator.cli import Environment, main

from .conftest import DIAG, remediate


def test_low_step_then_medium_needs_approval_without_terminal(project):
    rc, doc, err = remediate(project)
    assert rc == 5, err
    assert doc["status"] == "approval-required" and doc["plan_id"]
    assert project["state"].read_text() == "half\n"  # the low-risk step ran, the medium one did not
    phases = [(s["phase"], s["id"]) for s in doc["steps"]]
    assert phases == [("diagnose", "diagnose"), ("apply", "half-fix"), ("verify", "verify"),
                      ("plan", "full-fix")]


def test_yes_confirms_and_the_ladder_fixes(project):
    rc, doc, err = remediate(project, "--yes")
    assert rc == 0, err
    assert doc["status"] == "fixed"
    assert doc["verification"]["box"]["state"] == "healthy"
    assert project["state"].read_text() == "ok\n"
    rc, doc, _ = remediate(project)
    assert rc == 0 and doc["status"] == "no-change"


def test_terminal_confirmation_yes_and_no(project):
    rc, doc, err = remediate(project, tty=True, answer="n\n")
    assert rc == 7 and doc["status"] == "skipped"
    assert "declined" in doc["results"]["box"]["message"]
    assert project["state"].read_text() == "half\n"
    rc, doc, err = remediate(project, tty=True, answer="y\n")
    assert rc == 0 and doc["status"] == "fixed"


def test_ladder_ends_in_manual_guidance(project):
    project["write_runbook"](full_fix_state="still-broken")
    rc, doc, err = remediate(project, "--yes")
    assert rc == 4, err
    assert doc["status"] == "manual"
    assert doc["guidance"][0]["id"] == "call-someone"
    assert "storage team" in doc["guidance"][0]["guidance"]
    rc, doc, err = remediate(project, "--yes", "--lang", "fr")
    assert rc == 4 and "équipe stockage" in doc["guidance"][0]["guidance"]


def test_failed_step_exits_1(project):
    project["write_runbook"](step1_state="boom")
    rc, doc, err = remediate(project, "--yes")
    assert rc == 1
    assert doc["status"] == "failed"
    assert "boom requested" in doc["results"]["box"]["message"]
    assert project["state"].read_text() == "broken\n"


def test_dry_run_changes_nothing_and_stores_a_plan(project):
    rc, doc, err = remediate(project, "--dry-run")
    assert rc == 0 and doc["status"] == "planned" and doc["mode"] == "dry-run"
    assert project["state"].read_text() == "broken\n"
    plan = doc["results"]["box"]["plan"][0]
    assert plan["id"] == "half-fix" and plan["would_change"]
    from orchestrator.store import Store

    stored = Store.open(project["home"]).get_plan(doc["plan_id"])
    assert stored["status"] == "pending" and len(stored["plan_hash"]) == 64


def test_start_at_step_2(project):
    rc, doc, err = remediate(project, "--step", "2", "--yes")
    assert rc == 0
    assert [s["id"] for s in doc["steps"] if s["phase"] == "apply"] == ["full-fix"]


def test_numeric_alias_and_message_free_lookup(project):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.StringIO(), stdout=out, stderr=err, stdin_isatty=False,
                      environ={"REMEDIATE_HOME": str(project["home"])})
    rc = main(["--code", "999001", "--host", "box", "-i", str(project["inv"]), "--json", "--dry-run"], env)
    assert rc == 0
    assert json.loads(out.getvalue())["code"] == "TestLadderError"


def test_a_step_without_verification_is_applied_unverified_never_fixed(project):
    path = project["proj"] / "runbooks" / "ladder-test.yml"
    path.write_text(path.read_text().replace("    changes: {en: writes half, fr: écrit half}\n",
                                             "    changes: {en: writes half, fr: écrit half}\n    verify: none\n"))
    rc, doc, err = remediate(project)
    assert rc == 4, err
    assert doc["status"] == "applied-unverified"
    assert doc["results"]["box"]["status"] == "applied-unverified"
    assert "not verified" in doc["results"]["box"]["message"]
    assert "Backup now" in doc["guidance"][0]["guidance"]
    assert project["state"].read_text() == "half\n"  # applied, and the ladder stopped there
    assert [s["phase"] for s in doc["steps"]] == ["diagnose", "apply"]


def test_a_diagnose_that_cannot_tell_leaves_the_change_unverified(project):
    diag = project["proj"] / "playbooks" / "linux" / "diag.yml"
    diag.write_text(DIAG.replace("healthy: \"{{ (raw.content | b64decode | trim) == 'ok' }}\"",
                                 "healthy: \"{{ None if (raw.content | b64decode | trim) == 'half' else "
                                 "((raw.content | b64decode | trim) == 'ok') }}\""))
    rc, doc, err = remediate(project, "--lang", "fr")
    assert rc == 4, err
    assert doc["status"] == "applied-unverified"
    assert doc["verification"]["box"]["state"] == "unknown"
    assert "sauvegarde" in doc["guidance"][0]["guidance"]


VERIFY_BACKUP = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Pretend to back up the VM (the real playbook triggers an on-demand backup and polls its job)
      ansible.builtin.set_fact:
        remediate_backup:
          status: "{{ lookup('ansible.builtin.env', 'FAKE_BACKUP') }}"
          job_id: 0d4f1b4c-7a0e-4d7b-8c5d-2f7e0a9b1c33
          error_code: "{{ 'UserErrorGuestAgentStatusUnavailable' if lookup('ansible.builtin.env', 'FAKE_BACKUP')
                          == 'failed' else '' }}"
          summary: backup job ended
"""


def test_verify_backup_after_the_fix_in_json_and_history(project, monkeypatch):
    (project["proj"] / "playbooks" / "azure").mkdir()
    (project["proj"] / "playbooks" / "azure" / "verify_backup.yml").write_text(VERIFY_BACKUP)
    monkeypatch.setenv("FAKE_BACKUP", "succeeded")
    rc, doc, err = remediate(project, "--yes", "--verify-backup")
    assert rc == 0 and doc["status"] == "fixed", err
    assert doc["backup_verification"]["box"]["status"] == "succeeded"
    assert [s["phase"] for s in doc["steps"]][-1] == "backup"
    monkeypatch.setenv("FAKE_BACKUP", "failed")
    rc, doc, err = remediate(project, "--verify-backup")  # healthy now: no-change, and the backup still runs
    assert rc == 1 and doc["status"] == "failed", err
    assert doc["backup_verification"]["box"]["error_code"] == "UserErrorGuestAgentStatusUnavailable"
    assert "on-demand backup failed" in doc["results"]["box"]["message"]
    from orchestrator.store import Store

    rows = Store.open(project["home"]).history(limit=2)
    assert rows[0]["result"]["hosts"]["box"]["backup"]["status"] == "failed"
    assert rows[1]["result"]["hosts"]["box"]["backup"]["status"] == "succeeded"

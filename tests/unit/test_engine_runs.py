"""How many ansible-playbook runs a request costs, and that sharing a run changes no decision.

A run holds several playbooks when nothing of ours has to be decided between them: the diagnose and the first
step's check mode (dry-run, approval, confirmation), or the diagnose, the first step and its verification (a step
the policy runs, or an idempotent step --yes confirms). Real CLI, real ansible-playbook, local connections.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from orchestrator.store import Store

from .conftest import DIAG, cli

RUNBOOK = """
id: runs-test
title: {en: Runs test, fr: Test des exécutions}
platform: linux
source: {article: vms-troubleshoot, section: test}
codes:
  - code: TestRunsError
    message: {en: The state is broken, fr: L'état est cassé}
cause: {en: test, fr: test}
diagnose: {linux: linux/diag.yml}
vars: {state_file: "{{ states }}/{{ inventory_hostname }}.txt", new_state: ok}
ladder:
  - id: fix
    title: {en: Fix, fr: Réparer}
    kind: automated
    risk: medium
    playbook: linux/write_ok.yml
    changes: {en: writes ok, fr: écrit ok}
  - id: call-someone
    title: {en: Call someone, fr: Appeler}
    kind: manual
    risk: never
    guidance: {en: Ask the storage team, fr: Demandez à l'équipe stockage}
"""

WRITE_OK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Write state
      ansible.builtin.copy: {dest: "{{ state_file }}", content: "{{ new_state }}\\n"}
"""


def _setup(project, tmp_path, **states: str):
    box = tmp_path / "states"
    box.mkdir()
    for name, text in states.items():
        (box / f"{name}.txt").write_text(text + "\n")
    (project["proj"] / "runbooks" / "runs-test.yml").write_text(RUNBOOK)
    (project["proj"] / "playbooks" / "linux" / "write_ok.yml").write_text(WRITE_OK)
    (project["proj"] / "playbooks" / "linux" / "diag.yml").write_text(DIAG)
    local = f"ansible_connection: local, ansible_python_interpreter: {sys.executable}, remediate_platform: linux"
    project["inv"].write_text(f"all:\n  vars: {{states: {box}}}\n  hosts:\n"
                              + "".join(f"    {n}: {{{local}}}\n" for n in states))
    return box


def run(project, hosts: str, *args: str, user: str = "alice") -> tuple[int, dict]:
    rc, out, err = cli(project, "--code", "TestRunsError", "--host", hosts, "-i", str(project["inv"]), "--json",
                       *args, user=user)
    doc = json.loads(out)
    assert "steps" in doc, err
    return rc, doc


def runs_of(project, doc) -> list[str]:
    """The run directories of the request: one per ansible-playbook run, named by the phases it held."""
    return sorted(p.name.split("-", 1)[1] for p in (project["home"] / "runs" / doc["request_id"]).iterdir())


def imports(project, doc) -> list[tuple[str, str | None]]:
    """The playbooks the request's (only) combined run imported, with the diagnose each was told it follows."""
    [run_dir] = (project["home"] / "runs" / doc["request_id"]).iterdir()
    root = project["proj"] / "playbooks"
    plays = json.loads((run_dir / "ladder.yml").read_text())
    key = "ansible.builtin.import_playbook"
    return [(str(Path(p[key]).relative_to(root)), (p.get("vars") or {}).get("remediate_diagnosed_by"))
            for p in plays if key in p]


def phases(doc) -> list[tuple[str, str, bool]]:
    return [(s["host"], s["phase"], s["changed"]) for s in doc["steps"]]


def test_yes_diagnoses_fixes_and_verifies_in_one_run(project, tmp_path):
    box = _setup(project, tmp_path, broken="broken", fine="ok")
    rc, doc = run(project, "broken,fine", "--yes")
    assert rc == 0 and {h: r["status"] for h, r in doc["results"].items()} == {"broken": "fixed",
                                                                               "fine": "no-change"}
    assert runs_of(project, doc) == ["broken+fine-diagnose+apply+verify"]
    # per host records: the healthy host was left out of the fix and of its verification
    assert phases(doc) == [("broken", "diagnose", False), ("fine", "diagnose", False),
                           ("broken", "apply", True), ("broken", "verify", False)]
    assert (box / "broken.txt").read_text() == "ok\n" and (box / "fine.txt").read_text() == "ok\n"
    decisions = [(d["rule"], d["outcome"], d["host"]) for d in doc["decisions"]]
    assert decisions == [("risk", "wait", "broken"), ("confirm", "run", "broken")]
    # the verification ran in check mode (its plays) although the run applied the fix
    assert [s["check_mode"] for s in doc["steps"]] == [True, True, False, True]
    # the fix is told which playbook diagnosed the host in this run (a diagnose it imports keeps that diagnosis);
    # the verification reads everything again
    assert imports(project, doc) == [("linux/diag.yml", None), ("linux/write_ok.yml", "linux/diag.yml"),
                                     ("linux/diag.yml", None)]


def test_an_idempotent_step_that_changes_nothing_is_recorded_so_and_the_ladder_goes_on(project, tmp_path):
    _setup(project, tmp_path, odd="weird")
    automated_only = RUNBOOK.split("  - id: call-someone")[0].replace("new_state: ok", "new_state: weird")
    (project["proj"] / "runbooks" / "runs-test.yml").write_text(automated_only)
    rc, doc = run(project, "odd", "--yes")
    assert rc == 4 and doc["results"]["odd"]["status"] == "manual"
    assert "no automated step" in doc["results"]["odd"]["message"]
    assert [(s["phase"], s["changed"]) for s in doc["steps"]] == [("diagnose", False), ("apply", False),
                                                                  ("verify", False)]


def test_dry_run_is_one_run_and_approval_two(project, tmp_path):
    box = _setup(project, tmp_path, broken="broken")
    rc, doc = run(project, "broken", "--dry-run")
    assert rc == 0 and doc["results"]["broken"]["status"] == "planned"
    assert runs_of(project, doc) == ["broken-diagnose+plan"]
    assert [(s["phase"], s["check_mode"]) for s in doc["steps"]] == [("diagnose", True), ("plan", True)]
    assert imports(project, doc) == [("linux/diag.yml", None), ("linux/write_ok.yml", "linux/diag.yml")]
    assert (box / "broken.txt").read_text() == "broken\n"

    rc, doc = run(project, "broken")  # no terminal, no --yes: the check rides in the diagnose run, plan stored
    assert rc == 5 and doc["plan_id"]
    assert runs_of(project, doc) == ["broken-diagnose+plan"]
    rc, out, err = cli(project, "--approve", doc["plan_id"], "--json", user="bob")
    approved = json.loads(out)
    assert rc == 0 and approved["status"] == "fixed", err
    # the approval's check compares with the plan before anything is applied: its own run, then apply + verify
    assert runs_of(project, approved) == ["broken-apply+verify", "broken-diagnose+plan"]
    assert (box / "broken.txt").read_text() == "ok\n"


def test_a_step_the_policy_skips_is_never_read_ahead(project, tmp_path):
    box = _setup(project, tmp_path, broken="broken")
    policy = tmp_path / "policy.yml"
    policy.write_text("window_risks: [medium]\noutside_window: skip\nmaintenance_windows: []\n")
    rc, doc = run(project, "broken", "--yes", "--policy", str(policy))
    assert rc == 7 and doc["results"]["broken"]["status"] == "skipped", doc
    assert runs_of(project, doc) == ["broken-diagnose"]
    assert (box / "broken.txt").read_text() == "broken\n"
    assert Store.open(project["home"]).history(host="broken")[0]["status"] == "skipped"

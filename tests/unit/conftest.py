"""Shared fixture: a throwaway project with one runbook whose ladder runs on a local connection.

Diagnose reads a state file (healthy when it says "ok"); step 1 (low) only half-fixes it, step 2 (medium) fixes it
unless told not to, step 3 is manual. Real ansible-playbook, no lab host.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from orchestrator.cli import Environment, main

ROOT = Path(__file__).resolve().parents[2]

RUNBOOK = """
id: ladder-test
title: {en: Ladder test, fr: Test d'échelle}
platform: linux
source: {article: vms-troubleshoot, section: test}
codes:
  - code: TestLadderError
    aliases: ["999001"]
    message: {en: The test state is broken, fr: L'état de test est cassé}
cause: {en: test, fr: test}
diagnose: {linux: linux/diag.yml}
vars: {state_file: STATE}
ladder:
  - id: half-fix
    title: {en: Half fix, fr: Demi}
    kind: automated
    risk: low
    playbook: linux/write_state.yml
    vars: {new_state: half}
    changes: {en: writes half, fr: écrit half}
  - id: full-fix
    title: {en: Full fix, fr: Complet}
    kind: automated
    risk: medium
    playbook: linux/write_state.yml
    vars: {new_state: FULL}
    changes: {en: writes ok, fr: écrit ok}
  - id: call-someone
    title: {en: Call someone, fr: Appeler}
    kind: manual
    risk: never
    guidance: {en: Ask the storage team, fr: Demandez à l'équipe stockage}
"""

DIAG = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Read state
      ansible.builtin.slurp: {src: "{{ state_file }}"}
      register: raw
    - name: Diagnose
      ansible.builtin.set_fact:
        remediate_diagnosis:
          healthy: "{{ (raw.content | b64decode | trim) == 'ok' }}"
          summary: "state is {{ raw.content | b64decode | trim }}"
"""

WRITE = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Fail when asked
      ansible.builtin.fail: {msg: "boom requested"}
      when: new_state == 'boom'
    - name: Write state
      ansible.builtin.copy: {dest: "{{ state_file }}", content: "{{ new_state }}\\n"}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    (proj / "runbooks").mkdir(parents=True)
    (proj / "playbooks" / "linux").mkdir(parents=True)
    shutil.copy(ROOT / "ansible.cfg", proj / "ansible.cfg")
    state = tmp_path / "state.txt"
    state.write_text("broken\n")
    (proj / "playbooks" / "linux" / "diag.yml").write_text(DIAG)
    (proj / "playbooks" / "linux" / "write_state.yml").write_text(WRITE)
    inv = tmp_path / "inventory.yml"
    inv.write_text(f"all:\n  hosts:\n    box:\n      ansible_connection: local\n      remediate_platform: linux\n"
                   f"      ansible_python_interpreter: {sys.executable}\n")
    monkeypatch.setenv("REMEDIATE_PROJECT_DIR", str(proj))

    def write_runbook(full_fix_state: str = "ok", step1_state: str = "half") -> None:
        text = RUNBOOK.replace("STATE", str(state)).replace("FULL", full_fix_state)
        text = text.replace("new_state: half", f"new_state: {step1_state}")
        (proj / "runbooks" / "ladder-test.yml").write_text(text)

    write_runbook()
    return {"proj": proj, "state": state, "inv": inv, "home": tmp_path / "home", "write_runbook": write_runbook}


def cli(project, *argv: str, tty: bool = False, answer: str = "", user: str = "alice") -> tuple[int, str, str]:
    """The real command in-process, as `user`, with the project's state directory."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.StringIO(answer), stdout=out, stderr=err, stdin_isatty=tty,
                      environ={"REMEDIATE_HOME": str(project["home"]), "USER": user,
                               **project.get("environ", {})})
    rc = main(list(argv), env)
    return rc, out.getvalue(), err.getvalue()


def remediate(project, *args: str, tty: bool = False, answer: str = "", user: str = "alice") -> tuple[int, dict, str]:
    rc, out, err = cli(project, "--code", "TestLadderError", "--host", "box", "-i", str(project["inv"]), "--json",
                       *args, tty=tty, answer=answer, user=user)
    return rc, json.loads(out), err

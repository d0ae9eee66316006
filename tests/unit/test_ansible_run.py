"""The ansible-runner wrapper on a local connection: what counts as a failed host, what a task reports."""

from __future__ import annotations

from orchestrator.ansible_run import run_playbook

RESCUED = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Try, and handle the failure
      block:
        - name: Fails
          ansible.builtin.fail: {msg: "first attempt failed"}
      rescue:
        - name: Handled
          ansible.builtin.debug: {msg: handled}
    - name: Report something
      ansible.builtin.set_fact: {x: 1}
      changed_when: false
"""

FAILED = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Fails for real
      ansible.builtin.fail: {msg: "really broken"}
"""


def test_a_failure_handled_by_rescue_does_not_fail_the_host(project, tmp_path):
    playbook = project["proj"] / "playbooks" / "linux" / "rescued.yml"
    playbook.write_text(RESCUED)
    run = run_playbook(playbook, inventory=project["inv"], limit=["box"], data_dir=tmp_path / "r1")
    assert run.status == "successful" and run.failed == {} and run.ok()
    assert [t.status for t in run.tasks if t.task == "Fails"] == ["failed"]  # still visible in the record
    playbook.write_text(FAILED)
    run = run_playbook(playbook, inventory=project["inv"], limit=["box"], data_dir=tmp_path / "r2")
    assert run.failed == {"box": "really broken"}

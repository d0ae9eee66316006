"""A fleet in one request: the hosts at the same point of the ladder share one playbook run, and everything else
stays per host (outcomes, plan entries and their signatures, decisions, locks, verification).

Real CLI, real ansible-playbook on local connections (the `project` fixture of conftest.py), four hosts:
- fixed: broken; step 1 (low, automatic) repairs it, the verification says healthy;
- healthy: nothing to fix (no-change);
- waiting: broken; step 1 only half-fixes it, step 2 is medium risk: without a terminal or --yes it needs approval;
- gone: an SSH host on a closed port (unreachable).
"""

from __future__ import annotations

import json
import sys

from orchestrator.store import Store

from .conftest import DIAG, cli

FLEET = ("fixed", "healthy", "waiting", "gone")

# Step 1 writes the host's own `half_state` (default half); the state file is per host.
WRITE_AND_SEE_LOCKS = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Write state
      ansible.builtin.copy: {dest: "{{ state_file }}", content: "{{ new_state }}\\n"}
    - name: Note the host locks held while the step runs
      ansible.builtin.command:
        argv: ["{{ ansible_python_interpreter }}", "-c", "import sqlite3, sys; print(','.join(sorted(r[0] for r in
               sqlite3.connect(sys.argv[1]).execute('SELECT host FROM host_locks'))))", "{{ home }}/remediate.db"]
      register: locks
      changed_when: false
      when: not ansible_check_mode
    - name: Keep them
      ansible.builtin.copy: {dest: "{{ state_file }}.locks", content: "{{ locks.stdout }}\\n"}
      when: not ansible_check_mode
"""


def _fleet(project, tmp_path) -> dict:
    states = tmp_path / "fleet"
    states.mkdir()
    for name, text in (("fixed", "broken"), ("healthy", "ok"), ("waiting", "broken")):
        (states / f"{name}.txt").write_text(text + "\n")
    runbook = project["proj"] / "runbooks" / "ladder-test.yml"
    text = runbook.read_text().replace(str(project["state"]), '"{{ fleet }}/{{ inventory_hostname }}.txt"')
    runbook.write_text(text.replace("new_state: half", "new_state: \"{{ half_state | default('half') }}\""))
    (project["proj"] / "playbooks" / "linux" / "write_state.yml").write_text(WRITE_AND_SEE_LOCKS)
    (project["proj"] / "playbooks" / "linux" / "diag.yml").write_text(DIAG)
    local = f"ansible_connection: local, ansible_python_interpreter: {sys.executable}, remediate_platform: linux"
    project["inv"].write_text(
        f"all:\n  vars: {{fleet: {states}, home: {project['home']}}}\n  children:\n    fleet:\n      hosts:\n"
        + f"        fixed: {{{local}, half_state: ok}}\n"
        + f"        healthy: {{{local}}}\n"
        + f"        waiting: {{{local}}}\n"
        + "        gone: {ansible_host: 127.0.0.1, ansible_port: 9, ansible_user: nobody, remediate_platform: linux,"
        + " ansible_ssh_common_args: '-o ConnectTimeout=5 -o StrictHostKeyChecking=no'}\n")
    return {"states": states}


def run(project, *args: str) -> tuple[int, dict, str]:
    rc, out, err = cli(project, "--code", "TestLadderError", "--host", "fleet", "-i", str(project["inv"]), "--json",
                       *args)
    return rc, json.loads(out), err


def test_one_request_over_a_fleet_keeps_every_host_exact(project, tmp_path):
    fleet = _fleet(project, tmp_path)
    states = fleet["states"]
    rc, doc, err = run(project)
    assert "results" in doc, doc
    results = {h: doc["results"][h]["status"] for h in FLEET}
    assert results == {"fixed": "fixed", "healthy": "no-change", "waiting": "approval-required",
                       "gone": "unreachable"}, err
    assert rc == 6  # the worst outcome: a host unreachable
    assert (states / "fixed.txt").read_text() == "ok\n"
    assert (states / "healthy.txt").read_text() == "ok\n"
    assert (states / "waiting.txt").read_text() == "half\n"  # step 1 ran, step 2 waits for its approval

    # batched: one run per point of the ladder, recorded per host with that host's own tasks
    runs = [(s["phase"], s["id"], s["host"], s["artifacts"]) for s in doc["steps"]]
    by_run: dict[str, list[str]] = {}
    for phase, step, host, artifacts in runs:
        by_run.setdefault(f"{phase} {step} {artifacts}", []).append(host)
    assert sorted(sorted(v) for v in by_run.values()) == sorted([["fixed", "gone", "healthy", "waiting"],  # diagnose
                                              ["fixed", "waiting"],  # apply half-fix
                                              ["fixed", "waiting"],  # verify
                                              ["waiting"]])  # plan full-fix (check mode)
    assert len(doc["artifacts"]) == 4
    for s in doc["steps"]:
        assert {t["host"] for t in s["tasks"]} <= {s["host"]}
    apply = {s["host"]: s for s in doc["steps"] if s["phase"] == "apply"}
    assert apply["fixed"]["changed"] and apply["waiting"]["changed"]

    # verification per host
    assert doc["verification"]["fixed"]["state"] == "healthy"
    assert doc["verification"]["waiting"]["state"] == "unhealthy"
    assert doc["verification"]["healthy"] is None and doc["verification"]["gone"] is None

    # decisions per host: each host's own risk gate; only `waiting` reached the medium step
    gates = sorted((d["host"], d["reason"].split(":")[0], d["outcome"])
                   for d in doc["decisions"] if d["rule"] == "risk")
    assert gates == [("fixed", "step 1 (half-fix)", "run"), ("waiting", "step 1 (half-fix)", "run"),
                     ("waiting", "step 2 (full-fix)", "wait")]

    # the plan holds the waiting host only, with the signature of its own check-mode tasks
    plan = Store.open(project["home"]).get_plan(doc["plan_id"])
    assert sorted(plan["plan"]["hosts"]) == ["waiting"]
    entry = plan["plan"]["hosts"]["waiting"]["steps"][0]
    assert entry["id"] == "full-fix" and [t["host"] for t in entry["would_change"]] == ["waiting"]

    # every host of the run was locked while the step ran, and nothing is locked afterwards
    assert (states / "fixed.txt.locks").read_text() == "fixed,gone,healthy,waiting\n"
    assert (states / "waiting.txt.locks").read_text() == "fixed,gone,healthy,waiting\n"
    store = Store.open(project["home"])
    store.acquire_locks(list(FLEET), "probe")
    store.release_locks(list(FLEET), "probe")

    # the approved plan runs on the waiting host alone, and only if its check run still matches the signature
    rc, out, err = cli(project, "--approve", doc["plan_id"], "--json", user="bob")
    approved = json.loads(out)
    assert rc == 0 and approved["status"] == "fixed", err
    assert approved["hosts"] == ["waiting"] and (states / "waiting.txt").read_text() == "ok\n"


def test_a_host_locked_by_another_request_holds_the_whole_request(project, tmp_path):
    fleet = _fleet(project, tmp_path)
    store = Store.open(project["home"])
    store.acquire_locks(["waiting"], "other-request")
    rc, doc, err = run(project, "--yes")
    assert rc == 7 and doc["status"] == "skipped", err
    assert all("locked by request other-request" in doc["results"][h]["message"] for h in FLEET)
    assert (fleet["states"] / "fixed.txt").read_text() == "broken\n"  # nothing ran anywhere
    store.release_locks(["waiting"], "other-request")
    rc, doc, err = run(project, "--yes")
    assert {h: doc["results"][h]["status"] for h in FLEET} == {
        "fixed": "fixed", "healthy": "no-change", "waiting": "fixed", "gone": "unreachable"}, err
    assert (fleet["states"] / "waiting.txt").read_text() == "ok\n"

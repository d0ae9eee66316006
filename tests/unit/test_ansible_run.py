"""The ansible-runner wrapper on a local connection: what counts as a failed host, what a task reports."""

from __future__ import annotations

import sys

from orchestrator.ansible_run import Lane, Part, PlaybookRun, run_lanes, run_parts, run_playbook

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


# --- several playbooks in one run (run_parts) ------------------------------------------------------------------

DIAGNOSE_BY_NAME = """
- hosts: all
  gather_facts: false
  check_mode: true
  tasks:
    - name: Fail on the broken host
      ansible.builtin.fail: {msg: "cannot read"}
      when: inventory_hostname == "broken"
    - name: Record the diagnosis
      ansible.builtin.set_fact:
        remediate_diagnosis:
          healthy: "{{ {'fine': true, 'sick': false, 'unsure': none, 'odd': 'yes'}[inventory_hostname] }}"
          summary: "{{ inventory_hostname }}"
"""

TOUCH = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Touch
      ansible.builtin.copy: {dest: "{{ out }}/{{ inventory_hostname }}.touched", content: "x\\n"}
"""

LOOK = """
- hosts: all
  gather_facts: false
  check_mode: true
  tasks:
    - name: Look
      ansible.builtin.stat: {path: "{{ out }}/{{ inventory_hostname }}.touched"}
      register: seen
    - name: Record the diagnosis
      ansible.builtin.set_fact:
        remediate_diagnosis: {healthy: "{{ seen.stat.exists }}", summary: after}
"""


def _hosts_inventory(project, names):
    lines = "".join(f"    {n}: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}\n"
                    for n in names)
    project["inv"].write_text("all:\n  hosts:\n" + lines)


def test_one_run_holds_a_diagnosis_the_fix_on_the_unhealthy_hosts_and_their_verification(project, tmp_path):
    names = ["fine", "sick", "unsure", "odd", "broken"]
    _hosts_inventory(project, names)
    books = project["proj"] / "playbooks" / "linux"
    for name, text in (("diag_by_name.yml", DIAGNOSE_BY_NAME), ("touch.yml", TOUCH), ("look.yml", LOOK)):
        (books / name).write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    diag, fix, verify = run_parts(
        [Part(books / "diag_by_name.yml", names), Part(books / "touch.yml", names, unhealthy_only=True),
         Part(books / "look.yml", names, after=1)],
        inventory=project["inv"], data_dir=tmp_path / "r", extravars={"out": str(out)}, forks=5)
    # the diagnosis: one host failed, the others recorded theirs
    assert set(diag.failed) == {"broken"} and diag.facts["sick"]["healthy"] is False
    assert diag.status == "failed" and not diag.broke("fine")
    # the fix ran only where the diagnosis says unhealthy (false) or cannot tell (null): never on the healthy
    # host, the failed one (Ansible dropped it), or the one whose diagnosis is malformed ("yes")
    assert sorted(p.name for p in out.iterdir()) == ["sick.touched", "unsure.touched"]
    assert sorted({t.host for t in fix.tasks}) == ["sick", "unsure"] and fix.status == "successful"
    assert fix.left_out == {"fine", "odd"}
    # the verification ran on the hosts the fix ran on, and saw its change
    assert sorted(verify.facts) == ["sick", "unsure"] and all(f["healthy"] for f in verify.facts.values())
    assert verify.left_out == {"fine", "odd"} and verify.playbook == "linux/look.yml"


def test_a_host_that_fails_in_a_part_is_in_none_of_the_later_parts(project, tmp_path):
    _hosts_inventory(project, ["box", "other"])
    books = project["proj"] / "playbooks" / "linux"
    (books / "fails_on_box.yml").write_text(FAILED.replace('{msg: "really broken"}', '{msg: "really broken"}\n'
                                                           '      when: inventory_hostname == "box"'))
    (books / "touch.yml").write_text(TOUCH)
    out = tmp_path / "out"
    out.mkdir()
    early = []

    def done(n, result):  # part 0 is complete (and reported) before part 1 touches anything
        early.append((n, dict(result.failed), result.status, sorted(p.name for p in out.iterdir())))

    first, second = run_parts([Part(books / "fails_on_box.yml", ["box", "other"]),
                               Part(books / "touch.yml", ["box", "other"])],
                              inventory=project["inv"], data_dir=tmp_path / "r", extravars={"out": str(out)},
                              on_part_done=done)
    assert early == [(0, {"box": "really broken"}, "failed", [])]  # the last part comes with the return value
    assert first.failed == {"box": "really broken"} and first.status == "failed"
    assert second.failed == {} and second.status == "successful" and not second.broke("other")
    assert [p.name for p in out.iterdir()] == ["other.touched"]


def test_when_every_host_of_a_part_fails_the_later_parts_say_they_did_not_run(project, tmp_path):
    books = project["proj"] / "playbooks" / "linux"
    (books / "fails.yml").write_text(FAILED)
    (books / "touch.yml").write_text(TOUCH)
    first, second = run_parts([Part(books / "fails.yml", ["box"]), Part(books / "touch.yml", ["box"])],
                              inventory=project["inv"], data_dir=tmp_path / "r", extravars={"out": str(tmp_path)})
    assert first.failed == {"box": "really broken"}
    assert second.broke("box") and second.why("box").startswith("not run: ansible-playbook ended")
    assert not (tmp_path / "box.touched").exists()


def test_lanes_run_side_by_side_and_a_part_merges_back_per_host(project, tmp_path):
    _hosts_inventory(project, ["w1", "w2", "l1"])
    books = project["proj"] / "playbooks" / "linux"
    (books / "touch.yml").write_text(TOUCH)
    (books / "fails_on_w2.yml").write_text(FAILED.replace('{msg: "really broken"}', '{msg: "really broken"}\n'
                                                          '      when: inventory_hostname == "w2"'))
    out = tmp_path / "out"
    out.mkdir()
    seen = []
    lanes = [Lane([Part(books / "fails_on_w2.yml", ["w1", "w2"]), Part(books / "touch.yml", ["w1", "w2"])],
                  tmp_path / "windows", forks=2),
             Lane([Part(books / "fails_on_w2.yml", ["l1"]), Part(books / "touch.yml", ["l1"])], tmp_path / "linux")]
    (w_first, w_touch), (l_first, l_touch) = run_lanes(lanes, inventory=project["inv"], extravars={"out": str(out)},
                                                       on_task=seen.append)
    assert sorted(p.name for p in out.iterdir()) == ["l1.touched", "w1.touched"]
    assert w_first.failed == {"w2": "really broken"} and l_first.failed == {}
    touch = PlaybookRun.merged([w_touch, l_touch], [["w1", "w2"], ["l1"]])
    assert touch.changed_on("w1") and touch.changed_on("l1") and not touch.broke("l1")
    assert touch.artifacts_of("l1") == tmp_path / "linux" / "artifacts" / "run"
    assert touch.artifacts_of("w1") == tmp_path / "windows" / "artifacts" / "run"
    assert {t.host for t in seen} == {"w1", "w2", "l1"}  # every lane reported its tasks


def test_closing_the_pty_of_an_exited_run_does_not_sleep_but_a_live_child_is_still_terminated():
    """ansible-runner closes ansible-playbook's pty once the process has exited: ptyprocess's 0.1 s wait for the
    kernel is skipped then; a child still running is terminated as before."""
    import time

    from ptyprocess import PtyProcess

    from orchestrator.ansible_run import _no_sleep_after_exit

    _no_sleep_after_exit()
    _no_sleep_after_exit()  # once is enough, twice does not wrap twice
    assert getattr(PtyProcess.close, "_skips_sleep_after_exit", False)
    done = PtyProcess.spawn(["true"])
    while done.isalive():
        time.sleep(0.01)
    done.close()
    assert done.delayafterclose == 0 and done.closed and done.exitstatus == 0
    running = PtyProcess.spawn(["sleep", "30"])
    running.close(force=True)
    assert running.delayafterclose == 0.1 and not running.isalive() and running.closed


PROBE_FILTER = """import os

with open(os.environ["PROBE_FILE"], "a") as f:  # one line per process that loads this plugin file
    f.write(f"{os.getpid()}\\n")


class FilterModule:
    def filters(self):
        return {"probe_upper": lambda s: str(s).upper()}
"""

THREE_FILTERED_TASKS = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: One, ansible.builtin.set_fact: {a: "{{ 'x' | probe_upper }}"}}
    - {name: Two, ansible.builtin.set_fact: {b: "{{ a | probe_upper }}"}}
    - {name: Three, ansible.builtin.assert: {that: "b | probe_upper == 'X'"}}
"""


def test_filter_plugins_are_loaded_once_by_ansible_playbook_not_by_every_worker(project, tmp_path):
    """playbooks/callback_plugins/remediate_preload.py loads the filter plugins in the controller before it forks a
    worker per task: three tasks using a filter load its file once; without the callback, once per worker."""
    import shutil

    from tests.unit.conftest import ROOT

    proj = project["proj"]
    (proj / "playbooks" / "filter_plugins").mkdir()
    (proj / "playbooks" / "filter_plugins" / "probe.py").write_text(PROBE_FILTER)
    playbook = proj / "playbooks" / "linux" / "filtered.yml"
    playbook.write_text(THREE_FILTERED_TASKS)
    loads = tmp_path / "loads.txt"

    def run(name: str) -> list[str]:
        loads.write_text("")
        result = run_playbook(playbook, inventory=project["inv"], limit=["box"], data_dir=tmp_path / name,
                              extra_env={"PROBE_FILE": str(loads)})
        assert result.ok() and [t.task for t in result.tasks] == ["One", "Two", "Three"]
        return loads.read_text().split()

    without = run("without")  # the test project has no callback_plugins yet
    assert len(without) == 3 and len(set(without)) == 3
    shutil.copytree(ROOT / "playbooks" / "callback_plugins", proj / "playbooks" / "callback_plugins")
    with_preload = run("with")
    assert len(with_preload) == 1


COUNTED_DIAGNOSE = """
- hosts: all
  gather_facts: false
  check_mode: true
  tasks:
    - name: Keep the diagnosis made earlier in this run
      ansible.builtin.meta: end_host
      when: remediate_diagnosed_by | default('') == 'linux/counted_diagnose.yml' and remediate_diagnosis is defined
    - name: Count the reads
      ansible.builtin.shell: echo read >> {{ out }}/{{ inventory_hostname }}.reads
      changed_when: false
      check_mode: false
    - name: Look
      ansible.builtin.stat: {path: "{{ out }}/{{ inventory_hostname }}.touched"}
      register: seen
    - name: Record the diagnosis
      ansible.builtin.set_fact:
        remediate_diagnosis: {healthy: "{{ seen.stat.exists }}", summary: read}
"""

FIX_IMPORTING_ITS_DIAGNOSE = """
- name: Diagnose
  ansible.builtin.import_playbook: counted_diagnose.yml
- hosts: all
  gather_facts: false
  tasks:
    - name: Touch what the diagnosis found missing
      ansible.builtin.copy: {dest: "{{ out }}/{{ inventory_hostname }}.touched", content: "x\\n"}
      when: not remediate_diagnosis.healthy
"""


def test_a_fix_that_imports_its_diagnose_keeps_the_diagnosis_made_earlier_in_the_run(project, tmp_path):
    books = project["proj"] / "playbooks" / "linux"
    (books / "counted_diagnose.yml").write_text(COUNTED_DIAGNOSE)
    (books / "fix.yml").write_text(FIX_IMPORTING_ITS_DIAGNOSE)
    out = tmp_path / "out"
    out.mkdir()
    diag, fix, verify = run_parts(
        [Part(books / "counted_diagnose.yml", ["box"]), Part(books / "fix.yml", ["box"], unhealthy_only=True,
                                                            diagnosed_by=0),
         Part(books / "counted_diagnose.yml", ["box"], after=1)],
        inventory=project["inv"], data_dir=tmp_path / "r", extravars={"out": str(out)})
    assert diag.facts["box"]["healthy"] is False and verify.facts["box"]["healthy"] is True
    assert fix.changed_on("box") and (out / "box.touched").exists()
    # read by the diagnose and by the verification; the fix acted on the diagnose's findings without a third read
    assert (out / "box.reads").read_text().split() == ["read", "read"]
    # standalone (an operator's run, or a fix in a later run), the fix diagnoses first
    (out / "box.touched").unlink()
    alone = run_playbook(books / "fix.yml", inventory=project["inv"], limit=["box"], data_dir=tmp_path / "r2",
                         extravars={"out": str(out)})
    assert alone.ok() and (out / "box.touched").exists()
    assert (out / "box.reads").read_text().split() == ["read"] * 3

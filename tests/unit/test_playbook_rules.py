"""Rules every runbook and playbook of the catalog follows (static checks; no host needed).

- a runbook with a written automated step for a platform has a diagnose playbook for that platform, so `fixed`
  can always be verified (DESIGN.md: "fixed always means the runbook's read-only diagnose passed");
- diagnose playbooks are read-only: only modules that cannot change a host, or scripts declared
  `changed_when: false`, and they set `remediate_diagnosis`; every play says `check_mode: true` (a verification
  shares the fix's real run);
- modules are called by their fully qualified names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"

READ_ONLY_MODULES = {
    "ansible.builtin.set_fact", "ansible.builtin.debug", "ansible.builtin.assert", "ansible.builtin.fail",
    "ansible.builtin.stat", "ansible.builtin.slurp", "ansible.builtin.setup", "ansible.builtin.getent",
    "ansible.builtin.include_vars", "ansible.builtin.service_facts", "ansible.builtin.package_facts",
    "ansible.builtin.meta", "ansible.builtin.find", "ansible.builtin.mount_facts",
    "ansible.windows.win_reg_stat", "ansible.windows.win_stat", "ansible.windows.win_service_info",
    "ansible.windows.win_certificate_info", "ansible.windows.win_find", "ansible.windows.slurp",
    "ansible.windows.setup", "ansible.windows.win_product_facts",
    # remediate.azure (collections/): GET-only Azure modules
    "remediate.azure.vm_info", "remediate.azure.restore_point_info", "remediate.azure.backup_job_info",
}
SCRIPT_MODULES = {
    "ansible.builtin.command", "ansible.builtin.shell", "ansible.windows.win_command", "ansible.windows.win_shell",
    "ansible.windows.win_powershell",
}
TASK_KEYWORDS = {
    "name", "when", "register", "loop", "loop_control", "vars", "check_mode", "changed_when", "failed_when",
    "tags", "become", "become_user", "no_log", "ignore_errors", "environment", "delegate_to", "run_once",
    "until", "retries", "delay", "notify", "block", "rescue", "always", "args", "with_items", "diff",
}


def _tasks(play_file: Path) -> list[dict]:
    out: list[dict] = []

    def walk(tasks: list[dict]) -> None:
        for task in tasks or []:
            out.append(task)
            for key in ("block", "rescue", "always"):
                if key in task:
                    walk(task[key])

    for play in yaml.safe_load(play_file.read_text()) or []:
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            walk(play.get(section) or [])
    return out


def _module(task: dict) -> str | None:
    names = [k for k in task if k not in TASK_KEYWORDS]
    return names[0] if names else None


def _written_playbooks() -> list[Path]:
    return sorted(p for p in PLAYBOOKS.glob("*/*.yml") if p.parent.name in ("windows", "linux", "azure"))


def test_every_runbook_with_an_automated_step_has_a_diagnose_for_that_platform() -> None:
    catalog = load_catalog()
    missing = []
    for rb in catalog.runbooks.values():
        for view in catalog.steps(rb):
            if not view.automated:
                continue
            platform = rb.step_platform(view.step).value
            platforms = ["windows", "linux"] if platform == "any" else [platform]
            for p in platforms:
                if catalog.diagnose_playbook(rb, p) is None:
                    missing.append(f"{rb.id} ({p}): step {view.step.id}")
    assert not missing, "automated steps that could never be verified: " + "; ".join(sorted(set(missing)))


@pytest.mark.parametrize("path", [p for p in _written_playbooks() if p.stem.endswith("_diagnose")],
                         ids=lambda p: p.name)
def test_diagnose_playbooks_are_read_only_and_set_the_diagnosis(path: Path) -> None:
    sets_diagnosis = False
    for task in _tasks(path):
        module = _module(task)
        if module is None or "block" in task:
            continue
        label = f"{path.name}: task {task.get('name')!r} ({module})"
        if module in SCRIPT_MODULES:
            assert task.get("changed_when") is False, f"{label} must declare changed_when: false (a read)"
            assert task.get("check_mode") is False, f"{label} must run in check mode too (check_mode: false)"
        else:
            assert module in READ_ONLY_MODULES, f"{label} is not a read-only module"
        if module == "ansible.builtin.set_fact" and "remediate_diagnosis" in (task.get(module) or {}):
            sets_diagnosis = True
    assert sets_diagnosis, f"{path.name} never sets remediate_diagnosis"
    # the engine runs a verification in the same ansible-playbook run as the fix it verifies (a real run):
    # every play says check_mode itself, so a read stays a read whatever the run's mode
    for play in yaml.safe_load(path.read_text()):
        assert "import_playbook" in str(play) or play.get("check_mode") is True, \
            f"{path.name}: play {play.get('name')!r} must say check_mode: true"


@pytest.mark.parametrize("path", _written_playbooks(), ids=lambda p: p.name)
def test_modules_are_fully_qualified(path: Path) -> None:
    for task in _tasks(path):
        module = _module(task)
        if module is not None and "block" not in task:
            assert module.count(".") >= 2, f"{path.name}: task {task.get('name')!r} uses {module}; use its FQCN"


def _imported_diagnoses() -> list[tuple[Path, Path]]:
    """(fix playbook, the diagnose playbook it imports to act on its findings)."""
    pairs = []
    for fix in _written_playbooks():
        if fix.stem.endswith("_diagnose"):
            continue
        for play in yaml.safe_load(fix.read_text()) or []:
            imported = play.get("ansible.builtin.import_playbook") if isinstance(play, dict) else None
            if imported and Path(imported).stem.endswith("_diagnose"):
                pairs.append((fix, fix.parent / imported))
    return pairs


@pytest.mark.parametrize("fix,diagnose", _imported_diagnoses(), ids=lambda p: p.name)
def test_a_diagnose_a_fix_imports_keeps_the_diagnosis_made_earlier_in_the_run(fix: Path, diagnose: Path) -> None:
    """The engine runs such a fix right after its own diagnose, in one ansible-playbook run, and tells the fix's
    plays which playbook made the diagnosis (`remediate_diagnosed_by`): the imported diagnose's first task ends its
    play for a host that playbook diagnosed (orchestrator/ansible_run.py Part.diagnosed_by)."""
    first = yaml.safe_load(diagnose.read_text())[0]["tasks"][0]
    rel = diagnose.relative_to(PLAYBOOKS).as_posix()
    assert first.get("ansible.builtin.meta") == "end_host", f"{diagnose.name}: first task must be the keep task"
    assert first.get("when") == (f"remediate_diagnosed_by | default('') == '{rel}' and remediate_diagnosis is "
                                 "defined"), f"{diagnose.name}: the keep task must name {rel}"


def test_the_fixes_that_import_their_diagnose_are_known() -> None:
    assert sorted(f.name for f, _ in _imported_diagnoses()) == [
        "fsck_remount.yml", "vmbackup_mounts_to_skip.yml", "vmsnapshot_extension_reset.yml", "waagent_restart.yml"]

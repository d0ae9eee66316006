"""Unknown module / command / option fail loudly; auth failure, HTTP 500, dropped connection and slow replies
surface as unreachable or failed tasks, never as hangs (every run is bounded by a subprocess timeout)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Lab, task_results

pytestmark = pytest.mark.lab  # runs real ansible-playbook against the simulator

FAILURES = """
- hosts: vm1
  gather_facts: false
  tasks:
    - name: unknown module
      ansible.windows.win_updates:
        category_names: [SecurityUpdates]
      ignore_errors: true
    - name: unknown command
      ansible.windows.win_command: format.com D /q
      ignore_errors: true
    - name: unknown option
      ansible.windows.win_ping:
        colour: blue
      ignore_errors: true
    - name: unknown pipeline stage
      ansible.windows.win_shell: Get-WinEvent -FilterHashtable @{LogName='System'} | Sort-Object TimeCreated
      ignore_errors: true
    - name: bad choice
      ansible.windows.win_service:
        name: VSS
        state: exploded
      ignore_errors: true
    - name: unsupported option
      ansible.windows.win_regedit:
        path: HKLM:\\SOFTWARE\\Contoso
        hive: C:\\Users\\Default\\NTUSER.DAT
      ignore_errors: true
    - name: action plugin with file transfer
      ansible.windows.win_copy:
        content: hello
        dest: C:\\Temp\\x.txt
      ignore_errors: true
    - name: async task
      ansible.windows.win_ping:
      async: 10
      poll: 1
      ignore_errors: true
    - name: raw command
      ansible.builtin.raw: vssadmin list writers
    - name: missing service
      ansible.windows.win_service:
        name: NoSuchService
        state: started
      ignore_errors: true
"""


def test_unknown_module_command_option_fail_naming_it(make_lab: Any) -> None:
    lab: Lab = make_lab({"vm1": {"platform": "windows"}})
    document = lab.playbook(FAILURES)
    results = task_results(document, "vm1")
    assert "module ansible.windows.win_updates is not simulated" in results["unknown module"]["msg"]
    assert results["unknown command"]["failed"] is True
    assert "command not simulated by win_command: format.com D /q" in results["unknown command"]["msg"]
    # Ansible.Basic.cs CheckUnsupportedArguments names the module as the task wrote it (_ansible_module_name)
    assert results["unknown option"]["msg"].startswith(
        "Unsupported parameters for (ansible.windows.win_ping) module: colour. Supported parameters include: data"
    )
    assert "pipeline stage: Sort-Object TimeCreated" in results["unknown pipeline stage"]["msg"]
    # the choices in the order of win_service.ps1's $spec (line 47)
    assert results["bad choice"]["msg"].startswith(
        "value of state must be one of: started, stopped, restarted, absent, paused. Got no match for: exploded"
    )
    assert "Got no match for: exploded" in results["bad choice"]["msg"]
    assert "win_regedit option 'hive' (loading a hive file) is not simulated" in results["unsupported option"]["msg"]
    assert "Writer name: 'ASR Writer'" in results["raw command"]["stdout"]
    assert "Service 'NoSuchService' is not installed" in results["missing service"]["msg"]
    assert document["stats"]["vm1"]["failures"] == 0  # all ignored
    # win_copy is simulated: put_file delivered the content, the module then fails like win_copy.ps1 line 457
    assert (
        "Destination directory 'C:\\Temp' does not exist" in results["action plugin with file transfer"]["msg"]
    )
    assert "async_wrapper.ps1" in results["async task"]["msg"]
    assert document["stats"]["vm1"]["unreachable"] == 0
    assert document["stats"]["vm1"]["ignored"] == 9


FAULTS = """
- hosts: all
  gather_facts: false
  tasks:
    - name: ping
      ansible.windows.win_ping:
    - name: restart
      ansible.windows.win_service:
        name: VSS
        state: restarted
"""


def test_faults_surface_as_unreachable_or_failed(make_lab: Any) -> None:
    only_service = {"modules": ["win_service"]}
    lab: Lab = make_lab(
        {
            "healthy": {"platform": "windows"},
            "authfail": {"platform": "windows", "faults": {"auth_failure": True}},
            "err500": {"platform": "windows", "faults": {"http_500": True, **only_service}},
            "dropped": {"platform": "windows", "faults": {"drop_connection": True, **only_service}},
            "slow": {
                "platform": "windows",
                "faults": {"delay_seconds": 6, **only_service},
                "read_timeout_sec": 3,
                "operation_timeout_sec": 2,
            },
        }
    )
    document = lab.playbook(FAULTS, "--forks", "5")
    stats = document["stats"]
    assert stats["healthy"]["failures"] == 0 and stats["healthy"]["changed"] == 1
    assert stats["authfail"]["unreachable"] == 1
    assert "credentials were rejected" in task_results(document, "authfail")["ping"]["msg"]
    for host in ("err500", "dropped"):
        results = task_results(document, host)
        assert results["ping"].get("failed") is not True
        assert results["restart"]["failed"] is True, results["restart"]
        assert stats[host]["unreachable"] == 0
    assert "Code 500" in task_results(document, "err500")["restart"]["msg"]
    assert "Remote end closed connection" in task_results(document, "dropped")["restart"]["msg"]
    assert stats["slow"]["unreachable"] == 1
    assert "Read timed out" in task_results(document, "slow")["restart"]["msg"]
    assert document["rc"] != 0


def test_wrong_password_is_unreachable(make_lab: Any) -> None:
    lab: Lab = make_lab({"vm1": {"platform": "windows"}})
    lab.inventory.write_text(lab.inventory.read_text().replace("lab-test-pw", "not-the-password"))
    document = lab.playbook(
        "- hosts: vm1\n  gather_facts: false\n  tasks:\n    - ansible.windows.win_ping:\n"
    )
    assert document["stats"]["vm1"]["unreachable"] == 1
    assert document["rc"] == 4

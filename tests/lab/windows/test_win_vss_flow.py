"""The flagship VSS scenarios through real ansible-playbook: what the VSS runbook sees and changes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .helpers import Lab, scenario, task_results

pytestmark = pytest.mark.lab  # runs real ansible-playbook against the simulator

PLAY = r"""
- hosts: all
  gather_facts: false
  tasks:
    - name: writers before
      ansible.windows.win_command: vssadmin list writers
      changed_when: false
    - name: restart SQLWriter
      ansible.windows.win_service:
        name: SQLWriter
        state: restarted
    - name: net stop Winmgmt
      ansible.windows.win_command: net stop Winmgmt
    - name: net start Winmgmt
      ansible.windows.win_command: net start Winmgmt
    - name: writers after
      ansible.windows.win_command: vssadmin list writers
      changed_when: false
    - name: timeout evidence
      ansible.windows.win_shell: >-
        Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName='VSS'}
        -ErrorAction SilentlyContinue |
        Where-Object { $_.Message -like '*shadow copy provider timed out*' } |
        Select-Object -ExpandProperty Message
      changed_when: false
    - name: persistent keys
      ansible.windows.win_reg_stat:
        path: HKLM:\SOFTWARE\Microsoft\BcdrAgentPersistentKeys
"""


def states(text: str) -> dict[str, int]:
    """Parse the structure, not the words: a quoted name opens a block, [N] is its state."""
    result, name = {}, None
    for line in text.splitlines():
        quoted = re.search(r"'([^']+)'\s*$", line)
        if quoted and not line.startswith(" "):
            name = quoted.group(1)
        number = re.search(r"\[(\d+)\]", line)
        if number and name:
            result[name] = int(number.group(1))
    return result


def test_vss_scenarios(make_lab: Any) -> None:
    hosts = {
        "default": scenario("vss-default.yml")["vm1"],
        "french": scenario("vss-french.yml")["vm1"],
        "persistent": scenario("vss-persistent.yml")["vm1"],
        "healthy": scenario("vss-healthy.yml")["vm1"],
    }
    lab: Lab = make_lab(hosts)
    document = lab.playbook(PLAY, "--forks", "4")
    assert document["rc"] == 0, json.dumps(document["stats"])

    default = task_results(document, "default")
    before = states(default["writers before"]["stdout"])
    assert {n for n, s in before.items() if s != 1} == {"SqlServerWriter", "WMI Writer"}
    assert "   State: [7] Failed" in default["writers before"]["stdout"]
    assert set(states(default["writers after"]["stdout"]).values()) == {1}
    assert "shadow copy provider timed out" in default["timeout evidence"]["stdout"]
    assert default["persistent keys"]["exists"] is False
    assert default["net stop Winmgmt"]["stdout"].startswith(
        "The Windows Management Instrumentation service is stopping."
    )
    assert lab.state("default")["service_restarts"] == ["SQLWriter", "Winmgmt"]

    french = task_results(document, "french")
    assert "Nom de l'enregistreur : 'SqlServerWriter'" in french["writers before"]["stdout"]
    assert "   État : [7] Échec" in french["writers before"]["stdout"]
    assert states(french["writers before"]["stdout"])["WMI Writer"] == 9
    assert set(states(french["writers after"]["stdout"]).values()) == {1}
    assert french["timeout evidence"]["stdout"] == ""  # a French event log is in French

    persistent = task_results(document, "persistent")
    assert states(persistent["writers after"]["stdout"])["SqlServerWriter"] == 7
    assert lab.state("persistent")["service_restarts"] == ["SQLWriter", "Winmgmt"]

    healthy = task_results(document, "healthy")
    assert set(states(healthy["writers before"]["stdout"]).values()) == {1}

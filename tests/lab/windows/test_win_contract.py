"""Contract with the installed ansible-core: a real playbook's requests decode the way lab.windows expects.

If this fails after an ansible-core upgrade, the module payload format changed: update lab/windows/payload.py
(see /work/shared/domain/winrm-simulator-notes.md) before trusting any other lab result.
"""

from __future__ import annotations

from typing import Any

import ansible.release
import pytest

from .helpers import Lab, task_results

pytestmark = pytest.mark.lab  # runs real ansible-playbook against the simulator

PLAY = """
- hosts: vm1
  gather_facts: true
  tasks:
    - name: ping
      ansible.windows.win_ping:
        data: contract
    - name: raw
      ansible.builtin.raw: vssadmin list writers
      check_mode: false
"""


def test_installed_ansible_core_payload_format(make_lab: Any) -> None:
    lab: Lab = make_lab({"vm1": {"platform": "windows"}})
    document = lab.playbook(PLAY, "--check", "--diff")
    host = lab.server.hosts["vm1"]
    kinds = [(i.kind, i.fqcn or i.name) for i in host.invocations]
    assert kinds == [
        ("module", "ansible.windows.setup"),
        ("module", "ansible.windows.win_ping"),
        ("raw", "raw"),
    ], (
        f"ansible-core {ansible.release.__version__} sent requests the simulator decodes as {kinds}: "
        "the WinRM module payload format changed"
    )
    setup, ping, raw = host.invocations
    assert ping.actions[-1] == "module_wrapper.ps1"
    assert ping.params["Script"] == "ansible_collections.ansible.windows.plugins.modules.win_ping.ps1"
    assert ping.params["Variables"][0]["Name"] == "complex_args"
    assert ping.args["data"] == "contract"
    assert ping.args["_ansible_check_mode"] is True
    assert ping.args["_ansible_diff"] is True
    assert setup.params["Script"] == "ansible_collections.ansible.windows.plugins.modules.setup.ps1"
    assert raw.script == "vssadmin list writers"
    results = task_results(document, "vm1")
    assert results["ping"]["ping"] == "contract"
    assert document["stats"]["vm1"]["failures"] == 0

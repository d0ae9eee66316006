#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""remediate.azure.vm_info: read a VM's state, guest agent and extensions (read-only)."""

from __future__ import annotations

from ansible_collections.remediate.azure.plugins.module_utils.ansible_arm import new_module, run
from ansible_collections.remediate.azure.plugins.module_utils.arm import parse_vm_id
from ansible_collections.remediate.azure.plugins.module_utils.vm import vm_info

DOCUMENTATION = r"""
module: vm_info
short_description: Read an Azure VM's state, guest agent status and extensions
description:
  - GET the VM with its instance view and its extensions. A VM that ARM does not know (404) is returned with
    C(exists=false); any other error fails the task. Read-only; runs in check mode.
options:
  vm_id:
    description: The VM's resource id.
    type: str
    required: true
extends_documentation_fragment: [remediate.azure.arm]
"""

EXAMPLES = r"""
- name: Read the VM
  remediate.azure.vm_info:
    vm_id: "{{ azure_resource_id }}"
  register: vm
"""

RETURN = r"""
vm:
  description: exists, id, location, os_type, provisioning_state, power_state, agent {status, ready, version,
    message}, extensions [{name, publisher, type, provisioning_state, status}], backup_extension.
  returned: always
  type: dict
"""


def main() -> None:
    module = new_module({"vm_id": {"type": "str", "required": True}}, supports_check_mode=True)
    run(module, "reading the VM",
        lambda s: {"changed": False, "vm": vm_info(s, parse_vm_id(module.params["vm_id"]))})


if __name__ == "__main__":
    main()

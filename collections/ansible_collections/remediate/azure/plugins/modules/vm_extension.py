#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""remediate.azure.vm_extension: remove one VM extension, only if it is the expected one."""

from __future__ import annotations

from ansible_collections.remediate.azure.plugins.module_utils.ansible_arm import new_module, run
from ansible_collections.remediate.azure.plugins.module_utils.arm import ArmError, parse_vm_id
from ansible_collections.remediate.azure.plugins.module_utils.vm import delete_extension, vm_info

DOCUMENTATION = r"""
module: vm_extension
short_description: Remove a VM extension (DELETE, long-running operation followed to its end)
description:
  - Removes the extension C(name) of the VM when its publisher and type are the expected ones; an extension of
    that name with another publisher or type is refused, never deleted. Absent already is no change.
  - Check mode reports what would be deleted and deletes nothing.
options:
  vm_id:
    description: The VM's resource id.
    type: str
    required: true
  name:
    description: The extension's name on the VM.
    type: str
    required: true
  publisher:
    description: The publisher the extension must have.
    type: str
    required: true
  types:
    description: The types the extension may have (e.g. VMSnapshot, VMSnapshotLinux).
    type: list
    elements: str
    required: true
  state:
    description: Only C(absent) is supported.
    type: str
    choices: [absent]
    default: absent
  timeout:
    description: Seconds to wait for the deletion to finish.
    type: int
    default: 1800
extends_documentation_fragment: [remediate.azure.arm]
"""

EXAMPLES = r"""
- name: Remove the backup extension
  remediate.azure.vm_extension:
    vm_id: "{{ azure_resource_id }}"
    name: VMSnapshot
    publisher: Microsoft.Azure.RecoveryServices
    types: [VMSnapshot, VMSnapshotLinux]
    state: absent
"""

RETURN = r"""
extension:
  description: The extension as it was before (name, id, publisher, type, provisioning_state), or null if absent.
  returned: always
  type: dict
"""


def main() -> None:
    module = new_module({
        "vm_id": {"type": "str", "required": True},
        "name": {"type": "str", "required": True},
        "publisher": {"type": "str", "required": True},
        "types": {"type": "list", "elements": "str", "required": True},
        "state": {"type": "str", "choices": ["absent"], "default": "absent"},
        "timeout": {"type": "int", "default": 1800},
    }, supports_check_mode=True)
    p = module.params

    def body(settings) -> dict:
        vm = parse_vm_id(p["vm_id"])
        info = vm_info(settings, vm)
        if not info["exists"]:
            raise ArmError("not_found", f"the VM {vm.id} does not exist (404)")
        ext = next((e for e in info["extensions"] if str(e["name"]).casefold() == p["name"].casefold()), None)
        if ext is None:
            return {"changed": False, "extension": None, "msg": f"extension {p['name']} is not on the VM"}
        if (str(ext["publisher"]).casefold() != p["publisher"].casefold()
                or str(ext["type"]).casefold() not in {t.casefold() for t in p["types"]}):
            raise ArmError("config", f"extension {ext['name']} is {ext['publisher']}.{ext['type']}, not "
                                     f"{p['publisher']}.{'|'.join(p['types'])}: refused")
        diff = {"before": {"extension": ext["name"], "provisioning_state": ext["provisioning_state"]},
                "after": {}, "before_header": ext["id"], "after_header": ext["id"] + " (deleted)"}
        if not module.check_mode:
            delete_extension(settings, vm, ext["name"], p["timeout"])
        return {"changed": True, "extension": ext, "diff": diff,
                "msg": f"{'would delete' if module.check_mode else 'deleted'} extension {ext['name']} "
                       f"({ext['publisher']}.{ext['type']}, {ext['provisioning_state']})"}

    run(module, f"removing extension {p['name']}", body)


if __name__ == "__main__":
    main()

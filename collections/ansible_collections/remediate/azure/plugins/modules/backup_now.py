#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""remediate.azure.backup_now: an on-demand backup of a VM, optionally followed to its end."""

from __future__ import annotations

from ansible_collections.remediate.azure.plugins.module_utils.ansible_arm import new_module, run
from ansible_collections.remediate.azure.plugins.module_utils.arm import ArmError, parse_vm_id
from ansible_collections.remediate.azure.plugins.module_utils.backup import backup_status, follow, trigger, vault_of
from ansible_collections.remediate.azure.plugins.module_utils.vm import vm_info

DOCUMENTATION = r"""
module: backup_now
short_description: Trigger an on-demand backup of a VM's protected item and follow its job
description:
  - Asks Azure Backup which vault protects the VM (backupStatus of the VM's region), triggers a backup of its
    protected item, and with C(wait) follows the job until it completes, fails, or C(timeout) seconds pass.
  - A job that fails is not a module failure: C(backup.status) says C(failed) with the job's error. The module
    fails only when it cannot ask (authentication, network, ARM errors).
  - A VM that no vault protects returns C(backup.status=unavailable) and triggers nothing.
  - Check mode finds the protected item and triggers nothing.
options:
  vm_id:
    description: The VM's resource id.
    type: str
    required: true
  location:
    description: The VM's region (read from the VM when omitted).
    type: str
  vault_id:
    description: The vault expected to protect the VM (default the one Azure Backup names).
    type: str
  wait:
    description: Follow the job until it ends.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the job.
    type: int
    default: 1800
  poll_interval:
    description: Seconds between two reads of the job.
    type: int
    default: 30
  retain_days:
    description: Days to keep the on-demand recovery point.
    type: int
    default: 30
extends_documentation_fragment: [remediate.azure.arm]
"""

EXAMPLES = r"""
- name: Back up now and wait for the job
  remediate.azure.backup_now:
    vm_id: "{{ azure_resource_id }}"
    timeout: 1800
  register: backup
"""

RETURN = r"""
backup:
  description: status (succeeded | failed | timeout | unavailable | triggered | would-trigger), job_id, error_code,
    error_message, vault_id, item, job.
  returned: always
  type: dict
"""


def main() -> None:
    module = new_module({
        "vm_id": {"type": "str", "required": True},
        "location": {"type": "str"},
        "vault_id": {"type": "str"},
        "wait": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 1800},
        "poll_interval": {"type": "int", "default": 30},
        "retain_days": {"type": "int", "default": 30},
    }, supports_check_mode=True)
    p = module.params

    def body(settings) -> dict:
        if not 1 <= p["timeout"] <= 86400 or not 1 <= p["poll_interval"] <= 3600 or not 1 <= p["retain_days"] <= 99:
            raise ArmError("config", "timeout 1-86400, poll_interval 1-3600 and retain_days 1-99 are the bounds")
        vm = parse_vm_id(p["vm_id"])
        location = p["location"]
        if not location:
            info = vm_info(settings, vm)
            if not info["exists"]:
                return {"changed": False, "backup": {
                    "status": "unavailable", "job_id": None, "error_code": "ResourceNotFound",
                    "error_message": f"the VM {vm.id} does not exist (404)"}}
            location = info["location"]
        status = backup_status(settings, vm, location)
        if not status["protected"] or not status["container"] or not status["item"]:
            return {"changed": False, "backup": {
                "status": "unavailable", "job_id": None, "error_code": status.get("error_code"),
                "error_message": f"the VM is not protected by Azure Backup (protection status "
                                 f"{status['status'] or 'unknown'})"}}
        vault = vault_of(status, p["vault_id"])
        found = {"vault_id": vault.id, "container": status["container"], "item": status["item"]}
        if module.check_mode:
            return {"changed": True, "backup": {"status": "would-trigger", "job_id": None, "error_code": None,
                                                "error_message": None} | found,
                    "msg": f"would back up {status['item']} in vault {vault.name}"}
        operation = trigger(settings, vault, status, retain_days=p["retain_days"])
        if not p["wait"]:
            return {"changed": True, "backup": {"status": "triggered", "job_id": None, "operation_id": operation,
                                                "error_code": None, "error_message": None} | found}
        result = follow(settings, vault, operation, timeout=p["timeout"], interval=p["poll_interval"])
        return {"changed": True, "backup": result | found,
                "msg": f"backup of {status['item']} {result['status']}"}

    run(module, "backing up the VM", body)


if __name__ == "__main__":
    main()

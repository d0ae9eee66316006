#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""remediate.azure.restore_point_info: a VM's restore point groups, their locks and collections (read-only)."""

from __future__ import annotations

from ansible_collections.remediate.azure.plugins.module_utils.ansible_arm import new_module, run
from ansible_collections.remediate.azure.plugins.module_utils.arm import parse_vm_id
from ansible_collections.remediate.azure.plugins.module_utils.restore_points import (
    DEFAULT_GROUP_PATTERN,
    RESTORE_POINT_LIMIT,
    restore_point_info,
)

DOCUMENTATION = r"""
module: restore_point_info
short_description: Find the restore point resource groups of a VM's region, their locks and the VM's collections
description:
  - Lists the resource groups of the VM's subscription whose name matches C(group_pattern) (default
    C(AzureBackupRG_<location>_<n>)), the management locks that apply to each, and the restore point collections
    in them whose source is the VM, with their number of restore points. Read-only; runs in check mode.
options:
  vm_id:
    description: The VM's resource id.
    type: str
    required: true
  location:
    description: The VM's region (as ARM spells it, e.g. westeurope).
    type: str
    required: true
  group_pattern:
    description: Regular expression of the group names; C({location}) stands for the region.
    type: str
    default: ^AzureBackupRG_{location}_\d+$
  limit:
    description: Instant restore points a VM may have.
    type: int
    default: 18
extends_documentation_fragment: [remediate.azure.arm]
"""

EXAMPLES = r"""
- name: Find what blocks the restore point cleanup
  remediate.azure.restore_point_info:
    vm_id: "{{ azure_resource_id }}"
    location: westeurope
  register: rp
"""

RETURN = r"""
restore_points:
  description: location, pattern, limit, groups [{name, locks, collections}], locks (every lock, with its group and
    scope), removable_locks (locks set on a group itself), at_limit (collections with limit or more points).
  returned: always
  type: dict
"""


def main() -> None:
    module = new_module({
        "vm_id": {"type": "str", "required": True},
        "location": {"type": "str", "required": True},
        "group_pattern": {"type": "str", "default": DEFAULT_GROUP_PATTERN},
        "limit": {"type": "int", "default": RESTORE_POINT_LIMIT},
    }, supports_check_mode=True)
    p = module.params
    run(module, "reading the restore point groups", lambda s: {"changed": False, "restore_points": restore_point_info(
        s, parse_vm_id(p["vm_id"]), p["location"], p["group_pattern"], p["limit"])})


if __name__ == "__main__":
    main()

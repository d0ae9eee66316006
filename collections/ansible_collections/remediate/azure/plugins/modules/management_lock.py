#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""remediate.azure.management_lock: remove a management lock set on a resource group."""

from __future__ import annotations

from ansible_collections.remediate.azure.plugins.module_utils.ansible_arm import new_module, run
from ansible_collections.remediate.azure.plugins.module_utils.arm import LOCK_ID_RE, ArmError, arm_error, client, raw
from ansible_collections.remediate.azure.plugins.module_utils.restore_points import delete_lock

DOCUMENTATION = r"""
module: management_lock
short_description: Remove a management lock set on a resource group
description:
  - Deletes the lock named by its full id (C(/subscriptions/<s>/resourceGroups/<rg>/providers/
    Microsoft.Authorization/locks/<name>)). Locks set on a resource inside the group are refused. A lock that is
    already gone is no change. Check mode reports what would be deleted and deletes nothing.
options:
  lock_id:
    description: The lock's resource id.
    type: str
    required: true
  state:
    description: Only C(absent) is supported.
    type: str
    choices: [absent]
    default: absent
extends_documentation_fragment: [remediate.azure.arm]
"""

EXAMPLES = r"""
- name: Remove the lock
  remediate.azure.management_lock:
    lock_id: "{{ item.id }}"
  loop: "{{ rp.restore_points.removable_locks }}"
    state: absent
"""

RETURN = r"""
lock:
  description: The lock before (id, name, level, notes), or null if it was already gone.
  returned: always
  type: dict
"""


def main() -> None:
    module = new_module({
        "lock_id": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["absent"], "default": "absent"},
    }, supports_check_mode=True)
    lock_id = module.params["lock_id"]

    def body(settings) -> dict:
        m = LOCK_ID_RE.fullmatch(lock_id)
        if not m or m["resource"]:
            raise ArmError("config", f"not the id of a lock set on a resource group: {lock_id[:200]!r}")
        try:
            lock = raw(client("locks", settings, m["sub"]).management_locks.get_at_resource_group_level(
                m["rg"], m["name"]))
        except Exception as exc:  # noqa: BLE001
            err = arm_error(exc)
            if err.kind == "not_found":
                return {"changed": False, "lock": None, "msg": f"lock {m['name']} is not on {m['rg']}"}
            raise err from None
        props = lock.get("properties") or {}
        before = {"id": lock.get("id") or lock_id, "name": lock.get("name"), "level": props.get("level"),
                  "notes": props.get("notes")}
        if not module.check_mode:
            delete_lock(settings, lock_id)
        return {"changed": True, "lock": before,
                "diff": {"before": {"lock": before["name"], "level": before["level"]}, "after": {},
                         "before_header": before["id"], "after_header": before["id"] + " (deleted)"},
                "msg": f"{'would delete' if module.check_mode else 'deleted'} lock {before['name']} "
                       f"({before['level']}) on {m['rg']}"}

    run(module, "removing the lock", body)


if __name__ == "__main__":
    main()

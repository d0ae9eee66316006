# SPDX-License-Identifier: Apache-2.0
"""Where Azure Backup keeps a VM's instant restore points, and what blocks their cleanup.

Restore point collections (Microsoft.Compute/restorePointCollections, source = the VM) live in the resource group
AzureBackupRG_<geo>_<n> of the VM's region; a management lock on that group blocks the automatic cleanup, and a VM
has at most 18 instant restore points.
"""

from __future__ import annotations

import re

from .arm import LOCK_ID_RE, ArmError, Settings, VmId, arm_error, client, raw

RESTORE_POINT_LIMIT = 18
DEFAULT_GROUP_PATTERN = r"^AzureBackupRG_{location}_\d+$"


def group_regex(pattern: str, location: str) -> re.Pattern:
    try:
        return re.compile(pattern.replace("{location}", re.escape(location or "")), re.I)
    except re.error as exc:
        raise ArmError("config", f"invalid resource group pattern {pattern!r}: {exc}") from None


def lock_scope(lock_id: str) -> dict:
    """{'resource_group': rg, 'resource': '/providers/...' | None} for a lock id."""
    m = LOCK_ID_RE.fullmatch(lock_id or "")
    if not m:
        return {"resource_group": None, "resource": None, "kind": "other"}
    return {"resource_group": m["rg"], "resource": m["resource"],
            "kind": "resource" if m["resource"] else "resource_group"}


def restore_point_info(settings: Settings, vm: VmId, location: str, pattern: str = DEFAULT_GROUP_PATTERN,
                       limit: int = RESTORE_POINT_LIMIT, cred=None) -> dict:
    """{groups: [{name, locks: [...], collections: [{name, id, restore_points}]}], locks, at_limit}."""
    regex = group_regex(pattern, location)
    try:
        resources = client("resources", settings, vm.subscription, cred)
        locks_client = client("locks", settings, vm.subscription, cred)
        compute = client("compute", settings, vm.subscription, cred)
        names = sorted(str(g.name) for g in resources.resource_groups.list() if regex.fullmatch(str(g.name)))
        groups = []
        for name in names:
            collections = []
            for rpc in compute.restore_point_collections.list(name):
                data = raw(rpc)
                source = str(((data.get("properties") or {}).get("source") or {}).get("id") or "")
                if source.rstrip("/").casefold() != vm.id.casefold():
                    continue
                full = raw(compute.restore_point_collections.get(name, str(data.get("name")),
                                                                 expand="restorePoints"))
                points = (full.get("properties") or {}).get("restorePoints") or []
                collections.append({"name": data.get("name"), "id": data.get("id"), "restore_points": len(points)})
            mine = {str(c["id"]).casefold() for c in collections}
            locks = []
            for lock in locks_client.management_locks.list_at_resource_group_level(name):
                data = raw(lock)
                props = data.get("properties") or {}
                lid = str(data.get("id") or "")
                scope = lock_scope(lid)
                resource = (f"/subscriptions/{vm.subscription}/resourceGroups/{name}{scope['resource']}".casefold()
                            if scope["resource"] else None)
                if resource and resource not in mine:
                    continue  # a lock on another resource of the group (another VM's collection) is not ours
                locks.append({"id": lid, "name": data.get("name"), "level": props.get("level"),
                              "notes": props.get("notes"), "scope": scope})
            groups.append({"name": name, "locks": locks, "collections": collections})
    except ArmError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None
    all_locks = [lk | {"group": g["name"]} for g in groups for lk in g["locks"]]
    full = [c | {"group": g["name"]} for g in groups for c in g["collections"] if c["restore_points"] >= limit]
    return {"location": location, "pattern": regex.pattern, "limit": limit, "groups": groups, "locks": all_locks,
            "removable_locks": [lk for lk in all_locks if lk["scope"]["kind"] == "resource_group"],
            "at_limit": full}


def delete_lock(settings: Settings, lock_id: str, cred=None) -> None:
    m = LOCK_ID_RE.fullmatch(lock_id or "")
    if not m or m["resource"]:
        raise ArmError("config", f"only a lock set on a resource group is removed here: {lock_id[:200]!r}")
    try:
        locks = client("locks", settings, m["sub"], cred)
        locks.management_locks.delete_at_resource_group_level(m["rg"], m["name"])
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None

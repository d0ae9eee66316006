"""win_stat, win_file, win_acl, win_acl_inheritance."""

from __future__ import annotations

import hashlib
import ntpath
from typing import Any

from lab.windows import filestore
from lab.windows.modules import ModuleContext, module


@module("win_stat")
def win_stat(ctx: ModuleContext) -> None:
    path = ctx.params["path"]
    found = filestore.find(ctx.state, path)
    if found is None:
        ctx.result["stat"] = {"exists": False}
        return
    key, entry = found
    is_dir = entry["type"] == "directory"
    stat: dict[str, Any] = {
        "exists": True,
        "path": path,
        "filename": ntpath.basename(key),
        "isdir": is_dir,
        "isreg": not is_dir,
        "islnk": False,
        "isshared": False,
        "isjunction": False,
        "ishidden": False,
        "isreadonly": False,
        "isarchive": not is_dir,
        "attributes": "Directory" if is_dir else "Archive",
        "owner": entry.get("owner", "BUILTIN\\Administrators"),
        "creationtime": 1767225600.0,
        "lastaccesstime": 1767225600.0,
        "lastwritetime": 1767225600.0,
        "hlnk_targets": [],
        "nlink": 1,
    }
    if not is_dir:
        stat["extension"] = ntpath.splitext(key)[1]
        if ctx.params["get_size"]:
            stat["size"] = int(entry.get("size", 0))
        if ctx.params["get_checksum"]:
            content = str(entry.get("content", "")).encode()
            stat["checksum"] = hashlib.new(ctx.params["checksum_algorithm"], content).hexdigest()
        if entry.get("version"):
            stat["file_version"] = entry["version"]  # not returned by the real module; lab convenience only
    elif ctx.params["get_size"]:
        stat["size"] = 0
    ctx.result["stat"] = stat


@module("win_file")
def win_file(ctx: ModuleContext) -> None:
    p = ctx.params
    path, state_wanted = p["path"], p["state"]
    for option in ("modification_time", "access_time"):
        if p[option] is not None:
            ctx.fail(f"lab.windows simulator: win_file option {option} is not simulated")
    found = filestore.find(ctx.state, path)
    if state_wanted == "touch":
        if found is None:
            if not ctx.check_mode:
                filestore.create(ctx.state, path, "file")
        ctx.result["changed"] = True
        return
    if found is not None:
        entry = found[1]
        if state_wanted == "absent":
            if not ctx.check_mode:
                filestore.remove(ctx.state, path)
            ctx.result["changed"] = True
        elif state_wanted == "directory" and entry["type"] != "directory":
            ctx.fail(f"path {path} is not a directory")
        elif state_wanted == "file" and entry["type"] == "directory":
            ctx.fail(f"path {path} is not a file")
        return
    if state_wanted is None:
        state_wanted = "file" if ntpath.basename(path.rstrip()) else "directory"
    if state_wanted == "directory":
        if not ctx.check_mode:
            filestore.create(ctx.state, path, "directory")
        ctx.result["changed"] = True
    elif state_wanted == "file":
        ctx.fail(f"path {path} will not be created")


def _user(name: str) -> str:
    aliases = {
        "administrators": "BUILTIN\\Administrators",
        "users": "BUILTIN\\Users",
        "everyone": "Everyone",
        "system": "NT AUTHORITY\\SYSTEM",
        "nt authority\\system": "NT AUTHORITY\\SYSTEM",
    }
    return aliases.get(name.lower(), name)


def _mask(ctx: ModuleContext, rights: str) -> int:
    try:
        return filestore.rights_mask(rights)
    except ValueError as exc:
        p = ctx.params
        ctx.fail(
            f"an error occurred when attempting to {p['state']} {rights} permission(s) on {p['path']} for "
            f"{p['user']} - {exc}"
        )
        raise


@module("win_acl")
def win_acl(ctx: ModuleContext) -> None:
    p = ctx.params
    path = p["path"]
    if p["follow"]:
        ctx.fail("lab.windows simulator: win_acl option follow is not simulated")
    if path.lower().startswith(("hk", "cert:")):
        ctx.fail(f"lab.windows simulator: win_acl on {path} (registry / certificate ACLs) is not simulated")
    found = filestore.find(ctx.state, path)
    if found is None:
        ctx.fail(f"{path} file or directory does not exist on the host")
    entry = found[1]
    inherit = p["inherit"]
    if inherit is None:
        inherit = "ContainerInherit, ObjectInherit" if entry["type"] == "directory" else "None"
    wanted = {
        "user": _user(p["user"]).lower(),
        "type": p["type"],
        "rights": _mask(ctx, p["rights"]),
        "inherit": frozenset(i.strip() for i in inherit.split(",")),
        "propagation": p["propagation"],
    }
    rules = filestore.acl(entry) if "acl" in entry else filestore.acl(dict(entry))
    match = None
    for rule in rules:
        if (
            rule["user"].lower() == wanted["user"]
            and rule["type"] == wanted["type"]
            and filestore.rights_mask(rule["rights"]) == wanted["rights"]
            and not rule.get("inherited")
            and frozenset(i.strip() for i in (rule.get("inherit") or "None").split(",")) == wanted["inherit"]
            and (rule.get("propagation") or "None") == wanted["propagation"]
        ):
            match = rule
            break
    if p["state"] == "present" and match is None:
        if not ctx.check_mode:
            filestore.acl(filestore.materialise(ctx.state, path)).append(
                {
                    "user": _user(p["user"]),
                    "type": p["type"],
                    "rights": p["rights"],
                    "inherit": inherit,
                    "propagation": p["propagation"],
                    "inherited": False,
                }
            )
        ctx.result["changed"] = True
    elif p["state"] == "absent" and match is not None:
        if not ctx.check_mode:
            filestore.materialise(ctx.state, path)["acl"].remove(match)
        ctx.result["changed"] = True
    else:
        ctx.result["msg"] = (
            "the specified rule already exists" if match is not None else "the specified rule does not exist"
        )


@module("win_acl_inheritance")
def win_acl_inheritance(ctx: ModuleContext) -> None:
    p = ctx.params
    if p["path"].lower().startswith(("hk", "cert:")):
        ctx.fail(
            f"lab.windows simulator: win_acl_inheritance on {p['path']} (registry ACLs) is not simulated"
        )
    found = filestore.find(ctx.state, p["path"])
    if found is None:
        ctx.fail(f"{p['path']} does not exist")
    enabled = found[1].get("inherit", True)
    ctx.diff["before"] = {"state": "present" if enabled else "absent"}
    wanted = p["state"] == "present"
    ctx.diff["after"] = {"state": p["state"]}  # also in check mode: the real module reports the new state
    if enabled == wanted:
        return
    ctx.result["changed"] = True
    if ctx.check_mode:
        return
    stored = filestore.materialise(ctx.state, p["path"])
    rules = filestore.acl(stored)
    stored["inherit"] = wanted
    if wanted:
        # inherited rules come back from the parent; reorganize drops explicit rules that duplicate them
        inherited = filestore.acl({})
        explicit = [r for r in rules if not r.get("inherited")]
        if p["reorganize"]:
            keys = {(r["user"].lower(), r["type"], filestore.rights_mask(r["rights"])) for r in inherited}
            explicit = [
                r
                for r in explicit
                if (r["user"].lower(), r["type"], filestore.rights_mask(r["rights"])) not in keys
            ]
        stored["acl"] = explicit + inherited
    elif p["reorganize"]:
        for rule in rules:  # SetAccessRuleProtection(true, preserve=true): inherited rules become explicit
            rule["inherited"] = False
    else:
        stored["acl"] = [r for r in rules if not r.get("inherited")]

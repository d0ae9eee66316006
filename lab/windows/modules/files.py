"""win_stat, win_file, win_acl, win_acl_inheritance."""

from __future__ import annotations

import ntpath
import re
from typing import Any

from lab.windows import accounts, filestore, transfer
from lab.windows.acl import Ace, DotNetException, FileSystemSecurity, access_mask_from_rights, ace_flags, check_rule
from lab.windows.modules import ModuleContext, module
from lab.windows.netenum import FILE_SYSTEM_RIGHTS, INHERITANCE_FLAGS, PROPAGATION_FLAGS, CastError
from lab.windows.powershell.errors import NotSimulated


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
        "owner": filestore.owner(ctx.state, key),
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
            stat["checksum"] = transfer.checksum(entry, ctx.params["checksum_algorithm"])  # text or binary bytes
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


def _method_message(name: str, args: int, exc: DotNetException) -> str:
    """$_.Exception.Message of a .NET method that threw, as PowerShell wraps it."""
    return f'Exception calling "{name}" with "{args}" argument(s): "{exc.message}"'


def _not_simulated_path(ctx: ModuleContext, path: str, option: str = "") -> None:
    if path.startswith(("\\\\", "//")) and filestore.local_share(path) is None:
        ctx.fail(
            f"lab.windows simulator: {ctx.name} on network (UNC) paths other than this host's administrative "
            f"shares is not simulated ({path})"
        )
    qualifier = re.match(r"^([A-Za-z][A-Za-z0-9_]*):", path)
    if qualifier and qualifier.group(1).upper() != "C":
        kind = "certificate" if qualifier.group(1).lower() == "cert" else "registry"
        ctx.fail(f"lab.windows simulator: {ctx.name} on {path} ({kind} ACLs) is not simulated")


def _not_simulated(handler: Any) -> Any:
    """An ACL construct the lab does not model fails the task naming it."""

    def run(ctx: ModuleContext) -> None:
        try:
            handler(ctx)
        except NotSimulated as exc:
            ctx.fail(f"lab.windows simulator: {ctx.name}: {exc} is not simulated")

    run.__doc__ = handler.__doc__
    return run


@module("win_acl")
@_not_simulated
def win_acl(ctx: ModuleContext) -> None:
    """win_acl.ps1: resolve the account (Convert-ToSID), cast the rights, build the FileSystemAccessRule, look for
    an identical rule among the explicit and inherited ones (line 199), then AddAccessRule / RemoveAccessRule."""
    p = ctx.params
    path, user, rights, state_wanted = p["path"], p["user"], p["rights"], p["state"]
    if p["follow"]:
        ctx.fail("lab.windows simulator: win_acl option follow (links) is not simulated")
    _not_simulated_path(ctx, path)
    found = filestore.find(ctx.state, path)
    if found is None:  # line 132
        ctx.fail(f"{path} file or directory does not exist on the host")
        return
    try:  # line 137: Get-UserSID -> Convert-ToSID
        sid = accounts.to_sid(ctx.state, user)
    except accounts.AccountNotFound as exc:
        ctx.fail(
            f"account_name {user} is not a valid account, cannot get SID: "
            f'Exception calling "Translate" with "1" argument(s): "{exc}"'
        )
        return
    inherit = p["inherit"]
    if found[1].get("type") != "directory":  # line 142: a leaf gets no inheritance flags
        inherit = "None"
    elif inherit is None:
        inherit = "ContainerInherit, ObjectInherit"
    failure = f"an error occurred when attempting to {state_wanted} {rights} permission(s) on {path} for {user} - "
    try:  # lines 166-191
        mask_rights = FILE_SYSTEM_RIGHTS.parse(rights)
        inheritance = INHERITANCE_FLAGS.parse(inherit)
        propagation = PROPAGATION_FLAGS.parse(p["propagation"])
    except CastError as exc:
        ctx.fail(failure + str(exc))
        return
    allow = p["type"] == "allow"
    try:
        mask = access_mask_from_rights(mask_rights, allow)
        check_rule(mask, inheritance, propagation)
    except DotNetException as exc:
        ctx.fail(failure + _method_message(".ctor", 5, exc))
        return
    rule = Ace(sid, allow, mask, ace_flags(inheritance, propagation))
    sd = filestore.security(ctx.state, path)  # line 193: Get-ACL
    match = any(  # lines 199-239
        existing.mask == rule.mask
        and existing.allow == rule.allow
        and existing.sid == rule.sid
        and not existing.inherited
        and existing.inheritance == rule.inheritance
        and existing.propagation == rule.propagation
        for existing in sd.rules(True, True)
    )
    # line 242 (present, no match): AddAccessRule; line 272 (absent, a match): RemoveAccessRule; then the ACL is set
    change = {"present": (not match, "adding", "AddAccessRule", sd.add_access_rule),
              "absent": (match, "removing", "RemoveAccessRule", sd.remove_access_rule)}[state_wanted]
    if change[0]:
        _, doing, method, apply = change
        if not ctx.check_mode:
            try:
                apply(rule)
            except DotNetException as exc:
                ctx.fail(f"an exception occurred when {doing} the specified rule - " + _method_message(method, 1, exc))
            filestore.write_security(ctx.state, path, sd)
        ctx.result["changed"] = True
    else:
        ctx.result["msg"] = "the specified rule already exists" if match else "the specified rule does not exist"


def _remove_explicit_duplicates(sd: FileSystemSecurity) -> None:
    """Remove-AclExplicitDuplicate (win_acl_inheritance.ps1 line 77): on the ACL object it is given, explicit rules
    equal to an inherited one in every property but IsInherited are removed."""
    for inherited in sd.rules(explicit=False, inherited=True):
        for explicit in sd.rules(explicit=True, inherited=False):
            if (explicit.mask, explicit.allow, explicit.sid, explicit.inheritance, explicit.propagation) == (
                inherited.mask, inherited.allow, inherited.sid, inherited.inheritance, inherited.propagation
            ):
                sd.remove_access_rule(explicit)


@module("win_acl_inheritance")
@_not_simulated
def win_acl_inheritance(ctx: ModuleContext) -> None:
    """win_acl_inheritance.ps1: protection changes on the ACL object read by Get-AclEx, written with Set-AclEx
    (not in check mode); with reorganize, re-enabling writes once, deduplicates that same object, writes again."""
    p = ctx.params
    path = p["path"]
    _not_simulated_path(ctx, path)
    if filestore.find(ctx.state, path) is None:  # line 139
        ctx.fail(f"{path} does not exist")
    sd = filestore.security(ctx.state, path)  # line 144
    ctx.diff["before"] = {"state": "absent" if sd.protected else "present"}

    def write() -> None:
        if not ctx.check_mode:
            filestore.write_security(ctx.state, path, sd)

    if p["state"] == "present" and sd.protected:  # line 154
        sd.set_access_rule_protection(False, False)
        if p["reorganize"]:
            write()
            _remove_explicit_duplicates(sd)
        write()
        ctx.result["changed"] = True
    if p["state"] == "absent" and not sd.protected:  # line 169
        sd.set_access_rule_protection(True, p["reorganize"])
        write()
        ctx.result["changed"] = True
    if not ctx.check_mode:
        sd = filestore.security(ctx.state, path)
    ctx.diff["after"] = {"state": "absent" if sd.protected else "present"}

"""Path and item cmdlets over the providers: Test-Path, Split-Path, Join-Path, Get-Item, Get-ChildItem, New-Item,
Remove-Item, Get/Set/Add-Content, Get-Acl, Set-Acl, New-PSDrive, Push/Pop/Set/Get-Location.

`-Path` expands wildcards (`*`, `?`, `[...]`) against the existing items; `-LiteralPath` never does (Windows'
behaviour, which matters for names like `win_acl [$!@^&test(;)]`).
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows import regstore
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.errors import NotSimulated, PSError
from lab.windows.powershell.providers import (
    PROVIDERS,
    PathInfo,
    PSDriveInfo,
    Resolved,
    drive_table,
    resolve,
)
from lab.windows.powershell.values import enumerate_value, like, to_string
from lab.windows.wildcard import has_wildcards

PATH = Param("Path", position=0)
LITERAL = Param("LiteralPath", aliases=("PSPath", "LP"))


def expand(ctx: Any, pattern: str) -> list[Resolved]:
    """The existing items a wildcard -Path matches (each path component may hold wildcards)."""
    resolved = resolve(ctx, pattern)
    parts = resolved.path.split("\\")
    current = [parts[0] + "\\"]
    for part in [p for p in parts[1:] if p]:
        following = []
        for base in current:
            if has_wildcards(part):
                following += [c for c in resolved.provider.children(ctx, base)
                              if like(c.rsplit("\\", 1)[-1], part)]
            else:
                following.append(resolved.provider.join(base, part))
        current = following
    return [Resolved(resolved.provider, path, resolved.drive) for path in current
            if resolved.provider.exists(ctx, path)]


def targets(call: Call, *, must_exist: bool = True) -> list[tuple[str, Resolved]]:
    """(path as given, resolved) for -LiteralPath or -Path (wildcards expanded)."""
    out: list[tuple[str, Resolved]] = []
    if call.has("LiteralPath"):
        for text in enumerate_value(call.get("LiteralPath")):
            out.append((to_string(text), resolve(call.ctx, to_string(text))))
        return out
    for text in enumerate_value(call.get("Path")) if call.has("Path") else [call.ctx.location]:
        raw = to_string(text)
        if has_wildcards(raw) and must_exist:
            matches = expand(call.ctx, raw)
            if not matches:
                call.error(f"Cannot find path '{raw}' because it does not exist.",
                           exception_type="System.Management.Automation.ItemNotFoundException",
                           category="ObjectNotFound", error_id="PathNotFound", target=raw)
            out += [(m.path, m) for m in matches]
        else:
            out.append((raw, resolve(call.ctx, raw)))
    return out


def _each_existing(call: Call) -> list[tuple[str, Resolved]]:
    found = []
    for given, resolved in targets(call):
        if resolved.provider.exists(call.ctx, resolved.path):
            found.append((given, resolved))
        else:
            call.error(f"Cannot find path '{given}' because it does not exist.",
                       exception_type="System.Management.Automation.ItemNotFoundException",
                       category="ObjectNotFound", error_id="PathNotFound", target=given)
    return found


@cmdlet("Test-Path", PATH, LITERAL, Param("PathType", aliases=("Type",)), Param("IsValid", switch=True),
        pipeline=False)
def test_path(call: Call) -> list[bool]:
    kind = to_string(call.get("PathType", "Any")).lower()
    if kind not in ("any", "container", "leaf"):
        call.fail(f"Cannot bind parameter 'PathType'. Cannot convert value \"{call.get('PathType')}\" to type "
                  '"Microsoft.PowerShell.Commands.TestPathType".', category="InvalidArgument")
    if call.flag("IsValid"):
        raise NotSimulated("Test-Path -IsValid")
    out = []
    raw_paths = enumerate_value(call.get("LiteralPath") if call.has("LiteralPath") else call.get("Path"))
    for raw in raw_paths:
        text = to_string(raw)
        try:
            if call.has("Path") and has_wildcards(text):
                matches = expand(call.ctx, text)
            else:
                resolved = resolve(call.ctx, text)
                matches = [resolved] if resolved.provider.exists(call.ctx, resolved.path) else []
        except PSError as error:
            if error.error_id == "DriveNotFound":
                out.append(False)
                continue
            raise
        if kind == "any":
            out.append(bool(matches))
        else:
            containers = [m.provider.is_container(call.ctx, m.path) for m in matches]
            out.append(any(containers) if kind == "container" else any(not c for c in containers))
    return out


def _qualifier(path: str) -> str | None:
    match = re.match(r"^([A-Za-z][A-Za-z0-9_]*:)", path)
    return match.group(1) if match else None


@cmdlet("Split-Path", PATH, LITERAL, Param("Qualifier", switch=True), Param("NoQualifier", switch=True),
        Param("Parent", switch=True), Param("Leaf", switch=True), Param("IsAbsolute", switch=True),
        Param("Resolve", switch=True), pipeline=False)
def split_path(call: Call) -> list[Any]:
    if call.flag("Resolve"):
        raise NotSimulated("Split-Path -Resolve")
    out: list[Any] = []
    for raw in enumerate_value(call.get("LiteralPath") if call.has("LiteralPath") else call.get("Path")):
        path = to_string(raw)
        qualifier = _qualifier(path)
        if call.flag("Qualifier"):
            if qualifier is None:
                call.error(f"Cannot parse path because path '{path}' does not have a qualifier specified.",
                           exception_type="System.Management.Automation.PSArgumentException",
                           category="InvalidArgument", error_id="ParsePathFormatError", target=path)
                continue
            out.append(qualifier)
        elif call.flag("NoQualifier"):
            out.append(path[len(qualifier) :] if qualifier else path)
        elif call.flag("IsAbsolute"):
            out.append(bool(qualifier) or path.startswith("\\"))
        elif call.flag("Leaf"):
            out.append(path.rstrip("\\").rsplit("\\", 1)[-1].split(":", 1)[-1])
        else:
            trimmed = path.rstrip("\\")
            if "\\" not in trimmed:
                out.append("" if not qualifier or trimmed == qualifier else qualifier + "\\")
            else:
                head = trimmed.rsplit("\\", 1)[0]
                out.append(head + "\\" if head == qualifier else head)
    return out


@cmdlet("Join-Path", Param("Path", position=0), Param("ChildPath", position=1), pipeline=False)
def join_path(call: Call) -> list[str]:
    child = to_string(call.get("ChildPath"))
    return [to_string(p).rstrip("\\") + "\\" + child.lstrip("\\") for p in enumerate_value(call.get("Path"))]


@cmdlet("Get-Item", PATH, LITERAL, Param("Force", switch=True), aliases=("gi",))
def get_item(call: Call) -> list[Any]:
    return [resolved.provider.item(call.ctx, resolved.path) for _, resolved in _each_existing(call)]


@cmdlet("Get-ChildItem", PATH, LITERAL, Param("Force", switch=True), aliases=("gci", "dir", "ls"))
def get_child_item(call: Call) -> list[Any]:
    out = []
    for _, resolved in _each_existing(call):
        provider = resolved.provider
        if not provider.is_container(call.ctx, resolved.path):
            out.append(provider.item(call.ctx, resolved.path))
            continue
        out += [provider.item(call.ctx, child) for child in provider.children(call.ctx, resolved.path)]
    return out


@cmdlet("New-Item", Param("Path", position=0), Param("Name"), Param("ItemType", aliases=("Type",)),
        Param("Value"), Param("Force", switch=True), aliases=("ni",))
def new_item(call: Call) -> list[Any]:
    out = []
    for raw in enumerate_value(call.get("Path", call.ctx.location)):
        path = to_string(raw)
        if call.has("Name"):
            path = path.rstrip("\\") + "\\" + to_string(call.get("Name"))
        resolved = resolve(call.ctx, path)  # New-Item's -Path takes no wildcards
        item_type = to_string(call.get("ItemType", ""))
        try:
            out.append(resolved.provider.new_item(call.ctx, resolved.path, item_type, call.get("Value"),
                                                  call.flag("Force")))
        except PSError as error:
            error.command = "New-Item"
            call.ctx.write_error(error, call.error_action)
    return out


@cmdlet("Remove-Item", PATH, LITERAL, Param("Force", switch=True), Param("Recurse", switch=True),
        aliases=("rm", "del", "ri", "rmdir", "erase"))
def remove_item(call: Call) -> list[Any]:
    for _, resolved in _each_existing(call):
        try:
            resolved.provider.remove(call.ctx, resolved.path, call.flag("Recurse"))
        except PSError as error:
            error.command = "Remove-Item"
            call.ctx.write_error(error, call.error_action)
    return []


def _content_text(call: Call) -> str:
    values = [to_string(v) for v in enumerate_value(call.get("Value"))] if call.has("Value") else [
        to_string(v) for v in call.input or []]
    if call.flag("NoNewline"):
        return "".join(values)
    return "".join(v + "\r\n" for v in values)


def _write_content(call: Call, append: bool) -> list[Any]:
    for _, resolved in targets(call, must_exist=False):
        try:
            resolved.provider.set_content(call.ctx, resolved.path, _content_text(call), append)
        except PSError as error:
            error.command = call.name
            call.ctx.write_error(error, call.error_action)
    return []


@cmdlet("Set-Content", PATH, LITERAL, Param("Value", position=1), Param("Encoding"), Param("Force", switch=True),
        Param("NoNewline", switch=True), aliases=("sc",), pipeline=True)  # `sc` is Set-Content; sc.exe is native
def set_content(call: Call) -> list[Any]:
    return _write_content(call, append=False)


@cmdlet("Add-Content", PATH, LITERAL, Param("Value", position=1), Param("Encoding"), Param("Force", switch=True),
        Param("NoNewline", switch=True), aliases=("ac",), pipeline=True)
def add_content(call: Call) -> list[Any]:
    return _write_content(call, append=True)


@cmdlet("Get-Content", PATH, LITERAL, Param("Raw", switch=True), Param("Encoding"), aliases=("gc", "cat", "type"))
def get_content(call: Call) -> list[Any]:
    out: list[Any] = []
    for _, resolved in _each_existing(call):
        text = resolved.provider.get_content(call.ctx, resolved.path)
        if call.flag("Raw"):
            out.append(text)
        else:
            lines = text.replace("\r\n", "\n").split("\n")
            out += lines[:-1] if lines and lines[-1] == "" else lines
    return out


@cmdlet("Get-Acl", PATH, LITERAL)
def get_acl(call: Call) -> list[Any]:
    return [resolved.provider.get_acl(call.ctx, resolved.path) for _, resolved in _each_existing(call)]


@cmdlet("Set-Acl", PATH, LITERAL, Param("AclObject", position=1), Param("Passthru", switch=True),
        should_process=True)
def set_acl(call: Call) -> list[Any]:
    acl = call.get("AclObject")
    out = []
    for _, resolved in _each_existing(call):
        resolved.provider.set_acl(call.ctx, resolved.path, acl)
        if call.flag("Passthru"):
            out.append(resolved.provider.get_acl(call.ctx, resolved.path))
    return out


HIVE_ROOTS = {"hkey_users": "HKU", "hkey_classes_root": "HKCR", "hkey_current_config": "HKCC",
              "hkey_local_machine": "HKLM", "hkey_current_user": "HKCU"}


@cmdlet("New-PSDrive", Param("Name", position=0), Param("PSProvider", position=1), Param("Root", position=2),
        Param("Scope"), Param("Description"))
def new_psdrive(call: Call) -> list[Any]:
    name = to_string(call.get("Name"))
    provider_name = to_string(call.get("PSProvider"))
    root = to_string(call.get("Root"))
    if name.lower() in drive_table(call.ctx):
        call.fail(f"A drive with the name '{name}' already exists.",
                  exception_type="System.Management.Automation.SessionStateException",
                  category="ResourceExists", error_id="DriveAlreadyExists", target=name)
    chosen = PROVIDERS.get(provider_name.lower())
    if chosen is None:
        raise NotSimulated(f"New-PSDrive with the {provider_name} provider")
    if chosen.name == "Registry":
        key = root.replace("Registry::", "").rstrip("\\").upper()
        if key.lower() not in HIVE_ROOTS and regstore.normalize(key).split(":")[0] not in HIVE_ROOTS.values():
            raise NotSimulated(f"New-PSDrive -Root {root} (registry hives only)")
    elif not chosen.exists(call.ctx, root):
        call.fail(f"The specified drive root \"{root}\" either does not exist, or it is not a folder.",
                  exception_type="System.IO.IOException", category="ReadError", error_id="DriveRootError")
    call.ctx.drives[name.lower()] = (chosen.name, root)
    return [PSDriveInfo(name, chosen.name, root)]


def _location_of(call: Call) -> str:
    raw = to_string(call.get("LiteralPath") if call.has("LiteralPath") else call.get("Path"))
    resolved = resolve(call.ctx, raw)
    if not resolved.provider.exists(call.ctx, resolved.path):
        call.fail(f"Cannot find path '{raw}' because it does not exist.",
                  exception_type="System.Management.Automation.ItemNotFoundException",
                  category="ObjectNotFound", error_id="PathNotFound", target=raw)
    return resolved.path


@cmdlet("Push-Location", PATH, LITERAL, aliases=("pushd",))
def push_location(call: Call) -> list[Any]:
    target = _location_of(call) if call.has("Path") or call.has("LiteralPath") else call.ctx.location
    call.ctx.location_stack.append(call.ctx.location)
    call.ctx.location = target
    return []


@cmdlet("Pop-Location", aliases=("popd",))
def pop_location(call: Call) -> list[Any]:
    if call.ctx.location_stack:
        call.ctx.location = call.ctx.location_stack.pop()
    return []


@cmdlet("Set-Location", PATH, LITERAL, aliases=("cd", "sl", "chdir"))
def set_location(call: Call) -> list[Any]:
    call.ctx.location = _location_of(call)
    return []


@cmdlet("Get-Location", aliases=("gl", "pwd"))
def get_location(call: Call) -> list[Any]:
    return [PathInfo(call.ctx.location)]


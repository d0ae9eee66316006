"""win_copy (Ansible.ModuleUtils.Legacy), the module side of the win_copy action plugin (win_copy.ps1).

The action plugin asks `query` which files differ (by SHA-1), sends one file with put_file and calls `single`, or
sends a zip of base64-named entries and calls `explode`; `remote` copies on the host (remote_src). File bytes are
kept in the file entries (transfer.store_bytes), so certificates, templates, ... copied here can be read back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import zipfile
from typing import Any

from lab.windows import filestore, transfer
from lab.windows.modules import ModuleContext, legacy_param, module


def _kind(ctx: ModuleContext, path: str) -> str | None:
    found = filestore.find(ctx.state, path)
    return found[1].get("type") if found else None


def _checksum(ctx: ModuleContext, path: str) -> str:
    """Get-FileChecksum (Legacy.psm1 lines 336-369): SHA-1 of a file, "3" for a directory, "1" when missing."""
    found = filestore.find(ctx.state, path)
    if found is None:
        return "1"
    if found[1].get("type") == "directory":
        return "3"
    return hashlib.sha1(transfer.content_bytes(found[1])).hexdigest()


def _join(parent: str, child: str) -> str:
    """Join-Path / [IO.Path]::Combine on the file system ('/' and '\\' both separate)."""
    return filestore.normalize(f"{parent.rstrip(chr(92) + '/')}\\{child.replace('/', chr(92)).lstrip(chr(92))}")


def _parent(path: str) -> str:
    return filestore.normalize(path).rsplit("\\", 1)[0] if "\\" in filestore.normalize(path) else ""


def _copy_bytes(ctx: ModuleContext, source: str, dest: str) -> None:
    found = filestore.find(ctx.state, source)
    data = transfer.content_bytes(found[1]) if found else b""
    transfer.store_bytes(filestore.create(ctx.state, dest, "file"), data)


def _copy_file(ctx: ModuleContext, source: str, dest: str, force: bool, check_mode: bool) -> dict[str, Any]:
    """Copy-File (lines 46-103)."""
    diff, copy = "", False
    source_checksum = _checksum(ctx, source) if force else None
    if _kind(ctx, dest) == "directory":
        ctx.fail(f"cannot copy file from '{source}' to '{dest}': dest is already a folder")
    elif _kind(ctx, dest) == "file":
        copy = force and source_checksum != _checksum(ctx, dest)
    else:
        copy = True
    if copy:
        parent = _parent(dest)
        if _kind(ctx, parent) == "file":
            ctx.fail(f"cannot copy file from '{source}' to '{dest}': object at dest parent dir is not a folder")
        elif _kind(ctx, parent) is None:
            if not check_mode:
                filestore.create(ctx.state, parent, "directory")
            diff += f"+{parent}\\\n"
        if _kind(ctx, dest) == "file":
            if not check_mode:
                filestore.remove(ctx.state, dest)
            diff += f"-{dest}\n"
        if not check_mode:
            _copy_bytes(ctx, source, dest)
        diff += f"+{dest}\n"
        ctx.result["changed"] = True
    return {"diff": diff, "checksum": source_checksum}


def _children(ctx: ModuleContext, path: str) -> list[tuple[str, str]]:
    """Get-ChildItem -LiteralPath path -Force: (name, type) of the direct children."""
    prefix = filestore.normalize(path).lower() + "\\"
    children: dict[str, str] = {}
    for key, entry in ctx.state["files"].items():
        norm = filestore.normalize(key)
        if norm.lower().startswith(prefix):
            rest = norm[len(prefix) :]
            name = rest.split("\\")[0]
            children.setdefault(name, "directory" if "\\" in rest else entry.get("type", "file"))
    return sorted(children.items(), key=lambda item: item[0].lower())


def _copy_folder(ctx: ModuleContext, source: str, dest: str, force: bool, check_mode: bool) -> str:
    """Copy-Folder (lines 105-134)."""
    diff = ""
    if _kind(ctx, dest) != "directory":
        if _kind(ctx, _parent(dest)) == "file":
            ctx.fail(f"cannot copy file from '{source}' to '{dest}': object at dest parent dir is not a folder")
        if _kind(ctx, dest) == "file":
            ctx.fail(f"cannot copy folder from '{source}' to '{dest}': dest is already a file")
        if not check_mode:
            filestore.create(ctx.state, dest, "directory")
        diff += f"+{dest}\\\n"
        ctx.result["changed"] = True
    for name, kind in _children(ctx, source):
        if kind == "directory":
            diff += _copy_folder(ctx, _join(source, name), _join(dest, name), force, check_mode)
        else:
            diff += _copy_file(ctx, _join(source, name), _join(dest, name), force, check_mode)["diff"]
    return diff


def _query(ctx: ModuleContext, dest: str, files: list[Any], directories: list[Any], force: bool) -> None:
    """Lines 269-324: which of the controller's files and directories need sending."""
    changed_files, changed_directories = [], []
    for item in files or []:
        filename = str(item["dest"])
        filepath = _join(dest, filename)
        if _kind(ctx, filepath) == "directory":
            filename = _join(filename, str(item["src"]).replace("\\", "/").rsplit("/", 1)[-1])
            filepath = _join(dest, filename)
        if _kind(ctx, filepath) == "file":
            if force and _checksum(ctx, filepath) != item.get("checksum"):
                changed_files.append(item)
        elif _kind(ctx, filepath) == "directory":
            ctx.fail(f"cannot copy file to dest '{filepath}': object at path is already a directory")
        else:
            changed_files.append(item)
    for item in directories or []:
        dirpath = _join(dest, str(item["dest"]))
        if _kind(ctx, _parent(dirpath)) == "file":
            ctx.fail(f"cannot copy folder to dest '{dirpath}': object at parent directory path is already a file")
        if _kind(ctx, dirpath) == "file":
            ctx.fail(f"cannot copy folder to dest '{dirpath}': object at path is already a file")
        elif _kind(ctx, dirpath) != "directory":
            changed_directories.append(item)
    ctx.result.update(files=changed_files, directories=changed_directories, symlinks=[])


def _explode(ctx: ModuleContext, src: str, dest: str, check_mode: bool) -> None:
    """Expand-Zip (lines 184-228): entry names are base64 (UTF-8); a directory entry ends with '/'."""
    found = filestore.find(ctx.state, src)
    if found is None or found[1].get("type") != "file":
        ctx.fail(f"Cannot expand src zip file: '{src}' as it does not exist")
        return
    with zipfile.ZipFile(io.BytesIO(transfer.content_bytes(found[1]))) as archive:
        for entry in archive.infolist():
            name = entry.filename
            is_dir = len(name) % 4 == 1
            if len(name) % 4 not in (0, 1) or (is_dir and not name.endswith(("/", "\\"))):
                ctx.unhandled(f"invalid base64 {'archive name' if is_dir else 'length'} '{name}'")
            try:
                decoded = base64.b64decode(name[:-1] if is_dir else name).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                ctx.unhandled(f'Exception calling "FromBase64String" with "1" argument(s): "{exc}"')
                return
            target = _join(dest, decoded)
            if not check_mode:
                if is_dir:
                    filestore.create(ctx.state, target, "directory")
                else:
                    if _kind(ctx, _parent(target)) is None:
                        filestore.create(ctx.state, _parent(target), "directory")
                    transfer.store_bytes(filestore.create(ctx.state, target, "file"), archive.read(entry))
    ctx.result["changed"] = True


def _remote(ctx: ModuleContext, src: str, dest: str, force: bool, check_mode: bool, diff_mode: bool) -> None:
    """Lines 351-429 (remote_src): copy on the host."""
    ctx.result.update(src=src, dest=dest)
    if _kind(ctx, src) is None:
        ctx.fail(f"Cannot copy src file: '{src}' as it does not exist")
    remote_dest = dest
    if _kind(ctx, src) == "directory":
        ctx.result["operation"] = "folder_copy"
        if src.endswith(("/", "\\")):
            diff = ""
            for name, kind in _children(ctx, src):
                if kind == "directory":
                    diff += _copy_folder(ctx, _join(src, name), _join(dest, name), force, check_mode)
                else:
                    diff += _copy_file(ctx, _join(src, name), _join(dest, name), force, check_mode)["diff"]
        else:
            remote_dest = _join(dest, filestore.normalize(src).rsplit("\\", 1)[-1])
            ctx.result["dest"] = remote_dest
            diff = _copy_folder(ctx, src, remote_dest, force, check_mode)
    else:
        ctx.result["operation"] = "file_copy"
        basename = filestore.normalize(src).rsplit("\\", 1)[-1]
        ctx.result["original_basename"] = basename
        if dest.endswith(("/", "\\")) or _kind(ctx, dest) == "directory":
            remote_dest = _join(dest, basename)
        ctx.result["dest"] = remote_dest
        parent = _parent(remote_dest)
        if _kind(ctx, parent) == "file":
            ctx.fail(f"object at destination parent dir '{parent}' is currently a file")
        elif _kind(ctx, parent) is None:
            if dest == remote_dest:
                ctx.fail(f"Destination directory '{parent}' does not exist")
            filestore.create(ctx.state, parent, "directory")
        copied = _copy_file(ctx, src, remote_dest, force, check_mode)
        diff = copied["diff"]
        ctx.result["checksum"] = copied["checksum"]
    found = filestore.find(ctx.state, remote_dest)
    if not check_mode or (found and found[1].get("type") == "file"):
        ctx.result["size"] = _size(ctx, remote_dest)
    else:
        ctx.result["size"] = None
    if diff_mode:
        ctx.result["diff"]["prepared"] = diff


def _size(ctx: ModuleContext, path: str) -> int:
    """Get-FileSize: a file's length, or the total of the files under a directory."""
    wanted = filestore.normalize(path).lower()
    return sum(
        int(entry.get("size") or 0)
        for key, entry in ctx.state["files"].items()
        if entry.get("type") == "file"
        and (filestore.normalize(key).lower() == wanted or filestore.normalize(key).lower().startswith(wanted + "\\"))
    )


def _single(ctx: ModuleContext, src: str, dest: str, basename: str | None, check_mode: bool) -> None:
    """Lines 430-470: the file sent by put_file goes to dest (dest may be a directory)."""
    if _kind(ctx, src) != "file":
        ctx.fail(f"Cannot copy src file: '{src}' as it does not exist")
    remote_dest = dest
    if dest.endswith(("/", "\\")) or _kind(ctx, dest) == "directory":
        remote_dest = _join(dest, basename or "")
    parent = _parent(remote_dest)
    if _kind(ctx, parent) == "file":
        ctx.fail(f"object at destination parent dir '{parent}' is currently a file")
    elif parent and _kind(ctx, parent) is None:
        if dest == remote_dest:
            ctx.fail(f"Destination directory '{parent}' does not exist")
        filestore.create(ctx.state, parent, "directory")
    _copy_bytes(ctx, src, remote_dest)  # Copy-Item without -WhatIf: the plugin never calls single in check mode
    ctx.result["changed"] = True


@module("win_copy", legacy=True)
def win_copy(ctx: ModuleContext) -> None:
    check_mode = legacy_param(ctx, "_ansible_check_mode", kind="bool", default=False)
    diff_mode = legacy_param(ctx, "_ansible_diff", kind="bool", default=False)
    copy_mode = legacy_param(
        ctx, "_copy_mode", kind="str", default="single", validateset=("explode", "query", "remote", "single")
    )
    src = legacy_param(ctx, "src", kind="path", failifempty=copy_mode in ("explode", "process", "single"))
    dest = legacy_param(ctx, "dest", kind="path", failifempty=True)
    if legacy_param(ctx, "backup", kind="bool", default=False):
        ctx.fail("lab.windows simulator: win_copy option 'backup' is not simulated")
    force = legacy_param(ctx, "force", kind="bool", default=True)
    if diff_mode:
        ctx.result["diff"] = {}
    if copy_mode == "query":
        _query(ctx, dest, legacy_param(ctx, "files", kind="list"), legacy_param(ctx, "directories", kind="list"),
               force)  # fmt: skip
    elif copy_mode == "explode":
        _explode(ctx, src, dest, check_mode)
    elif copy_mode == "remote":
        _remote(ctx, src, dest, force, check_mode, diff_mode)
    else:
        _single(ctx, src, dest, legacy_param(ctx, "_original_basename", kind="str"), check_mode)

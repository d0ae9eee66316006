"""win_find, step by step as win_find.ps1 (ansible.windows) over the simulated file system.

Search-Path: a path that does not exist or is a file is skipped with the module's warning; the children of a
directory are enumerated (EnumerateFileSystemInfos, top directory only), a sub-directory is searched first when
`recurse` is set and `depth` is not 1 (depth counts down; unset means no limit), each child is examined once
(`CheckedPaths`), then kept when it passes the filters: `file_type`, `hidden`, `patterns` (`-like` wildcards, or
`-match` / `-cmatch` regexes with `use_regex` / `case_sensitive`). The result lists the matches sorted by path
with the module's keys (checksum of files only, `size` and `extension` null for directories).

Not simulated (fail naming the option): `age` and `size` (the lab keeps no time stamps or directory lengths),
relative paths (PowerShell resolves them against its current location).
"""

from __future__ import annotations

import ntpath
import re
from typing import Any

from lab.windows import filestore, transfer, wildcard
from lab.windows.modules import ModuleContext, module

LAB_TIME = 1767225600.0  # the lab's one time stamp (2026-01-01T00:00:00Z), as win_stat reports it
ABSOLUTE = re.compile(r"^[A-Za-z]:\\")


def _children(state: dict[str, Any], directory: str) -> list[tuple[str, dict[str, Any]]]:
    """The items directly inside a directory: stored entries and the implicit directories above stored paths."""
    prefix = filestore.normalize(directory).lower() + "\\"
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, entry in state["files"].items():
        norm = filestore.normalize(key)
        if not norm.lower().startswith(prefix):
            continue
        name, _, rest = norm[len(prefix):].partition("\\")
        if rest:
            found.setdefault(name.lower(), (name, {"type": "directory"}))
        else:
            found[name.lower()] = (name, entry)
    return [found[k] for k in sorted(found)]  # NTFS returns a directory's names in (upper-case) collation order


def _matches_patterns(name: str, patterns: list[str], use_regex: bool, case_sensitive: bool) -> bool:
    """Assert-FileNamePattern: `-like` (always case-insensitive), or `-match` / `-cmatch` when use_regex."""
    for pattern in patterns:
        if use_regex:
            if re.search(pattern, name, 0 if case_sensitive else re.IGNORECASE):
                return True
        elif wildcard.matches(name, pattern):
            return True
    return False


def _file_info(ctx: ModuleContext, path: str, entry: dict[str, Any]) -> dict[str, Any]:
    is_dir = entry["type"] == "directory"
    info: dict[str, Any] = {
        "attributes": "Directory" if is_dir else "Archive",
        "checksum": None,
        "creationtime": LAB_TIME,
        "exists": True,
        "extension": None,
        "filename": ntpath.basename(path),
        "isarchive": not is_dir,
        "isdir": is_dir,
        "ishidden": False,
        "isreadonly": False,
        "isreg": False,
        "isshared": False,
        "lastaccesstime": LAB_TIME,
        "lastwritetime": LAB_TIME,
        "owner": entry.get("owner", "BUILTIN\\Administrators"),
        "path": path,
        "sharename": None,
        "size": None,
    }
    if not is_dir:
        info["extension"] = ntpath.splitext(path)[1]
        info["isreg"] = True
        info["size"] = int(entry.get("size", 0))
        if ctx.params["get_checksum"]:
            info["checksum"] = transfer.checksum(entry, ctx.params["checksum_algorithm"])
    # Get-Link finds no link: the lab has no symbolic links, junctions or hard links
    info.update({"isjunction": False, "islnk": False, "nlink": 1, "lnk_source": None, "lnk_target": None,
                 "hlnk_targets": []})
    return info


def _search(ctx: ModuleContext, path: str, depth: int, checked: set[str], found: list[dict[str, Any]]) -> None:
    p = ctx.params
    entry = filestore.find(ctx.state, path)
    if entry is None:
        ctx.warnings.append(f"Argument path '{path}' does not exist or is not accessible, skipping")
        return
    if entry[1]["type"] != "directory":
        ctx.warnings.append(f"Argument path '{path}' is a file not a directory, skipping")
        return
    for name, child in _children(ctx.state, path):
        child_path = f"{path.rstrip(chr(92))}\\{name}"
        is_dir = child["type"] == "directory"
        if is_dir and p["recurse"] and depth != 1:
            _search(ctx, child_path, depth - 1, checked, found)
        if child_path.lower() in checked:
            continue
        checked.add(child_path.lower())
        ctx.result["examined"] += 1
        if p["file_type"] != "any" and (p["file_type"] == "directory") != is_dir:
            continue
        if p["patterns"] is not None and not _matches_patterns(
                name, p["patterns"], p["use_regex"], p["case_sensitive"]):
            continue
        ctx.result["matched"] += 1
        found.append(_file_info(ctx, child_path, child))


@module("win_find")
def win_find(ctx: ModuleContext) -> None:
    p = ctx.params
    for option in ("age", "size"):
        if p[option] is not None:
            ctx.fail(f"lab.windows simulator: win_find option {option} is not simulated")
    ctx.result.update({"examined": 0, "files": [], "matched": 0})
    checked: set[str] = set()
    found: list[dict[str, Any]] = []
    for path in p["paths"]:
        if not ABSOLUTE.match(path):
            ctx.fail(f"lab.windows simulator: win_find relative path {path!r} is not simulated")
        _search(ctx, path, p["depth"] or 0, checked, found)
    ctx.result["files"] = sorted(found, key=lambda f: f["path"].lower())  # Sort-Object { $_.path }

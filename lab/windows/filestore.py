"""The simulated file system: paths map case-insensitively to {type, size, version, content, owner, inherit, acl}.

One drive, `C:`. A path is known when it is in `state["files"]`; the parents of a known path exist implicitly
(directories), and so does the drive root `C:\\`.

ACLs (see lab.windows.acl for the semantics): an entry's `acl` holds its explicit ACEs only, each
`{sid, type: allow|deny, rights (FileSystemRights), inherit (InheritanceFlags), propagation (PropagationFlags)}`;
names are shown through lab.windows.accounts, so renames and spellings never matter. `inherit: false` protects the
DACL. The inherited ACEs are computed from the parent's effective ACL (as Windows propagates them), up to the drive
root, whose ACL is SYSTEM and Administrators FullControl (OI)(CI) unless the scenario gives `C:\\` an `acl`.
Scenario ACL entries name the account (`user`) or the SID (`sid`); their rights are taken as a
FileSystemAccessRule would make them (Allow adds Synchronize).
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows import accounts
from lab.windows.acl import (
    Ace,
    DotNetException,
    FileSystemSecurity,
    access_mask_from_rights,
    ace_flags,
    from_state,
    icacls_flags,
    icacls_rights,
    inherit,
    to_state,
)
from lab.windows.netenum import FILE_SYSTEM_RIGHTS, INHERITANCE_FLAGS, PROPAGATION_FLAGS, CastError

DRIVES = ("C:",)
ROOT_ACL = [
    {
        "user": "NT AUTHORITY\\SYSTEM",
        "type": "allow",
        "rights": "FullControl",
        "inherit": "ContainerInherit, ObjectInherit",
    },
    {
        "user": "BUILTIN\\Administrators",
        "type": "allow",
        "rights": "FullControl",
        "inherit": "ContainerInherit, ObjectInherit",
    },
]
DEFAULT_OWNER = "BUILTIN\\Administrators"
ACE_FIELDS = {"user", "sid", "type", "rights", "mask", "inherit", "propagation"}


LOCAL_SHARE = re.compile(r"^\\\\(?:localhost|127\.0\.0\.1)\\([A-Za-z])\$(\\.*)?$", re.I)


def local_share(path: str) -> str | None:
    """`\\\\localhost\\C$\\x` (an administrative share of this host) as the local path `C:\\x`."""
    match = LOCAL_SHARE.match(path.strip().replace("/", "\\"))
    return f"{match.group(1)}:{match.group(2) or chr(92)}" if match else None


def normalize(path: str) -> str:
    """The path as Windows resolves it (GetFullPathName): `/` is `\\`, repeated separators after the start collapse,
    a trailing `\\.` goes, the drive letter is upper-case."""
    text = local_share(path) or path.strip().replace("/", "\\")
    text = text[:2] + re.sub(r"\\{2,}", r"\\", text[2:])
    while text.endswith("\\."):
        text = text[:-2]
    if len(text) >= 2 and text[1] == ":":
        text = text[0].upper() + text[1:]
    if len(text) == 2 and text[1] == ":":
        text += "\\"
    return text.rstrip("\\") if len(text) > 3 else text


def is_root(path: str) -> bool:
    return re.fullmatch(r"[A-Za-z]:\\?", path.strip()) is not None


def parent(path: str) -> str | None:
    norm = normalize(path)
    if is_root(norm):
        return None
    head, _, _ = norm.rpartition("\\")
    return head + "\\" if len(head) == 2 else head


def system_directories(state: dict[str, Any]) -> list[str]:
    """Directories every Windows Server has (they exist even when the scenario does not name them)."""
    user = state.get("lab_user") or "labadmin"
    return [
        "C:\\Windows\\System32",
        "C:\\Windows\\Temp",
        "C:\\Program Files",
        "C:\\Program Files (x86)",
        "C:\\ProgramData",
        "C:\\Users\\Public",
        f"C:\\Users\\{user}\\Documents",
        f"C:\\Users\\{user}\\AppData\\Local\\Temp",
    ]


def find(state: dict[str, Any], path: str) -> tuple[str, dict[str, Any]] | None:
    wanted = normalize(path).lower()
    for key, entry in state["files"].items():
        if normalize(key).lower() == wanted:
            return key, entry
    if is_root(wanted):
        if wanted[:2].upper() in DRIVES:
            return normalize(path), {"type": "directory", "implicit": True}
        return None
    # a parent of a known path (or a system directory) is an existing directory
    for key in [*state["files"], *system_directories(state)]:
        lowered = normalize(key).lower()
        if lowered == wanted or lowered.startswith(wanted + "\\"):
            return normalize(path), {"type": "directory", "implicit": True}
    return None


def exists(state: dict[str, Any], path: str) -> bool:
    return find(state, path) is not None


def children(state: dict[str, Any], path: str) -> list[str]:
    """The names of the items directly inside a directory (known entries and implicit parents), sorted."""
    prefix = normalize(path).rstrip("\\").lower() + "\\"
    names: dict[str, str] = {}
    for key in [*state["files"], *system_directories(state)]:
        norm = normalize(key)
        if norm.lower().startswith(prefix):
            name = norm[len(prefix) :].split("\\", 1)[0]
            names.setdefault(name.lower(), name)
    return [names[k] for k in sorted(names)]


def create(state: dict[str, Any], path: str, kind: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "size": 0} if kind == "file" else {"type": "directory"}
    state["files"][normalize(path)] = entry
    return entry


def materialise(state: dict[str, Any], path: str) -> dict[str, Any]:
    """Return the stored entry for path, creating an explicit entry for an implicit directory."""
    found = find(state, path)
    if found is None:
        raise KeyError(path)
    key, entry = found
    if entry.pop("implicit", False):
        state["files"][key] = entry
    return state["files"][key]


def remove(state: dict[str, Any], path: str) -> None:
    wanted = normalize(path).lower()
    for key in list(state["files"]):
        lowered = normalize(key).lower()
        if lowered == wanted or lowered.startswith(wanted + "\\"):
            del state["files"][key]


# -- ACLs -------------------------------------------------------------------------------------------------------


def is_container(entry: dict[str, Any]) -> bool:
    return entry.get("type") == "directory"


def _stored_acl(path: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    if "acl" in entry:
        return list(entry["acl"])
    return list(ROOT_ACL) if is_root(path) else []


def explicit_aces(state: dict[str, Any], path: str) -> list[Ace]:
    found = find(state, path)
    if found is None:
        raise KeyError(path)
    key, entry = found
    raw = _stored_acl(key, entry)
    if raw and any("sid" not in item for item in raw):  # the built-in root default names its accounts
        raw = [scenario_ace(state, item, f"{key} acl") for item in raw]
    return [from_state(item) for item in raw]


def protected(state: dict[str, Any], path: str) -> bool:
    found = find(state, path)
    if found is None:
        raise KeyError(path)
    return is_root(found[0]) or found[1].get("inherit", True) is False


def effective_aces(state: dict[str, Any], path: str) -> list[Ace]:
    """The DACL as stored on disk: explicit ACEs, then (unless protected) those inherited from the parent."""
    found = find(state, path)
    if found is None:
        raise KeyError(path)
    aces = explicit_aces(state, path)
    above = parent(found[0])
    if protected(state, path) or above is None:
        return aces
    return aces + inherit(effective_aces(state, above), is_container(found[1]))


def owner(state: dict[str, Any], path: str) -> str:
    found = find(state, path)
    name = (found[1].get("owner") if found else None) or DEFAULT_OWNER
    try:
        return accounts.display(state, accounts.to_sid(state, name))
    except accounts.AccountNotFound:
        return name


def security(state: dict[str, Any], path: str) -> FileSystemSecurity:
    """Get-Acl / GetAccessControl(): the security descriptor .NET builds from the file system."""
    found = find(state, path)
    if found is None:
        raise KeyError(path)
    return FileSystemSecurity(
        effective_aces(state, path),
        is_container=is_container(found[1]),
        protected=protected(state, path),
        owner=owner(state, path),
    )


def write_security(state: dict[str, Any], path: str, sd: FileSystemSecurity) -> None:
    """Set-Acl / SetAccessControl(): the DACL and its protection are written; Windows recomputes inheritance."""
    entry = materialise(state, path)
    entry["acl"] = [to_state(ace) for ace in sd.written_aces()]
    entry["inherit"] = not sd.protected


def scenario_ace(state: dict[str, Any], item: dict[str, Any], where: str) -> dict[str, Any]:
    """A scenario ACL entry in the stored form (SID, rights as a FileSystemAccessRule makes them)."""
    unknown = set(item) - ACE_FIELDS - ({"inherited"} if item.get("inherited") is False else set())
    if unknown or ("user" not in item and "sid" not in item) or ("rights" in item) == ("mask" in item):
        raise ValueError(
            f"{where}: an ACL entry needs user (or sid) and rights (or mask), and may have type, inherit, propagation "
            f"(unknown: {', '.join(sorted(unknown)) or 'none'}; inherited ACEs come from the parent's ACL)"
        )
    try:
        sid = str(item["sid"]) if "sid" in item else accounts.to_sid(state, str(item["user"]))
        allow = str(item.get("type", "allow")).lower() == "allow"
        if "mask" in item:  # the ACE as stored (icacls /grant X:(RD), SDDL): no FileSystemAccessRule adjustment
            mask = int(item["mask"]) & 0xFFFFFFFF
        else:
            mask = access_mask_from_rights(FILE_SYSTEM_RIGHTS.parse(str(item["rights"])), allow)
        inheritance = INHERITANCE_FLAGS.parse(str(item.get("inherit") or "None"))
        propagation = PROPAGATION_FLAGS.parse(str(item.get("propagation") or "None"))
    except accounts.AccountNotFound as exc:
        raise ValueError(f"{where}: account {item.get('user')} is unknown on this host") from exc
    except (CastError, DotNetException) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return to_state(Ace(sid, allow, mask, ace_flags(inheritance, propagation)))


def load_scenario_acls(state: dict[str, Any]) -> None:
    """Convert the `acl` lists of the scenario's files to the stored form (fails on an invalid entry)."""
    for path, entry in state["files"].items():
        if entry and "acl" in entry:
            entry["acl"] = [
                scenario_ace(state, item, f"files[{path}].acl[{i}]") for i, item in enumerate(entry["acl"])
            ]


def icacls_listing(state: dict[str, Any], path: str) -> list[str]:
    """`icacls <path>`: one line per ACE in stored order (the path as given, then aligned lines)."""
    lines = []
    for ace in effective_aces(state, path):
        lines.append(f"{accounts.display(state, ace.sid)}:{icacls_flags(ace)}({icacls_rights(ace.mask)})")
    return lines

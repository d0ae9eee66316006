"""The simulated file system: paths map case-insensitively to {type, size, version, acl, inherit, owner}."""

from __future__ import annotations

from typing import Any

# System.Security.AccessControl.FileSystemRights flags (Synchronize is ignored when comparing, as Windows adds
# it to every allow rule).
_BASIC = {
    "readdata": 1,
    "listdirectory": 1,
    "writedata": 2,
    "createfiles": 2,
    "appenddata": 4,
    "createdirectories": 4,
    "readextendedattributes": 8,
    "writeextendedattributes": 16,
    "executefile": 32,
    "traverse": 32,
    "deletesubdirectoriesandfiles": 64,
    "readattributes": 128,
    "writeattributes": 256,
    "delete": 65536,
    "readpermissions": 131072,
    "changepermissions": 262144,
    "takeownership": 524288,
    "synchronize": 1048576,
}
READ = 1 | 8 | 128 | 131072
WRITE = 2 | 4 | 16 | 256
READ_EXECUTE = READ | 32
MODIFY = READ_EXECUTE | WRITE | 65536
FULL = 2032127 & ~1048576
RIGHTS = {
    **_BASIC,
    "read": READ,
    "write": WRITE,
    "readandexecute": READ_EXECUTE,
    "modify": MODIFY,
    "fullcontrol": FULL,
    "r": READ,
    "w": WRITE,
    "rx": READ_EXECUTE,
    "m": MODIFY,
    "f": FULL,
}
SPECIAL_CODES = [
    ("RD", 1),
    ("WD", 2),
    ("AD", 4),
    ("REA", 8),
    ("WEA", 16),
    ("X", 32),
    ("DC", 64),
    ("RA", 128),
    ("WA", 256),
    ("D", 65536),
    ("RC", 131072),
    ("WDAC", 262144),
    ("WO", 524288),
]


def normalize(path: str) -> str:
    text = path.strip().replace("/", "\\")
    while text.endswith("\\."):
        text = text[:-2]
    if len(text) >= 2 and text[1] == ":":
        text = text[0].upper() + text[1:]
    return text.rstrip("\\") if len(text) > 3 else text


def find(state: dict[str, Any], path: str) -> tuple[str, dict[str, Any]] | None:
    wanted = normalize(path).lower()
    for key, entry in state["files"].items():
        if normalize(key).lower() == wanted:
            return key, entry
    # a parent of a known path is an existing directory
    for key in state["files"]:
        if normalize(key).lower().startswith(wanted + "\\"):
            return normalize(path), {"type": "directory", "implicit": True}
    return None


def create(state: dict[str, Any], path: str, kind: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "size": 0} if kind == "file" else {"type": "directory"}
    state["files"][normalize(path)] = entry
    return entry


def materialise(state: dict[str, Any], path: str) -> dict[str, Any]:
    """Return the stored entry for path, creating an explicit entry for an implicit parent directory."""
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


def rights_mask(rights: str) -> int:
    """'Read, Write' / 'FullControl' / 'ReadData, WriteAttributes, ...' → FileSystemRights value."""
    mask = 0
    for part in (r.strip() for r in rights.replace(";", ",").split(",")):
        if not part:
            continue
        if part.lower() not in RIGHTS:
            raise ValueError(
                f'Cannot convert value "{part}" to type "System.Security.AccessControl.FileSystemRights"'
            )
        mask |= RIGHTS[part.lower()]
    return mask & ~RIGHTS["synchronize"]


def acl(entry: dict[str, Any]) -> list[dict[str, Any]]:
    if "acl" not in entry:
        entry["acl"] = [
            {
                "user": "NT AUTHORITY\\SYSTEM",
                "type": "allow",
                "rights": "FullControl",
                "inherit": "None",
                "propagation": "None",
                "inherited": True,
            },
            {
                "user": "BUILTIN\\Administrators",
                "type": "allow",
                "rights": "FullControl",
                "inherit": "None",
                "propagation": "None",
                "inherited": True,
            },
        ]
    return entry["acl"]


def icacls_codes(mask: int) -> str:
    if mask == FULL:
        return "F"
    if mask == MODIFY:
        return "M"
    codes = []
    if mask & READ_EXECUTE == READ_EXECUTE:
        codes.append("RX")
        mask &= ~READ_EXECUTE
    elif mask & READ == READ:
        codes.append("R")
        mask &= ~READ
    if mask & WRITE == WRITE:
        codes.append("W")
        mask &= ~WRITE
    codes += [code for code, bit in SPECIAL_CODES if mask & bit]
    return ",".join(codes)


def icacls_line(rule: dict[str, Any]) -> str:
    flags = []
    inherit = rule.get("inherit") or "None"
    if "ObjectInherit" in inherit:
        flags.append("(OI)")
    if "ContainerInherit" in inherit:
        flags.append("(CI)")
    if rule.get("inherited"):
        flags.insert(0, "(I)")
    deny = "(DENY)" if rule["type"] == "deny" else ""
    return f"{rule['user']}:{''.join(flags)}{deny}({icacls_codes(rights_mask(rule['rights']))})"

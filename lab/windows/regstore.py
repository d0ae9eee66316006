"""The simulated registry: keys map case-insensitively to {value name: {type, data}}.

`state["registry"]` holds the keys the lab keeps itself. The certificate stores also live in the registry on
Windows (HKLM:\\SOFTWARE\\Microsoft\\SystemCertificates\\<store>, ...): those keys are read from the certificate
store (certstore.registry_view) so that both views agree; writing under them is not simulated and fails.
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows import certstore

HIVES = {
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKEY_CURRENT_USER": "HKCU",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKEY_USERS": "HKU",
    "HKEY_CURRENT_CONFIG": "HKCC",
}
REG_TYPES = {
    "string": "REG_SZ",
    "dword": "REG_DWORD",
    "qword": "REG_QWORD",
    "expandstring": "REG_EXPAND_SZ",
    "multistring": "REG_MULTI_SZ",
    "binary": "REG_BINARY",
    "none": "REG_NONE",
}
TYPE_FROM_REG = {v: k for k, v in REG_TYPES.items()}
DOTNET_KIND = {
    "string": "String",
    "dword": "DWord",
    "qword": "QWord",
    "expandstring": "ExpandString",
    "multistring": "MultiString",
    "binary": "Binary",
    "none": "None",
}


class NotSimulatedWrite(ValueError):
    """A write to registry keys the lab derives from other state (the certificate stores)."""


def normalize(path: str) -> str:
    """'HKLM\\X', 'HKEY_LOCAL_MACHINE\\X' and 'HKLM:\\X' all become 'HKLM:\\X'.

    Like RegistryKey.OpenSubKey, repeated backslashes collapse and a trailing one is dropped; '/' is an ordinary
    character of a key name (HKCU:\\Test Key / [&Ansible*] is one key).
    """
    text = re.sub(r"\\{2,}", lambda _: "\\", path.strip()).rstrip("\\")
    head, _, rest = text.partition("\\")
    head = head.rstrip(":").upper()
    head = HIVES.get(head, head)
    return f"{head}:\\{rest}" if rest else f"{head}:"


def _registry(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return state["registry"]


def _all_keys(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The lab's own keys plus the certificate store keys."""
    return {**_registry(state), **certstore.registry_view(state)}


def _under(key: str, root: str) -> bool:
    key, root = normalize(key).lower(), normalize(root).lower()
    return key == root or key.startswith(root + "\\")


def _refuse_derived(state: dict[str, Any], path: str, *, subtree: bool = False) -> None:
    """Writing where Windows keeps certificate stores would change the stores: not simulated, fail loudly."""
    derived = certstore.registry_view(state)
    store_root = re.match(
        r"^HK(LM:\\SOFTWARE|CU:\\Software)\\Microsoft\\(Cryptography\\Services\\[^\\]+\\)?SystemCertificates(\\|$)",
        normalize(path),
        re.I,
    )
    if store_root or (subtree and any(_under(key, path) for key in derived)):
        raise NotSimulatedWrite(
            f"lab.windows simulator: changing the registry at {path} (where Windows keeps the certificate stores) "
            "is not simulated; use win_certificate_store"
        )


def find_key(state: dict[str, Any], path: str) -> str | None:
    wanted = normalize(path).lower()
    for key in _all_keys(state):
        if normalize(key).lower() == wanted:
            return key
    return None


def key_exists(state: dict[str, Any], path: str) -> bool:
    wanted = normalize(path).lower()
    if wanted.count("\\") == 0:
        return True  # a hive
    return any(_under(k, wanted) for k in _all_keys(state))


def values(state: dict[str, Any], path: str) -> dict[str, Any]:
    key = find_key(state, path)
    return _all_keys(state)[key] if key is not None else {}


def get_value(state: dict[str, Any], path: str, name: str) -> tuple[str, dict[str, Any]] | None:
    for value_name, value in values(state, path).items():
        if value_name.lower() == name.lower():
            return value_name, value
    return None


def create_key(state: dict[str, Any], path: str) -> dict[str, Any]:
    _refuse_derived(state, path)
    key = find_key(state, path)
    if key is None:
        key = normalize(path)
        _registry(state)[key] = {}
    return _registry(state)[key]


def set_value(state: dict[str, Any], path: str, name: str, kind: str, data: Any) -> None:
    """RegSetValueEx: an existing value (names compare without case) keeps its stored name and gets the new type
    and data (the kernel's CmSetValueKey rewrites an existing value cell through CmpSetValueKeyExisting, which is
    not given the name); a new value is added under the given name."""
    _refuse_derived(state, path)
    holder = create_key(state, path)
    existing = get_value(state, path, name)
    holder[existing[0] if existing else name] = {"type": kind, "data": data}


def delete_value(state: dict[str, Any], path: str, name: str) -> bool:
    _refuse_derived(state, path)
    existing = get_value(state, path, name)
    if not existing:
        return False
    del values(state, path)[existing[0]]
    return True


def delete_tree(state: dict[str, Any], path: str) -> None:
    _refuse_derived(state, path, subtree=True)
    wanted = normalize(path).lower()
    for key in list(_registry(state)):
        lowered = normalize(key).lower()
        if lowered == wanted or lowered.startswith(wanted + "\\"):
            del _registry(state)[key]


def subkeys(state: dict[str, Any], path: str) -> list[str]:
    prefix = normalize(path).lower() + "\\"
    names: list[str] = []
    for key in _all_keys(state):
        norm = normalize(key)
        if norm.lower().startswith(prefix):
            child = norm[len(prefix) :].split("\\")[0]
            if child.lower() not in [n.lower() for n in names]:
                names.append(child)
    return sorted(names, key=str.upper)  # the order RegEnumKeyEx returns (upper-case ordinal)


def valid_ps_path(path: str) -> bool:
    return re.match(r"^HK(CC|CR|CU|LM|U):\\", path, re.I) is not None  # PowerShell -match ignores case

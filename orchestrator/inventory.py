"""Ansible inventories: which hosts exist, how we reach them (platform), and `--host` resolution.

Nothing runs against a host that is not in the inventory: every name given on the command line or in an alert is
validated for shape, then resolved here; anything unknown is refused before Ansible starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InventoryError, UsageError

HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$")
RESOURCE_ID_RE = re.compile(r"^/subscriptions/[0-9A-Fa-f-]{36}/resourceGroups/[\w.()-]{1,90}/providers/"
                            r"[A-Za-z.]+/[A-Za-z]+/[\w.-]{1,80}(/[\w.-]+/[\w.;-]+)*/?$", re.I)
WINDOWS_CONNECTIONS = {"winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp"}
LOCAL_CONNECTIONS = {"local", "ansible.builtin.local"}


@dataclass(frozen=True)
class Host:
    name: str
    platform: str  # windows | linux | azure
    address: str
    resource_id: str | None = None  # host var `azure_resource_id`: the VM's ARM id, for alert mapping


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: dict[str, Host]
    groups: dict[str, list[str]]

    def find_vm(self, *, name: str | None = None, resource_id: str | None = None) -> Host | None:
        """The inventory host of an Azure VM: by `azure_resource_id` (case-insensitive, as ARM ids are), else by
        inventory name equal to the VM name (case-insensitive). None when no host matches."""
        if resource_id:
            wanted = resource_id.strip().rstrip("/").casefold()
            for host in self.hosts.values():
                if host.resource_id and host.resource_id.strip().rstrip("/").casefold() == wanted:
                    return host
        if name:
            for host in self.hosts.values():
                if host.name.casefold() == name.casefold():
                    return host
        return None

    def resolve(self, spec: str) -> list[Host]:
        """`--host`: an inventory host, a group, or a comma list of those. Unknown names are refused (exit 2)."""
        names: list[str] = []
        parts = [p.strip() for p in spec.split(",")]
        if not spec.strip() or any(not p for p in parts):
            raise UsageError(f"invalid --host {spec[:80]!r}: expected a host or group name, or a comma list")
        for part in parts:
            if not HOST_RE.fullmatch(part):
                raise UsageError(f"invalid host name {part[:80]!r}: letters, digits, '.', '-', '_' only")
            if part in self.hosts:
                members = [part]
            elif part in self.groups and part not in ("all", "ungrouped"):
                members = self.groups[part]
                if not members:
                    raise InventoryError(f"group {part!r} in {self.path} has no hosts")
            elif part == "all":
                members = sorted(self.hosts)
            else:
                raise InventoryError(f"host {part!r} is not in the inventory {self.path}; nothing was run",
                                     host=part)
            names += [m for m in members if m not in names]
        return [self.hosts[n] for n in names]


def _platform(hostvars: dict[str, object], groups: list[str]) -> str:
    explicit = hostvars.get("remediate_platform")
    if explicit in ("windows", "linux", "azure"):
        return str(explicit)
    conn = str(hostvars.get("ansible_connection") or "")
    if conn in WINDOWS_CONNECTIONS or "windows" in groups:
        return "windows"
    if conn in LOCAL_CONNECTIONS or "azure" in groups:
        return "azure"
    return "linux"


STRICT_ENV = ("ANSIBLE_INVENTORY_UNPARSED_FAILED", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED")  # always ours


def import_ansible_inventory() -> None:
    """Import Ansible's inventory code now (a process that will read an inventory soon warms up with it)."""
    for name in STRICT_ENV:
        os.environ.setdefault(name, "True")
    import ansible.inventory.manager  # noqa: F401
    import ansible.parsing.dataloader  # noqa: F401
    import ansible.vars.manager  # noqa: F401


def read_with_ansible(path: Path) -> dict:
    """Ansible's own reading of an inventory, reduced to what we use, JSON-able:
    {"hosts": {name: {"vars": {...}, "groups": [...]}}, "groups": {name: [hosts]}}. Raises InventoryError."""
    import_ansible_inventory()
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    try:
        manager = InventoryManager(loader=loader, sources=[str(path)])
    except AnsibleError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InventoryError(f"invalid inventory {path}: {first}") from exc
    variables = VariableManager(loader=loader, inventory=manager)
    hosts: dict[str, dict] = {}
    for h in manager.get_hosts():
        hv = variables.get_vars(host=h, include_hostvars=False)
        hosts[h.name] = {"vars": {k: _plain(hv[k]) for k in HOST_VARS if k in hv},
                         "groups": [g.name for g in h.get_groups()]}
    groups = {name: sorted(h.name for h in g.get_hosts()) for name, g in manager.groups.items()}
    return {"hosts": hosts, "groups": groups}


HOST_VARS = ("remediate_platform", "ansible_connection", "ansible_host", "azure_resource_id")


def _plain(value: object) -> object:
    """A host var as plain JSON data (Ansible's unsafe strings are str subclasses)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    return repr(value)


def _static_files(path: Path) -> list[Path] | None:
    """The files a static inventory is read from (the inventory file or directory, and the group_vars / host_vars
    next to it), or None when Ansible would run something to read it (an executable script, an inventory plugin
    such as azure_rm: its hosts can change without any file changing)."""
    base = path if path.is_dir() else path.parent
    roots = [path] + [base / d for d in ("group_vars", "host_vars") if (base / d).exists()]
    files: list[Path] = []
    for root in roots:
        found = [root] if root.is_file() else sorted(f for f in root.rglob("*") if f.is_file())
        for f in found:
            if root == path and (os.access(f, os.X_OK) or PLUGIN_RE.search(f.read_bytes()[:65536])):
                return None
            files.append(f)
    return files


PLUGIN_RE = re.compile(rb"(?m)^plugin\s*:")


YAML_EXTENSIONS = ("", ".yml", ".yaml", ".json")  # what Ansible reads as YAML (inventory and vars files)


def _vars_shape(value: object) -> object:
    """Of a variables mapping, only the variables we read (a new password or port does not change our reading)."""
    return {k: v for k, v in value.items() if k in HOST_VARS} if isinstance(value, dict) else value


def _group_shape(group: object) -> object:
    """A group of a YAML inventory (hosts, vars, children), its variables reduced to the ones we read."""
    if not isinstance(group, dict):
        return group
    shape: dict[object, object] = {}
    for key, value in group.items():
        if key == "hosts" and isinstance(value, dict):
            shape[key] = {name: _vars_shape(hv) for name, hv in value.items()}
        elif key == "vars":
            shape[key] = _vars_shape(value)
        elif key == "children" and isinstance(value, dict):
            shape[key] = {name: _group_shape(child) for name, child in value.items()}
        else:
            shape[key] = value  # anything else counts whole: a change reads the inventory again
    return shape


def _file_key(f: Path, *, vars_file: bool) -> str:
    """What our reading depends on in one file. A YAML (or JSON) inventory or vars file: its data without the
    values of the variables we do not read, so a regenerated file whose credentials or ports changed keeps the
    cache. Anything else (INI, a tag libyaml does not know such as !vault): its size, mtime and inode."""
    import yaml

    st = f.stat()
    fallback = f"{f}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    if f.suffix.lower() not in YAML_EXTENSIONS:
        return fallback
    try:
        data = yaml.load(f.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError, ValueError):
        return fallback
    if not isinstance(data, dict):
        return fallback  # not a YAML inventory (Ansible reads it as INI or TOML)
    shape = _vars_shape(data) if vars_file else {name: _group_shape(g) for name, g in data.items()}
    text = json.dumps(shape, sort_keys=True, default=repr)
    return f"{f}:yaml:{hashlib.sha256(text.encode()).hexdigest()}"


def _fingerprint(path: Path, files: list[Path]) -> str:
    """What a cached reading depends on: the files (what of them we read, see _file_key), Ansible's installed
    release and its settings."""
    from importlib.util import find_spec

    spec = find_spec("ansible")  # found, not imported (importing it costs a tenth of a second)
    release = Path(spec.origin).parent / "release.py" if spec and spec.origin else None
    parts = [str(path.resolve()), ",".join(HOST_VARS)]
    inventory_dir = path if path.is_dir() else path.parent
    for f in files:
        in_vars_dir = f.relative_to(inventory_dir).parts[0] in ("group_vars", "host_vars") and f != path
        parts.append(_file_key(f, vars_file=in_vars_dir))
    if release and release.is_file():
        st = release.stat()
        parts.append(f"{release}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("ANSIBLE_") and k not in STRICT_ENV)
    config = os.environ.get("ANSIBLE_CONFIG")
    if config and os.path.isfile(config):
        st = os.stat(config)
        parts.append(f"{config}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _read_cached(path: Path, cache: Path | None) -> dict:
    """read_with_ansible, remembered in `cache` (the state dir's cache/) for a static inventory until one of its
    files changes in what we read of it (hosts, groups, the HOST_VARS: not a password or a port), or Ansible's
    version, or an ANSIBLE_* setting. Importing Ansible's inventory code alone costs more than a whole run of a
    command that reads the cache."""
    files = _static_files(path) if cache is not None else None
    if files is None or cache is None:
        return read_with_ansible(path)
    key = _fingerprint(path, files)
    entry = cache / f"inventory-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]}.json"
    try:
        saved = json.loads(entry.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return saved["inventory"]
    except (OSError, ValueError, AttributeError):
        pass
    raw = read_with_ansible(path)
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"key": key, "inventory": raw}, out)
        os.replace(tmp, entry)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return raw


def load_inventory(path: Path, cache: Path | None = None) -> Inventory:
    """Parse with Ansible's own inventory code (every format Ansible supports), failing on anything unparsed.
    `cache`: a directory where the reading of a static inventory is kept (see _read_cached)."""
    if not path.exists():
        raise InventoryError(f"inventory {path} does not exist")
    if not os.access(path, os.R_OK):
        raise InventoryError(f"inventory {path} is not readable")
    raw = _read_cached(path, cache)
    hosts: dict[str, Host] = {}
    for name, h in raw["hosts"].items():
        if not HOST_RE.fullmatch(name):
            raise InventoryError(f"invalid inventory {path}: host name {name[:80]!r} is not allowed")
        hv = h["vars"]
        rid = hv.get("azure_resource_id")
        if rid is not None and (not isinstance(rid, str) or not RESOURCE_ID_RE.fullmatch(rid)):
            raise InventoryError(f"invalid inventory {path}: host {name}: azure_resource_id {str(rid)[:120]!r} is "
                                 "not an Azure resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/...)")
        hosts[name] = Host(name, _platform(hv, h["groups"]), str(hv.get("ansible_host") or name), rid)
    if not hosts:
        raise InventoryError(f"invalid inventory {path}: it defines no hosts")
    return Inventory(path.resolve(), hosts, raw["groups"])

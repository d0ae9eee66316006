"""Validation of one Linux host entry of a scenario file."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any


class LabError(RuntimeError):
    """A Linux lab host could not be described, started, stopped or inspected."""


HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

# Paths the host sees from the machine itself (read-only /usr, live /dev, /proc, /sys): a scenario cannot put
# files there, they would be hidden by the mounts.
SYSTEM_PREFIXES = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/dev", "/proc", "/sys")
# Paths the lab writes itself after the scenario files; overriding them would lock Ansible out.
RESERVED_PATHS = (
    "/etc/ssh/sshd_config",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssh/ssh_host_ed25519_key.pub",
    "/root/.ssh/authorized_keys",
)
GLOB_CHARS = re.compile(r"[*?\[]")

FAMILIES = {"debian": "walinuxagent", "redhat": "waagent"}  # distribution family -> the agent's service name
FS_TYPES = ("ext4", "ext3", "xfs", "btrfs")
FS_STATES = ("clean", "not-clean", "errors")
SELINUX_MODES = ("enforcing", "permissive", "disabled")
DEVICE_NAME = re.compile(r"^/dev/[a-z][a-z0-9]{1,15}$")
SIZE = re.compile(r"^([1-9][0-9]{0,4})M$")
MIN_SIZE_MB = {"xfs": 320, "btrfs": 128}  # mkfs refuses smaller file systems
VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,3}$")


@dataclass(frozen=True)
class FileSpec:
    """A file to create (content is text) or to make sure is absent (content is None)."""

    path: str
    content: str | None
    mode: int = 0o644


@dataclass(frozen=True)
class AgentSpec:
    """The Azure Linux Agent: /usr/sbin/waagent, its SysV init script, /etc/waagent.conf, /var/log/waagent.log."""

    installed: bool = True
    running: bool = True
    enabled: bool = True  # /etc/rc?.d links: started at boot
    version: str = "2.9.1.1"
    conf: tuple[tuple[str, str], ...] = ()  # key=value lines changed in the default /etc/waagent.conf


@dataclass(frozen=True)
class ExtensionSpec:
    """The backup extension folder /var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-<version>."""

    version: str = "1.0.9225.0"
    log: str = ""  # /var/log/azure/Microsoft.Azure.RecoveryServices.VMSnapshotLinux/extension.log
    handler_state: str = "Enabled"  # <folder>/config/HandlerState, as the agent writes it
    status: str = "success"  # <folder>/status/0.status: success | error | transitioning | warning
    versions: int = 1  # 2: a second, older version folder left behind


@dataclass(frozen=True)
class FilesystemSpec:
    """A real file system on a loop device, seen in the host as `device` and mounted at `mount` (host only)."""

    mount: str
    type: str = "ext4"
    device: str = ""
    size_mb: int = 64
    options: str = "defaults"
    state: str = "clean"  # clean | not-clean | errors (ext3/ext4): what `dumpe2fs -h` reports, made for real
    mounts: int = 1  # 2: a duplicate entry, the same device mounted twice on the same point
    busy: bool = False  # a process of the host keeps a file open in it (umount says "target is busy")
    hidden: bool = False  # a later tmpfs mount on its parent directory hides it: listed, but cannot be opened


@dataclass(frozen=True)
class HostSpec:
    name: str
    files: tuple[FileSpec, ...] = ()
    directories: tuple[str, ...] = ()
    watch: tuple[str, ...] = ()
    port: int | None = None
    address: str = "127.0.0.1"
    hostname: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    family: str = "debian"
    agent: AgentSpec | None = AgentSpec()
    extension: ExtensionSpec | None = ExtensionSpec()
    filesystems: tuple[FilesystemSpec, ...] = ()
    selinux: str | None = None  # None: no SELinux tools on the host
    selinux_denials: str = ""  # what `ausearch -m avc` prints on an SELinux host

    @property
    def agent_service(self) -> str:
        return FAMILIES[self.family]

    @property
    def status_paths(self) -> list[str]:
        """Every path status() reports: the scenario files, then the watched paths, without duplicates."""
        seen: dict[str, None] = {}
        for item in [f.path for f in self.files] + list(self.watch):
            seen.setdefault(item, None)
        return list(seen)


def _host_path(name: str, where: str, value: Any, *, allow_glob: bool = False) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise LabError(f"host {name!r}: {where}: {value!r} is not an absolute path")
    norm = posixpath.normpath(value)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm != value.rstrip("/") or ".." in value.split("/") or "\0" in value:
        raise LabError(f"host {name!r}: {where}: {value!r} is not a normalised path")
    if not allow_glob and GLOB_CHARS.search(value):
        raise LabError(f"host {name!r}: {where}: {value!r} may not contain wildcards")
    return norm


def _writable_path(name: str, where: str, value: Any) -> str:
    path = _host_path(name, where, value)
    if path == "/":
        raise LabError(f"host {name!r}: {where}: cannot replace '/'")
    for prefix in SYSTEM_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            raise LabError(f"host {name!r}: {where}: {path} is under {prefix}, shared read-only")
    if path in RESERVED_PATHS:
        raise LabError(f"host {name!r}: {where}: {path} is managed by the lab itself")
    return path


def _file(name: str, path: str, value: Any) -> FileSpec:
    where = f"files[{path!r}]"
    if value is None or isinstance(value, str):
        return FileSpec(path, value)
    if isinstance(value, dict):
        unknown = set(value) - {"content", "mode"}
        if unknown:
            raise LabError(f"host {name!r}: {where}: unknown keys {sorted(unknown)}")
        content = value.get("content")
        if content is not None and not isinstance(content, str):
            raise LabError(f"host {name!r}: {where}.content must be text or null")
        mode = value.get("mode", 0o644)
        if isinstance(mode, str):
            try:
                mode = int(mode, 8)
            except ValueError:
                raise LabError(f"host {name!r}: {where}.mode {mode!r} is not octal") from None
        if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o7777:
            raise LabError(f"host {name!r}: {where}.mode must be an octal file mode")
        return FileSpec(path, content, mode)
    raise LabError(f"host {name!r}: {where} must be text, null, or a mapping with content/mode")


def parse_host(name: Any, spec: Any) -> HostSpec:
    """Check one scenario host entry and return it in normalised form; LabError names the host and field."""
    if not isinstance(name, str) or not HOST_NAME.match(name):
        raise LabError(f"invalid host name {name!r}: letters, digits, '.', '_' and '-' only, at most 63")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise LabError(f"host {name!r}: the host entry must be a mapping")
    platform = spec.get("platform", "linux")
    if platform != "linux":
        raise LabError(f"host {name!r}: platform {platform!r} is not handled by the Linux lab")

    files_in = spec.get("files") or {}
    if not isinstance(files_in, dict):
        raise LabError(f"host {name!r}: files must be a mapping of path to content")
    files = tuple(_file(name, _writable_path(name, "files", p), v) for p, v in files_in.items())

    dirs_in = spec.get("directories") or []
    if not isinstance(dirs_in, list):
        raise LabError(f"host {name!r}: directories must be a list of paths")
    directories = tuple(_writable_path(name, "directories", d) for d in dirs_in)

    watch_in = spec.get("watch") or []
    if not isinstance(watch_in, list):
        raise LabError(f"host {name!r}: watch must be a list of paths")
    watch = tuple(_host_path(name, "watch", w, allow_glob=True) for w in watch_in)

    port = spec.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535):
        raise LabError(f"host {name!r}: port must be an integer between 1 and 65535")

    address = spec.get("address", "127.0.0.1")
    try:
        ip = ipaddress.ip_address(address)
    except (TypeError, ValueError):
        raise LabError(f"host {name!r}: address {address!r} is not an IP address") from None
    if ip.version != 4 or not ip.is_loopback:
        raise LabError(f"host {name!r}: address {address} is not in 127.0.0.0/8 (the lab is loopback only)")

    hostname = spec.get("hostname", name)
    if not isinstance(hostname, str) or not HOST_NAME.match(hostname):
        raise LabError(f"host {name!r}: invalid hostname {hostname!r}")

    family = spec.get("family", "debian")
    if family not in FAMILIES:
        raise LabError(f"host {name!r}: family {family!r} is not one of {', '.join(FAMILIES)}")

    selinux = spec.get("selinux")
    denials = ""
    if isinstance(selinux, dict):
        unknown = set(selinux) - {"mode", "denials"}
        if unknown:
            raise LabError(f"host {name!r}: selinux: unknown keys {sorted(unknown)}")
        denials = selinux.get("denials") or ""
        if not isinstance(denials, str):
            raise LabError(f"host {name!r}: selinux.denials must be text")
        selinux = selinux.get("mode")
    if selinux is not None and selinux not in SELINUX_MODES:
        raise LabError(f"host {name!r}: selinux mode {selinux!r} is not one of {', '.join(SELINUX_MODES)}")

    filesystems = _filesystems(name, spec.get("filesystems") or [])
    known = {"platform", "files", "directories", "watch", "port", "address", "hostname", "family", "agent",
             "extension", "filesystems", "selinux"}
    extra = {k: v for k, v in spec.items() if k not in known}
    return HostSpec(name, files, directories, watch, port, str(ip), hostname, extra, family,
                    _agent(name, spec.get("agent", {})), _extension(name, spec.get("extension", {})),
                    filesystems, selinux, denials)


def _mapping(name: str, where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LabError(f"host {name!r}: {where} must be a mapping (or null)")
    unknown = set(value) - allowed
    if unknown:
        raise LabError(f"host {name!r}: {where}: unknown keys {sorted(unknown)}")
    return value


def _flag(name: str, where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise LabError(f"host {name!r}: {where} must be true or false")
    return value


def _version(name: str, where: str, value: Any) -> str:
    if not isinstance(value, str) or not VERSION.match(value):
        raise LabError(f"host {name!r}: {where} {value!r} is not a dotted version")
    return value


def _agent(name: str, value: Any) -> AgentSpec | None:
    if value is None:
        return None
    agent = _mapping(name, "agent", value, {"installed", "running", "enabled", "version", "conf"})
    default = AgentSpec()
    conf = agent.get("conf") or {}
    if not isinstance(conf, dict) or not all(isinstance(k, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9.]*", k)
                                             and isinstance(v, str | bool) for k, v in conf.items()):
        raise LabError(f"host {name!r}: agent.conf must map waagent.conf keys (Extensions.Enabled) to text")
    installed = _flag(name, "agent.installed", agent.get("installed", True))
    if not installed:
        return None
    return AgentSpec(
        installed=True,
        running=_flag(name, "agent.running", agent.get("running", default.running)),
        enabled=_flag(name, "agent.enabled", agent.get("enabled", default.enabled)),
        version=_version(name, "agent.version", agent.get("version", default.version)),
        conf=tuple((k, ("y" if v else "n") if isinstance(v, bool) else v) for k, v in conf.items()),
    )


def _extension(name: str, value: Any) -> ExtensionSpec | None:
    if value is None:
        return None
    ext = _mapping(name, "extension", value, {"version", "log", "handler_state", "status", "versions"})
    log = ext.get("log") or ""
    if not isinstance(log, str):
        raise LabError(f"host {name!r}: extension.log must be text")
    handler_state = ext.get("handler_state", "Enabled")
    if handler_state not in ("NotInstalled", "Installed", "Enabled", "FailedUpgrade"):
        raise LabError(f"host {name!r}: extension.handler_state {handler_state!r}: NotInstalled, Installed, "
                       "Enabled or FailedUpgrade")
    status = ext.get("status", "success")
    if status not in ("success", "error", "transitioning", "warning"):
        raise LabError(f"host {name!r}: extension.status {status!r}: success, error, transitioning or warning")
    versions = ext.get("versions", 1)
    if versions not in (1, 2):
        raise LabError(f"host {name!r}: extension.versions must be 1 or 2")
    return ExtensionSpec(_version(name, "extension.version", ext.get("version", ExtensionSpec.version)), log,
                         handler_state, status, versions)


def _filesystems(name: str, value: Any) -> tuple[FilesystemSpec, ...]:
    if not isinstance(value, list):
        raise LabError(f"host {name!r}: filesystems must be a list")
    out: list[FilesystemSpec] = []
    letters = iter("cdefghijklmnopqrstuvwxyz")
    for index, item in enumerate(value):
        where = f"filesystems[{index}]"
        fs = _mapping(name, where, item, {"mount", "type", "device", "size", "options", "state", "mounts", "busy",
                                                   "hidden"})
        mount = _writable_path(name, f"{where}.mount", fs.get("mount"))
        kind = fs.get("type", "ext4")
        if kind not in FS_TYPES:
            raise LabError(f"host {name!r}: {where}.type {kind!r} is not one of {', '.join(FS_TYPES)}")
        device = fs.get("device") or f"/dev/sd{next(letters)}1"
        if not isinstance(device, str) or not DEVICE_NAME.match(device):
            raise LabError(f"host {name!r}: {where}.device {device!r} is not a /dev/<name> device name")
        size = SIZE.match(str(fs.get("size", f"{MIN_SIZE_MB.get(kind, 64)}M")))
        if not size or int(size.group(1)) < MIN_SIZE_MB.get(kind, 16):
            raise LabError(f"host {name!r}: {where}.size must look like 64M (at least "
                           f"{MIN_SIZE_MB.get(kind, 16)}M for {kind})")
        state = fs.get("state", "clean")
        if state not in FS_STATES or (state != "clean" and not kind.startswith("ext")):
            raise LabError(f"host {name!r}: {where}.state {state!r}: one of {', '.join(FS_STATES)} "
                           "(not-clean and errors for ext3/ext4 only)")
        options = fs.get("options", "defaults")
        if not isinstance(options, str) or not re.fullmatch(r"[A-Za-z0-9_=,.-]+", options):
            raise LabError(f"host {name!r}: {where}.options {options!r} is not a mount option list")
        mounts = fs.get("mounts", 1)
        if mounts not in (1, 2):
            raise LabError(f"host {name!r}: {where}.mounts must be 1 or 2 (2: a duplicate mount entry)")
        hidden = _flag(name, f"{where}.hidden", fs.get("hidden", False))
        if hidden and mount.count("/") < 2:
            raise LabError(f"host {name!r}: {where}.hidden needs a mount point below a directory (/srv/data)")
        out.append(FilesystemSpec(mount, kind, device, int(size.group(1)), options, state, mounts,
                                  _flag(name, f"{where}.busy", fs.get("busy", False)), hidden))
    for attr in ("mount", "device"):
        seen = [getattr(f, attr) for f in out]
        if len(seen) != len(set(seen)):
            raise LabError(f"host {name!r}: filesystems: two file systems with the same {attr}")
    return tuple(out)

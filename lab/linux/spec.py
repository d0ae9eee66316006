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


@dataclass(frozen=True)
class FileSpec:
    """A file to create (content is text) or to make sure is absent (content is None)."""

    path: str
    content: str | None
    mode: int = 0o644


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

    known = {"platform", "files", "directories", "watch", "port", "address", "hostname"}
    extra = {k: v for k, v in spec.items() if k not in known}
    return HostSpec(name, files, directories, watch, port, str(ip), hostname, extra)

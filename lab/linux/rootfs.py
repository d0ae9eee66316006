"""The root filesystem of one simulated Linux host: a plain directory tree on this machine.

Only the writable part of the host lives here (/etc, /var, /root, ...). /usr comes from the machine,
bind-mounted read-only inside the host's private mount namespace (see sshd.py); /bin, /sbin, /lib and /lib64
are the usual usr-merge symlinks. Paths are always resolved *inside* the host root, so an absolute symlink
written by a playbook can never lead the lab to read or write the machine's own files.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil

from . import system
from .spec import HostSpec, LabError

WRITABLE_DIRS = {
    "etc": 0o755,
    "etc/ssh": 0o755,
    "var": 0o755,
    "var/log": 0o755,
    "var/lib": 0o755,
    "var/tmp": 0o1777,
    "tmp": 0o1777,
    "root": 0o700,
    "root/.ssh": 0o700,
    "home": 0o755,
    "run": 0o755,
    "run/sshd": 0o755,
    "run/lock": 0o1777,
    "mnt": 0o755,
    "opt": 0o755,
    "srv": 0o755,
    "media": 0o755,
    # mount points, filled inside the host's mount namespace only
    "usr": 0o755,
    "dev": 0o755,
    "proc": 0o555,
    "sys": 0o555,
}
LINKS = {
    "bin": "usr/bin",
    "sbin": "usr/sbin",
    "lib": "usr/lib",
    "lib64": "usr/lib64",
    "var/run": "/run",
    "var/lock": "/run/lock",
}
# Files copied from the machine's /etc when present: what the dynamic loader, Python and the shell tools need.
COPIED_FROM_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "shells", "debian_version")
MOUNTED = ("/usr", "/dev", "/proc", "/sys")
MAX_READ = 256 * 1024

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
GROUP = """root:x:0:
daemon:x:1:
adm:x:4:
tty:x:5:
disk:x:6:
shadow:x:42:
nogroup:x:65534:
"""
# '*' : no password, but not locked, so that sshd (UsePAM no) accepts public-key logins for root.
SHADOW = """root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
sshd:!:19000::::::
nobody:*:19000:0:99999:7:::
"""
NSSWITCH = """passwd:         files
group:          files
shadow:         files
hosts:          files
networks:       files
protocols:      files
services:       files
"""
FSTAB = "# <file system> <mount point> <type> <options> <dump> <pass>\n"


def _write(path: pathlib.Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()  # replace the link itself, never the file it points to
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _seed_etc(root: pathlib.Path, hostname: str) -> None:
    etc = root / "etc"
    _write(etc / "passwd", PASSWD)
    _write(etc / "group", GROUP)
    _write(etc / "shadow", SHADOW, 0o640)
    _write(etc / "gshadow", "root:*::\nshadow:*::\n", 0o640)
    _write(etc / "nsswitch.conf", NSSWITCH)
    _write(etc / "hostname", hostname + "\n")
    _write(etc / "hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost\n")
    _write(etc / "resolv.conf", "")
    _write(etc / "fstab", FSTAB)
    _write(etc / "environment", "")
    _write(etc / "profile", 'export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n')
    (etc / "os-release").symlink_to("../usr/lib/os-release")
    (etc / "mtab").symlink_to("../proc/self/mounts")
    (etc / "localtime").symlink_to("/usr/share/zoneinfo/Etc/UTC")
    for name in COPIED_FROM_ETC:
        source = pathlib.Path("/etc") / name
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, etc / name, symlinks=True)
        elif source.is_file():
            shutil.copy2(source, etc / name, follow_symlinks=True)


def build(root: pathlib.Path, spec: HostSpec, authorized_key: str) -> None:
    """Create a fresh host root for spec (root must not exist yet)."""
    root.mkdir(mode=0o755, parents=True)
    root.chmod(0o755)
    for rel, mode in WRITABLE_DIRS.items():
        path = root / rel
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
    for link, target in LINKS.items():
        (root / link).symlink_to(target)
    _seed_etc(root, spec.hostname)
    system.seed(root, spec)
    for directory in spec.directories:
        target = resolve(root, directory, for_write=True)
        target.mkdir(parents=True, exist_ok=True)
    for item in spec.files:
        target = resolve(root, item.path, for_write=True)
        if item.content is None:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            continue
        if target.is_dir() and not target.is_symlink():
            raise LabError(f"host {spec.name!r}: files: {item.path} is a directory")
        _write(target, item.content, item.mode)
    _write(root / "root/.ssh/authorized_keys", authorized_key.strip() + "\n", 0o600)
    system.write_boot_plan(root, spec)


def resolve(root: pathlib.Path, path: str, *, for_write: bool = False) -> pathlib.Path:
    """Map an absolute path as the host sees it to a path on this machine, following symlinks inside root.

    Absolute symlink targets restart at the host root, '..' stops at the host root. Paths that the host sees
    through its mounts are mapped to the machine's own tree: /usr to the host's /usr layer, else the machine's
    read-only /usr (reading only); /proc, /sys and /dev are never mapped (LabError).
    """
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink() and (parts or not for_write):
            hops += 1
            if hops > 40:
                raise LabError(f"too many symbolic links while resolving {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
        if len(resolved) == 1 and "/" + part in MOUNTED:
            if "/" + part != "/usr" or for_write:
                raise LabError(f"{path} is inside /{part}, which the lab does not map for this operation")
            layered = system.usr_layer(root.parent).joinpath(*resolved[1:], *parts)
            if layered.is_file() and not layered.is_char_device():
                return layered
            return pathlib.Path("/usr").joinpath(*resolved[1:], *parts)
    return root.joinpath(*resolved)


def read(root: pathlib.Path, path: str) -> str | None:
    """Text of a file on the host; None if absent. A directory reads as its entry names, one per line
    (sub-directories end with '/'). Content is decoded as UTF-8 (invalid bytes replaced) and capped."""
    try:
        target = resolve(root, path)
    except LabError:
        return None
    if target.is_dir():
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(target))
        return "".join(n + "\n" for n in names)
    if not target.is_file():
        return None
    with target.open("rb") as handle:
        data = handle.read(MAX_READ + 1)
    text = data[:MAX_READ].decode("utf-8", errors="replace")
    return text + "\n[... truncated by the lab ...]\n" if len(data) > MAX_READ else text


def expand(root: pathlib.Path, pattern: str) -> list[str]:
    """Host paths matching a watch entry (a path or a glob); the pattern itself when nothing matches."""
    if not any(c in pattern for c in "*?["):
        return [pattern]
    matches = []
    base = str(root)
    for match in sorted(glob.glob(glob.escape(base) + pattern)):
        matches.append(match[len(base):])
    return matches or [pattern]

"""Simulated Linux lab hosts: one real OpenSSH server per host on loopback, each confined to its own root.

Public API: start(), stop(), status(), host_root(). See lab/linux/README.md for the layout and the host spec.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shlex
import shutil
import subprocess
from typing import Any

from . import disks, rootfs, sshd, system
from .spec import HostSpec, LabError, parse_host

__all__ = ["LabError", "host_root", "lab_dir", "leftovers", "start", "status", "stop"]

PYTHON = "/usr/bin/python3"
KEY_NAME = "id_ed25519"
STATE_NAME = "state.json"
KNOWN_HOSTS = "known_hosts"


def lab_dir(workdir: pathlib.Path) -> pathlib.Path:
    """The Linux lab writes hosts/, state.json, known_hosts and the client key pair right in the workdir."""
    # resolved: /proc/<pid>/root, used to find a host's processes, always shows the real path
    return pathlib.Path(workdir).resolve()


def host_root(workdir: pathlib.Path, host: str) -> pathlib.Path:
    """Where that host's "/" lives on this machine (its /usr, /dev, /proc, /sys are mounts only it sees)."""
    return lab_dir(workdir) / "hosts" / host / "root"


def _load_state(lab: pathlib.Path) -> dict[str, Any]:
    try:
        state = json.loads((lab / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"hosts": {}}
    if not isinstance(state, dict) or not isinstance(state.get("hosts"), dict):
        return {"hosts": {}}
    return state


def _save_state(lab: pathlib.Path, state: dict[str, Any]) -> None:
    tmp = lab / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(lab / STATE_NAME)


def _client_key(lab: pathlib.Path) -> tuple[pathlib.Path, str]:
    key = lab / KEY_NAME
    pub = lab / (KEY_NAME + ".pub")
    if key.is_file() and pub.is_file():
        key.chmod(0o600)
        return key, pub.read_text(encoding="utf-8").strip()
    return key, sshd.keygen(key, "remediate-lab")


def _host_vars(lab: pathlib.Path, name: str, record: dict[str, Any]) -> dict[str, Any]:
    common = [
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={lab / KNOWN_HOSTS}",
        "-o", f"HostKeyAlias=lab-{name}",
        "-o", "IdentitiesOnly=yes",
        "-o", "LogLevel=ERROR",
    ]
    return {
        "ansible_host": record["address"],
        "ansible_port": record["port"],
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(lab / KEY_NAME),
        "ansible_python_interpreter": PYTHON,
        "ansible_ssh_common_args": shlex.join(common),
    }


def _write_known_hosts(lab: pathlib.Path, state: dict[str, Any]) -> None:
    lines = []
    for name, record in sorted(state["hosts"].items()):
        hostkey = record.get("host_key")
        if hostkey:
            key_type, key_data = hostkey.split()[:2]
            lines.append(f"lab-{name} {key_type} {key_data}\n")
    (lab / KNOWN_HOSTS).write_text("".join(lines), encoding="utf-8")


def _remove_tree(path: pathlib.Path) -> None:
    """rmtree, but never across a mount point (it would delete what is mounted there, e.g. the real /usr)."""
    if not path.exists() and not path.is_symlink():
        return
    for point in sorted(sshd.mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)
    left = sshd.mounts_under(path)
    if left:
        raise LabError(f"refusing to remove {path}: still mounted: {left}")
    shutil.rmtree(path)


def _stop_host(lab: pathlib.Path, name: str, record: dict[str, Any] | None) -> None:
    """Kill every process of the host (its namespaces, and their mounts, go with them), then detach its loops."""
    host_dir = lab / "hosts" / name
    pids = (int(record["pid"]),) if record and isinstance(record.get("pid"), int) else ()
    sshd.kill_all(host_dir / "root", pids)
    disks.detach(host_dir)


def _start_host(lab: pathlib.Path, spec: HostSpec, authorized_key: str) -> dict[str, Any]:
    host_dir = lab / "hosts" / spec.name
    disks.detach(host_dir)
    _remove_tree(host_dir)
    root = host_dir / "root"
    rootfs.build(root, spec, authorized_key)
    system.build_usr_layer(host_dir, spec)
    host_key = sshd.keygen(root / "etc/ssh/ssh_host_ed25519_key", f"root@{spec.hostname}")
    boot_log = host_dir / "boot.log"
    devices = disks.create(host_dir, spec)
    for attempt in range(1, sshd.START_ATTEMPTS + 1):
        port = spec.port or sshd.free_port(spec.address)
        sshd.write_config(root, spec.address, port)
        pid = sshd.launch(root, spec.hostname, boot_log, system.usr_layer(host_dir), devices)
        if sshd.wait_ready(pid, spec.address, port):
            return {
                "pid": pid,
                "address": spec.address,
                "port": port,
                "root": str(root),
                "host_key": host_key,
                "status_paths": spec.status_paths,
                "family": spec.family,
                "services": [spec.agent_service] if spec.agent is not None else [],
                "loops": [d["loop"] for d in devices],
            }
        sshd.kill_all(root, (pid,))
        if spec.port is not None or attempt == sshd.START_ATTEMPTS:
            break
    disks.detach(host_dir)
    details = []
    for log in (boot_log, root / "var/log/boot.log", root / "var/log/sshd.log"):
        with contextlib.suppress(OSError):
            details.append(log.read_text(encoding="utf-8", errors="replace").strip()[-1500:])
    detail = "\n".join(d for d in details if d)
    raise LabError(f"sshd for host {spec.name!r} did not start on {spec.address}:{port}" +
                   (f":\n{detail}" if detail else ""))


def start(hosts: dict[str, dict], workdir: pathlib.Path) -> dict[str, dict]:
    """Start one real sshd per host on loopback, wait until each answers (bounded), and return
    {host: ansible inventory host vars}. Raises LabError (nothing left running for this call) on failure."""
    specs = [parse_host(name, spec) for name, spec in hosts.items()]
    fixed = [(s.address, s.port) for s in specs if s.port is not None]
    if len(fixed) != len(set(fixed)):
        raise LabError("two hosts ask for the same address and port")
    lab = lab_dir(workdir)
    lab.mkdir(parents=True, exist_ok=True)
    state = _load_state(lab)
    for spec in specs:
        record = state["hosts"].get(spec.name)
        if record is None:
            continue
        if sshd.alive(int(record.get("pid", 0))) and sshd.banner(record["address"], record["port"]):
            raise LabError(f"host {spec.name!r} is already running under {lab}; stop the lab first")
        _stop_host(lab, spec.name, record)
        del state["hosts"][spec.name]
    _, authorized_key = _client_key(lab)
    started: list[str] = []
    try:
        for spec in specs:
            state["hosts"][spec.name] = _start_host(lab, spec, authorized_key)
            started.append(spec.name)
            _save_state(lab, state)
    except BaseException:
        for name in started:
            with contextlib.suppress(LabError):
                _stop_host(lab, name, state["hosts"].pop(name, None))
        _save_state(lab, state)
        raise
    _write_known_hosts(lab, state)
    return {spec.name: _host_vars(lab, spec.name, state["hosts"][spec.name]) for spec in specs}


def stop(workdir: pathlib.Path) -> None:
    """Stop every sshd (and every process of its sessions) started under workdir, then remove the files the
    Linux lab wrote there (and workdir itself if that leaves it empty). Idempotent. Mounts lived only in the
    hosts' private namespaces: they went with the processes."""
    lab = lab_dir(workdir)
    if not lab.exists():
        return
    records = _load_state(lab)["hosts"]
    hosts_dir = lab / "hosts"
    names = set(records)
    if hosts_dir.is_dir():
        names.update(p.name for p in hosts_dir.iterdir())
    for name in sorted(names):
        _stop_host(lab, name, records.get(name))
    _remove_tree(hosts_dir)
    for leftover in (STATE_NAME, STATE_NAME + ".tmp", KNOWN_HOSTS, KEY_NAME, KEY_NAME + ".pub"):
        (lab / leftover).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        lab.rmdir()  # only when nothing else (another lab, the caller's files) lives there


def _services(root: pathlib.Path, names: list[str]) -> dict[str, str]:
    """{service: running | stopped} from the service's pid file, checked against the host's live processes."""
    pids = sshd.ns_pids(root)
    out = {}
    for name in names:
        text = rootfs.read(root, f"/run/{name}.pid") or ""
        out[name] = "running" if text.strip().isdigit() and int(text.strip()) in pids else "stopped"
    return out


def status(workdir: pathlib.Path) -> dict[str, dict]:
    """{host: {"reachable": bool, "address", "port", "files": {path: content | None}, "services": {name: state},
    "mounts": [{device, point, type, options}] | None}} for every started host.
    files covers every path named in the host's `files` and `watch` (globs expanded)."""
    lab = lab_dir(workdir)
    result: dict[str, dict] = {}
    for name, record in sorted(_load_state(lab)["hosts"].items()):
        root = lab / "hosts" / name / "root"
        reachable = sshd.alive(int(record.get("pid", 0))) and sshd.banner(record["address"], record["port"])
        files: dict[str, str | None] = {}
        for pattern in record.get("status_paths", []):
            for path in rootfs.expand(root, pattern):
                files[path] = rootfs.read(root, path)
        result[name] = {
            "reachable": reachable,
            "address": record["address"],
            "port": record["port"],
            "files": files,
            "services": _services(root, record.get("services", [])),
            "mounts": sshd.host_mounts(root),
            "family": record.get("family", "debian"),
        }
    return result


def leftovers(workdir: pathlib.Path) -> dict[str, list[str]]:
    """What a lab under workdir left on this machine: loop devices backed by its images, mounts below it in this
    namespace, processes confined to it or naming it. All empty after stop(), also after a failed start."""
    base = str(pathlib.Path(workdir).resolve())
    proc = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"], capture_output=True,
                          text=True, timeout=30, check=False)
    loops = [line.strip() for line in proc.stdout.splitlines() if base in line]
    processes = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        root = sshd.root_of(int(entry.name)) or ""
        if (root == base or root.startswith(base + "/") or base in sshd.cmdline(int(entry.name))) and \
                sshd.alive(int(entry.name)):
            processes.append(f"{entry.name}: {sshd.cmdline(int(entry.name)).strip()[:200]}")
    return {"loops": loops, "mounts": sshd.mounts_under(pathlib.Path(base)), "processes": processes}

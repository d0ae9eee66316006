"""Host specs and host root filesystems, without starting any server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.linux import rootfs
from lab.linux.spec import LabError, parse_host


def test_parse_host_normalises_a_scenario_entry() -> None:
    spec = parse_host("lnx1", {
        "platform": "linux",
        "files": {"/etc/azure/vmbackup.conf": "[SnapshotThread]\n", "/etc/gone": None,
                  "/root/secret": {"content": "s", "mode": "0600"}},
        "watch": ["/var/lib/waagent/*", "/etc/gone"],
        "services": {"walinuxagent": "stopped"},
    })
    assert spec.address == "127.0.0.1"
    assert spec.port is None
    assert spec.hostname == "lnx1"
    assert [f.path for f in spec.files] == ["/etc/azure/vmbackup.conf", "/etc/gone", "/root/secret"]
    assert spec.files[2].mode == 0o600
    assert spec.status_paths == [
        "/etc/azure/vmbackup.conf", "/etc/gone", "/root/secret", "/var/lib/waagent/*"]
    assert spec.extra == {"services": {"walinuxagent": "stopped"}}  # kept for later lab features
    assert spec.family == "debian" and spec.agent_service == "walinuxagent"
    assert spec.agent is not None and spec.agent.running and spec.extension is not None
    assert spec.filesystems == () and spec.selinux is None


@pytest.mark.parametrize(
    ("name", "spec", "message"),
    [
        ("bad/name", {}, "invalid host name"),
        ("h", {"platform": "windows"}, "platform"),
        ("h", {"files": {"etc/x": "a"}}, "absolute"),
        ("h", {"files": {"/etc/../x": "a"}}, "normalised"),
        ("h", {"files": {"/usr/bin/x": "a"}}, "under /usr"),
        ("h", {"files": {"/proc/x": "a"}}, "under /proc"),
        ("h", {"files": {"/etc/ssh/sshd_config": "a"}}, "managed by the lab"),
        ("h", {"files": {"/etc/x": 3}}, "must be text"),
        ("h", {"files": {"/etc/*": "a"}}, "wildcards"),
        ("h", {"files": {"/etc/x": {"content": "a", "mode": "9"}}}, "octal"),
        ("h", {"files": ["/etc/x"]}, "mapping"),
        ("h", {"watch": "/etc/x"}, "list"),
        ("h", {"port": 0}, "port"),
        ("h", {"port": "22"}, "port"),
        ("h", {"address": "10.0.0.1"}, "loopback"),
        ("h", {"address": "nope"}, "not an IP"),
        ("h", {"family": "arch"}, "family"),
        ("h", {"agent": {"running": "no"}}, "agent.running"),
        ("h", {"agent": {"conf": {"bad key": "y"}}}, "agent.conf"),
        ("h", {"agent": {"version": "latest"}}, "dotted version"),
        ("h", {"extension": {"handler_state": "Weird"}}, "handler_state"),
        ("h", {"selinux": "on"}, "selinux mode"),
        ("h", {"filesystems": [{"mount": "/data", "type": "vfat"}]}, "type"),
        ("h", {"filesystems": [{"mount": "/data", "type": "xfs", "size": "64M"}]}, "at least 320M"),
        ("h", {"filesystems": [{"mount": "/data", "type": "xfs", "state": "not-clean"}]}, "ext3/ext4 only"),
        ("h", {"filesystems": [{"mount": "/usr/data"}]}, "under /usr"),
        ("h", {"filesystems": [{"mount": "/data", "mounts": 3}]}, "mounts must be 1 or 2"),
        ("h", {"filesystems": [{"mount": "/data", "device": "sdc1"}]}, "device"),
        ("h", {"filesystems": [{"mount": "/data"}, {"mount": "/data"}]}, "same mount"),
        ("h", {"filesystems": [{"mount": "/data", "hidden": True}]}, "below a directory"),
    ],
)
def test_parse_host_rejects_bad_entries(name: str, spec: dict, message: str) -> None:
    with pytest.raises(LabError, match=message):
        parse_host(name, spec)


def test_build_seeds_a_usable_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    spec = parse_host("lnx1", {"files": {"/etc/azure/vmbackup.conf": "[SnapshotThread]\n",
                                         "/etc/fstab": None,
                                         "/var/lib/waagent/ext-1.0/main/tempPlugin/vmbackup.conf": "t"},
                               "directories": ["/var/log/azure"]})
    rootfs.build(root, spec, "ssh-ed25519 AAAA lab")
    assert (root / "etc/azure/vmbackup.conf").read_text() == "[SnapshotThread]\n"
    assert not (root / "etc/fstab").exists()  # null = absent, even for a seeded file
    assert (root / "var/log/azure").is_dir()
    assert (root / "root/.ssh/authorized_keys").read_text() == "ssh-ed25519 AAAA lab\n"
    assert oct((root / "root/.ssh/authorized_keys").stat().st_mode & 0o777) == "0o600"
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0:")
    assert os.readlink(root / "bin") == "usr/bin"
    assert (root / "etc/hostname").read_text() == "lnx1\n"
    assert sorted(rootfs.expand(root, "/var/lib/waagent/ext-*")) == ["/var/lib/waagent/ext-1.0"]
    assert rootfs.read(root, "/var/lib/waagent/ext-1.0") == "main/\n"
    assert rootfs.read(root, "/etc/nothing") is None
    # /usr as the host sees it is the machine's read-only /usr
    assert rootfs.read(root, "/etc/os-release") == Path("/usr/lib/os-release").read_text()


def test_paths_never_escape_the_host_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rootfs.build(root, parse_host("h", {}), "ssh-ed25519 AAAA lab")
    # links a playbook could leave behind: absolute, and relative with too many '..'
    (root / "etc/evil").symlink_to("/etc/passwd")
    (root / "etc/evil2").symlink_to("../../../../../../../../etc/passwd")
    (root / "var/evil-dir").symlink_to("/etc")
    lab_passwd = (root / "etc/passwd").read_text()
    assert rootfs.read(root, "/etc/evil") == lab_passwd
    assert rootfs.read(root, "/etc/evil2") == lab_passwd
    assert rootfs.resolve(root, "/var/evil-dir/passwd") == root / "etc/passwd"
    assert rootfs.resolve(root, "/var/run/sshd") == root / "run/sshd"
    with pytest.raises(LabError):
        rootfs.resolve(root, "/usr/bin/python3", for_write=True)
    assert rootfs.read(root, "/proc/self/environ") is None
    loop = root / "etc/loop"
    loop.symlink_to("/etc/loop")
    with pytest.raises(LabError, match="too many"):
        rootfs.resolve(root, "/etc/loop")
    assert rootfs.read(root, "/etc/loop") is None

"""The Linux playbooks: ansible-lint's production profile, and the filters they rest on (pure functions, the
inputs being what the playbooks read on a host)."""

from __future__ import annotations

import base64
import importlib.util
import json
from types import ModuleType

import pytest

from .windows_lab import ROOT, ansible_lint

LINUX_PLAYBOOKS = ROOT / "playbooks" / "linux"


def _filters(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_filter", ROOT / "playbooks/filter_plugins" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


linux_agent = _filters("linux_agent")
linux_mounts = _filters("linux_mounts")

MOUNTS = """/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
/dev/sdc1 /data ext4 rw,relatime 0 0
/dev/sdb1 /mnt/resource ext4 rw,relatime 0 0
/dev/loop3 /snap/core ext4 ro 0 0
/dev/sdd1 /srv/my\\040app xfs rw,relatime 0 0
/dev/sdc1 /data ext4 rw,relatime 0 0
tmpfs /run tmpfs rw 0 0
"""


def test_linux_playbooks_pass_ansible_lint_production() -> None:
    proc = ansible_lint(*sorted(LINUX_PLAYBOOKS.glob("*.yml")))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_freezable_mounts_follow_the_extension() -> None:
    mounts = linux_mounts.linux_mounts(MOUNTS)
    assert mounts[5]["point"] == "/srv/my app"  # octal escapes decoded
    # ext3/ext4/xfs/btrfs, no loop device, not the resource disk, not MountsToSkip, one entry per point
    found = linux_mounts.freezable_mounts(mounts, "/srv/my app, /nothing")
    assert [(m["point"], m["entries"]) for m in found] == [("/", 1), ("/data", 2)]


def _loop(point: str, **result: object) -> dict:
    return {"item": {"point": point}, **result}


def test_fsfreeze_diagnosis_and_the_fsck_plan() -> None:
    candidates = linux_mounts.freezable_mounts(linux_mounts.linux_mounts(MOUNTS))
    diag = linux_mounts.fsfreeze_diagnosis(
        candidates,
        states=[_loop("/", stdout="Filesystem state:         clean\n"),
                _loop("/data", stdout="Filesystem state:         not clean with errors\n")],
        probes=[_loop("/", rc=0), _loop("/data", rc=0), _loop("/srv/my app", rc=1,
                                                             stderr="fsfreeze: /srv/my app: freeze failed: busy")],
        users=[_loop("/data", stdout="  812 postgres\n")],
        fstab_text="/dev/sdc1 /data ext4 defaults,nofail 0 2\n",
        log_text="[ERROR] Failed to FITHAW: /data\n", skip="", critical=None)
    assert diag["healthy"] is False
    assert [f["check"] for f in diag["findings"]] == ["unclean", "duplicate", "freeze"]
    assert diag["fsck_targets"] == ["/data"] and diag["skip_candidates"] == ["/data", "/srv/my app"]
    assert diag["logged_freeze_failures"] == ["/data"]
    plan = linux_mounts.fsck_remount_plan(diag, ["/", "/data", "/mnt/resource", "/nowhere"])
    assert plan["targets"] == []
    assert [r.split(":")[0] for r in plan["refused"]] == ["/", "/data", "/mnt/resource", "/nowhere"]
    assert "812 (postgres)" in plan["refused"][1]
    diag["mounts"][1]["users"] = []
    plan = linux_mounts.fsck_remount_plan(diag)
    assert plan["targets"] == [{"point": "/data", "device": "/dev/sdc1", "type": "ext4", "entries": 2,
                                "check": ["e2fsck", "-p"], "options": "defaults,nofail"}]
    assert plan["unmounts"] == [{"point": "/data", "entry": 1, "of": 2}, {"point": "/data", "entry": 2, "of": 2}]


def test_mount_access_diagnosis() -> None:
    mounts = linux_mounts.openable_mounts(linux_mounts.linux_mounts(MOUNTS))
    assert [m["point"] for m in mounts] == ["/", "/data", "/mnt/resource", "/snap/core", "/srv/my app"]
    diag = linux_mounts.mount_access_diagnosis(mounts, [
        {"item": m, "rc": 0} for m in mounts[:3]] + [
        {"item": mounts[3], "rc": 124}, {"item": mounts[4], "rc": 1, "stderr": "ls: cannot open: Permission denied"}])
    assert [f["mount"] for f in diag["findings"]] == ["/snap/core", "/srv/my app"]
    assert "timed out" in diag["findings"][0]["message"] and "Permission denied" in diag["findings"][1]["message"]


@pytest.mark.parametrize(("path", "text", "expected"), [
    ("/etc/network/interfaces.d/50-cloud-init", "auto eth0\niface eth0 inet dhcp\niface lo inet loopback\n",
     [("eth0", True)]),
    ("/etc/netplan/50-cloud-init.yaml", "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n"
     "    eth1:\n      addresses: [10.0.0.5/24]\n  version: 2\n", [("eth0", True), ("eth1", False)]),
    ("/etc/sysconfig/network-scripts/ifcfg-eth0", "DEVICE=eth0\nBOOTPROTO=static\n", [("eth0", False)]),
    ("/etc/NetworkManager/system-connections/eth0.nmconnection",
     "[connection]\ninterface-name=eth0\n[ipv4]\nmethod=manual\n", [("eth0", False)]),
    ("/etc/systemd/network/10-eth0.network", "[Match]\nName=eth0\n[Network]\nDHCP=ipv4\n", [("eth0", True)]),
])
def test_dhcp_from_the_network_configuration(path: str, text: str, expected: list) -> None:
    assert [(i["interface"], i["dhcp"]) for i in linux_agent.dhcp_interfaces({path: text})] == expected


def test_waagent_diagnosis_findings() -> None:
    services = {"walinuxagent": {"name": "walinuxagent", "state": "running", "source": "sysv"}}
    diag = linux_agent.waagent_diagnosis(
        "walinuxagent", services, ["service", "conf", "restart", "extension", "selinux", "dhcp"], installed=True,
        version_text="WALinuxAgent - 2.9.1.1 running on Linux\nGoal state agent: 2.9.1.1\n",
        conf_text="# c\nExtensions.Enabled=n\n",
        conf_expected={"Extensions.Enabled": "y", "Provisioning.Agent": "auto"},
        restart={"started": 100, "conf_mtime": 200}, extension_dirs=[], selinux_mode="Enforcing",
        selinux_denials="type=AVC msg=audit(1:2): avc:  denied  { write } comm=\"python3\" name=\"waagent\"\n",
        dhcp=[{"interface": "eth0", "dhcp": False, "file": "/etc/network/interfaces"}])
    assert [f["check"] for f in diag["findings"]] == ["conf", "conf", "restart", "extension", "selinux", "dhcp"]
    assert diag["agent"]["version"] == "2.9.1.1"
    quiet = linux_agent.waagent_diagnosis("waagent", {}, ["service"], installed=False)
    assert [f["check"] for f in quiet["findings"]] == ["installed"]


def test_vmsnapshot_diagnosis() -> None:
    status = json.dumps([{"status": {"status": "error"}}])
    diag = linux_agent.vmsnapshot_diagnosis(["/x/A-1", "/x/A-2"], {"/x/A-1": "Enabled", "/x/A-2": "FailedUpgrade"},
                                            {"/x/A-1": status})
    assert [f["check"] for f in diag["findings"]] == ["status", "handler-state", "versions"]
    assert linux_agent.vmsnapshot_diagnosis([], {}, {})["healthy"] is True
    slurped = [{"item": "/etc/x", "source": "/etc/x", "content": base64.b64encode(b"a=1").decode()}]
    assert linux_agent.slurped_texts(slurped) == {"/etc/x": "a=1"}

"""The lab host as an Azure Linux VM: its own init and service manager, the agent as a real SysV service driven by
ansible.builtin.service, real loop-device file systems mounted in the host only, and teardown that leaves
nothing behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Ansible, Lab, lab_supported

from lab import linux
from lab.linux import LabError, sshd

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_supported() is not None, reason=str(lab_supported())),
]

VMS = {
    "deb": {"filesystems": [{"mount": "/data", "state": "not-clean", "mounts": 2, "busy": True},
                            {"mount": "/srv/logs", "type": "xfs"},
                            {"mount": "/srv/share/data", "hidden": True}]},
    "rhel": {"family": "redhat", "agent": {"running": False, "conf": {"Extensions.Enabled": "n"}},
             "extension": None, "selinux": "enforcing"},
}


@pytest.fixture(scope="module")
def vms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp("vmlab")
    try:
        hostvars = linux.start(VMS, workdir)
        yield Lab(workdir, hostvars, Ansible(tmp_path_factory.mktemp("ansible"), hostvars))
    finally:
        linux.stop(workdir)
        assert linux.leftovers(workdir) == {"loops": [], "mounts": [], "processes": []}


def _shell(lab: Lab, host: str, script: str) -> dict:
    res = lab.ansible.run([{"name": "sh", "ansible.builtin.command": {"argv": ["sh", "-c", script]},
                            "changed_when": False, "failed_when": False}], hosts=host)
    assert res.rc == 0, res.stderr
    return res.task("sh")[host]


def test_facts_see_a_sysv_host_of_its_distribution_family(vms: Lab) -> None:
    res = vms.ansible.run([{"name": "facts", "ansible.builtin.setup": {"gather_subset": ["!all", "service_mgr"]}}])
    assert res.rc == 0, res.stderr
    deb, rhel = res.task("facts")["deb"]["ansible_facts"], res.task("facts")["rhel"]["ansible_facts"]
    # pid 1 is the host's own init (comm "init"), /sbin/init is not systemd, no systemctl: Ansible decides sysvinit
    assert deb["ansible_service_mgr"] == rhel["ansible_service_mgr"] == "sysvinit"
    assert deb["ansible_os_family"] == "Debian" and rhel["ansible_os_family"] == "RedHat"
    ps = _shell(vms, "deb", "cat /proc/1/comm; ps -e -o comm= | sort -u; command -v systemctl || echo none")
    lines = ps["stdout"].splitlines()
    assert lines[0] == "init" and lines[-1] == "none"
    assert {"init", "sshd", "sleep", "python3"} <= set(lines)  # only the host's own processes are visible


def test_the_agent_is_a_service_that_ansible_starts_stops_and_restarts(vms: Lab) -> None:
    assert linux.status(vms.workdir)["rhel"]["services"] == {"waagent": "stopped"}
    task = {"name": "agent", "ansible.builtin.service": {"name": "waagent", "state": "started"}}
    dry = vms.ansible.run([task], hosts="rhel", args=("--check",))
    assert dry.task("agent")["rhel"]["changed"] is True
    assert linux.status(vms.workdir)["rhel"]["services"] == {"waagent": "stopped"}  # check mode: untouched
    assert vms.ansible.run([task], hosts="rhel").task("agent")["rhel"]["changed"] is True
    assert linux.status(vms.workdir)["rhel"]["services"] == {"waagent": "running"}
    assert vms.ansible.run([task], hosts="rhel").task("agent")["rhel"]["changed"] is False
    facts = vms.ansible.run([{"name": "services", "ansible.builtin.service_facts": {}}], hosts="rhel")
    assert facts.task("services")["rhel"]["ansible_facts"]["services"]["waagent"]["state"] == "running"
    log = vms.root("rhel") / "var/log/waagent.log"
    assert "Extension handling is disabled (Extensions.Enabled=n)" in log.read_text()  # it read its config
    stop = {"name": "agent", "ansible.builtin.service": {"name": "waagent", "state": "stopped"}}
    assert vms.ansible.run([stop], hosts="rhel").task("agent")["rhel"]["changed"] is True
    assert linux.status(vms.workdir)["rhel"]["services"] == {"waagent": "stopped"}
    zombies = _shell(vms, "rhel", "ps -e -o stat= | grep -c '^Z' || true")
    assert zombies["stdout"] == "0"  # the host's init reaps the stopped daemon


def test_agent_files_follow_the_scenario(vms: Lab) -> None:
    deb, rhel = vms.root("deb"), vms.root("rhel")
    assert (deb / "etc/init.d/walinuxagent").is_file() and (rhel / "etc/init.d/waagent").is_file()
    assert "Extensions.Enabled=y" in (deb / "etc/waagent.conf").read_text()
    assert "Extensions.Enabled=n" in (rhel / "etc/waagent.conf").read_text()
    template = next(deb.glob("var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-*"))
    assert (template / "main/tempPlugin/vmbackup.conf").read_text().startswith("[SnapshotThread]")
    assert not list(rhel.glob("var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-*"))
    assert _shell(vms, "rhel", "getenforce")["stdout"] == "Enforcing"
    assert _shell(vms, "deb", "getenforce")["rc"] == 127  # no SELinux tools on that host


def test_file_systems_are_real_and_mounted_in_the_host_only(vms: Lab) -> None:
    mounts = [(m["device"], m["point"], m["type"]) for m in linux.status(vms.workdir)["deb"]["mounts"]
              if m["device"].startswith("/dev/sd")]
    assert mounts == [("/dev/sdc1", "/data", "ext4"), ("/dev/sdd1", "/srv/logs", "xfs"),
                      ("/dev/sde1", "/srv/share/data", "ext4"), ("/dev/sdc1", "/data", "ext4")]
    assert sshd.mounts_under(vms.workdir) == []  # nothing mounted in this machine's namespace
    out = _shell(vms, "deb", "dumpe2fs -h /dev/sdc1 2>/dev/null | grep '^Filesystem state'; "
                             "fsfreeze --freeze /srv/logs && fsfreeze --unfreeze /srv/logs && echo froze; "
                             "umount /data; echo umount=$?; ls /srv/share/data; echo ls=$?")
    lines = out["stdout"].splitlines()
    assert lines[0].endswith("not clean") and lines[1] == "froze"
    assert "umount=32" in lines and "target is busy" in out["stderr"]  # the busy application
    assert "ls=2" in lines and "No such file or directory" in out["stderr"]  # the hidden mount


def test_a_failed_start_detaches_its_loop_devices(tmp_path: Path) -> None:
    workdir = tmp_path / "lab"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(LabError, match="did not start"):
            linux.start({"ok": {"filesystems": [{"mount": "/data"}]},
                         "bad": {"filesystems": [{"mount": "/data"}], "port": busy.getsockname()[1]}}, workdir)
    assert linux.leftovers(workdir) == {"loops": [], "mounts": [], "processes": []}
    linux.stop(workdir)
    assert not workdir.exists()

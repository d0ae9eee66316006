"""Real Ansible (ssh connection) against real sshd lab hosts, each confined to its own root filesystem."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from conftest import BROKEN_CONF, CONF, Lab

from lab import linux
from lab.linux import sshd

pytestmark = pytest.mark.lab


def test_start_returns_inventory_vars(lab: Lab) -> None:
    assert set(lab.hostvars) == {"lnx1", "lnx2"}
    lnx1, lnx2 = lab.hostvars["lnx1"], lab.hostvars["lnx2"]
    assert lnx1["ansible_host"] == "127.0.0.1"
    assert lnx2["ansible_host"] == "127.0.0.2"
    assert lnx1["ansible_user"] == "root"
    assert lnx1["ansible_python_interpreter"] == "/usr/bin/python3"
    assert isinstance(lnx1["ansible_port"], int)
    key = Path(lnx1["ansible_ssh_private_key_file"])
    assert key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.is_relative_to(lab.workdir)
    for name, hostvars in lab.hostvars.items():
        assert sshd.banner(hostvars["ansible_host"], hostvars["ansible_port"]), name


def test_ping_command_stat_slurp(lab: Lab) -> None:
    res = lab.ansible.run([
        {"name": "ping", "ansible.builtin.ping": {}},
        {"name": "hostname", "ansible.builtin.command": "hostname", "changed_when": False},
        {"name": "stat", "ansible.builtin.stat": {"path": CONF}},
        {"name": "slurp", "ansible.builtin.slurp": {"src": "/etc/waagent.conf"},
         "when": "inventory_hostname == 'lnx1'"},
        {"name": "whoami", "ansible.builtin.command": "id -un", "changed_when": False},
    ], env={"ANSIBLE_PIPELINING": "True"})  # as in the project's ansible.cfg
    assert res.rc == 0, res.stderr
    for host in ("lnx1", "lnx2"):
        assert res.task("ping")[host]["ping"] == "pong"
        # each host runs in its own UTS namespace with its own name
        assert res.task("hostname")[host]["stdout"] == host
        assert res.task("whoami")[host]["stdout"] == "root"
    assert res.task("stat")["lnx1"]["stat"]["exists"] is True
    assert res.task("stat")["lnx2"]["stat"]["exists"] is False
    slurped = res.task("slurp")["lnx1"]["content"]
    assert base64.b64decode(slurped).decode() == "Extensions.Enabled=y\n"


def test_ini_file_check_mode_then_apply_then_rerun(lab: Lab) -> None:
    conf = lab.root("lnx1") / CONF.lstrip("/")
    assert conf.read_text() == BROKEN_CONF
    task = [{
        "name": "set timeout",
        "ansible.builtin.ini_file": {"path": CONF, "section": "SnapshotThread", "option": "timeout",
                                     "value": "120", "mode": "0644"},
    }]

    dry = lab.ansible.run(task, hosts="lnx1", args=("--check", "--diff"))
    assert dry.rc == 0, dry.stderr
    result = dry.task("set timeout")["lnx1"]
    assert result["changed"] is True
    diff = result["diff"][0] if isinstance(result["diff"], list) else result["diff"]
    assert "timeout = 60" in diff["before"]
    assert "timeout = 120" in diff["after"]
    assert conf.read_text() == BROKEN_CONF  # check mode left the file untouched

    applied = lab.ansible.run(task, hosts="lnx1")
    assert applied.rc == 0, applied.stderr
    assert applied.task("set timeout")["lnx1"]["changed"] is True
    text = conf.read_text()
    assert "timeout = 120" in text
    assert "fsfreeze = True" in text
    assert linux.status(lab.workdir)["lnx1"]["files"][CONF] == text

    again = lab.ansible.run(task, hosts="lnx1")
    assert again.rc == 0, again.stderr
    assert again.task("set timeout")["lnx1"]["changed"] is False
    assert conf.read_text() == text
    assert not Path(CONF).exists() or Path(CONF).read_text() != text


def test_file_transfer_without_pipelining(lab: Lab) -> None:
    """Module files and `copy` go through SFTP, then SCP (internal-sftp inside the host)."""
    for method in ("sftp", "scp"):
        res = lab.ansible.run(
            [{"name": "copy",
              "ansible.builtin.copy": {"content": f"via {method}\n", "dest": "/tmp/lab-copied.txt"}}],
            hosts="lnx1",
            env={"ANSIBLE_PIPELINING": "False", "ANSIBLE_SSH_TRANSFER_METHOD": method},
        )
        assert res.rc == 0, res.stderr
        assert res.task("copy")["lnx1"]["changed"] is True
        assert (lab.root("lnx1") / "tmp/lab-copied.txt").read_text() == f"via {method}\n"
    assert linux.status(lab.workdir)["lnx1"]["files"]["/tmp/lab-copied.txt"] == "via scp\n"


def test_changes_stay_inside_the_host_root(lab: Lab) -> None:
    marker = "/etc/remediate-lab-marker"
    res = lab.ansible.run([
        {"name": "touch", "ansible.builtin.file": {"path": marker, "state": "touch"}},
        {"name": "write usr", "ansible.builtin.command": "touch /usr/remediate-lab-marker",
         "ignore_errors": True},
        {"name": "passwd", "ansible.builtin.command": "cat /etc/passwd", "changed_when": False},
    ], hosts="lnx2")
    assert res.rc == 0, res.stderr
    assert (lab.root("lnx2") / marker.lstrip("/")).is_file()
    assert not Path(marker).exists()
    assert not (lab.root("lnx1") / marker.lstrip("/")).exists()
    # /usr is the machine's, read-only inside the host
    assert res.task("write usr")["lnx2"]["failed"] is True
    assert "Read-only file system" in res.task("write usr")["lnx2"]["stderr"]
    assert not Path("/usr/remediate-lab-marker").exists()
    assert res.task("passwd")["lnx2"]["stdout"] == (lab.root("lnx2") / "etc/passwd").read_text().rstrip("\n")


def test_wrong_key_is_unreachable(lab: Lab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    sshd.keygen(wrong, "not-authorized")
    res = lab.ansible.run(
        [{"name": "ping", "ansible.builtin.ping": {}}],
        hosts="lnx1",
        args=("-e", f"ansible_ssh_private_key_file={wrong}"),
        control_dir=tmp_path / "cp",  # no reuse of an authenticated master connection
    )
    assert res.rc == 4
    assert res.stats("lnx1")["unreachable"] == 1
    assert res.task("ping")["lnx1"]["unreachable"] is True
    assert "Permission denied" in res.task("ping")["lnx1"]["msg"]


def test_status_reports_files_and_reachability(lab: Lab) -> None:
    state = linux.status(lab.workdir)
    assert state["lnx1"]["reachable"] is True
    assert state["lnx2"]["reachable"] is True
    assert state["lnx2"]["files"] == {CONF: None}
    files = state["lnx1"]["files"]
    assert files["/etc/waagent.conf"] == "Extensions.Enabled=y\n"
    assert files["/var/lib/waagent/*.xml"] is None  # a glob with no match is reported as absent
    # a glob that matches is reported per match: the backup extension's folder, seeded by default
    assert files["/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9225.0"] == (
        "HandlerManifest.json\nconfig/\nmain/\nstatus/\n")

"""start / stop / status of the Linux lab: processes, ports, mounts and files are all cleaned up."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import lab_supported

from lab import linux
from lab.linux import LabError, sshd

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(lab_supported() is not None, reason=str(lab_supported())),
]


def _mounted_under(path: Path) -> list[str]:
    return sshd.mounts_under(path)


def _ssh(hostvars: dict, command: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """One plain ssh login with the options the lab hands to Ansible."""
    return subprocess.run(
        ["ssh", "-p", str(hostvars["ansible_port"]), "-i", key or hostvars["ansible_ssh_private_key_file"],
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none",
         *hostvars["ansible_ssh_common_args"].split(), f"root@{hostvars['ansible_host']}", command],
        capture_output=True, text=True, timeout=30, check=False,
    )


def test_stop_kills_everything_and_is_idempotent(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    workdir = tmp_path / "link" / "lab"  # given through a symbolic link
    port = sshd.free_port("127.0.0.3")
    hostvars = linux.start({"solo": {"address": "127.0.0.3", "port": port}}, workdir)["solo"]
    assert hostvars["ansible_host"] == "127.0.0.3"
    assert hostvars["ansible_port"] == port
    root = linux.host_root(workdir, "solo")
    assert (root / "etc/passwd").is_file()

    # a login session running inside the host (as a playbook task would) ...
    session = subprocess.Popen(
        ["ssh", "-p", str(port), "-i", hostvars["ansible_ssh_private_key_file"], "-o", "BatchMode=yes",
         "-o", "ControlMaster=no", "-o", "ControlPath=none", *hostvars["ansible_ssh_common_args"].split(),
         "root@127.0.0.3", "echo up; exec sleep 300"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert session.stdout is not None
        assert session.stdout.readline().strip() == "up"
        assert sshd.processes_of(root)  # sshd listener, session, sleep
        # the host's mounts exist only in its own namespace, never in ours
        assert _mounted_under(workdir) == []

        linux.stop(workdir)
        assert session.wait(timeout=30) != 0  # ... is ended by stop()
    finally:
        if session.poll() is None:
            session.kill()
            session.wait(timeout=10)
        if session.stdout is not None:
            session.stdout.close()
    assert sshd.processes_of(root) == []
    assert not sshd.banner("127.0.0.3", port, timeout=1.0)
    assert not workdir.exists()
    assert linux.status(workdir) == {}
    linux.stop(workdir)  # idempotent
    linux.stop(tmp_path / "never-started")


def test_plain_ssh_sees_the_host_root(tmp_path: Path) -> None:
    workdir = tmp_path / "lab"
    try:
        hostvars = linux.start({"web": {"files": {"/etc/motd-lab": "hello\n"}}}, workdir)["web"]
        res = _ssh(hostvars, "cat /etc/motd-lab; hostname; ls /")
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[:2] == ["hello", "web"]
        assert "usr" in lines and "etc" in lines
        assert "work" not in lines  # this machine's own top-level directories are not visible

        wrong = tmp_path / "wrong"
        sshd.keygen(wrong, "wrong")
        denied = _ssh(hostvars, "true", key=str(wrong))
        assert denied.returncode == 255
        assert "Permission denied" in denied.stderr
    finally:
        linux.stop(workdir)


def test_hosts_outlive_the_process_that_started_them(tmp_path: Path) -> None:
    """`remediate lab up` returns while the hosts keep running; `lab down` is another process."""
    workdir = tmp_path / "lab"
    code = "import json, pathlib, sys; from lab import linux; " \
           "print(json.dumps(linux.start({'bg': {}}, pathlib.Path(sys.argv[1]))))"
    try:
        up = subprocess.run([sys.executable, "-c", code, str(workdir)], capture_output=True, text=True,
                            timeout=60, check=False)
        assert up.returncode == 0, up.stderr
        hostvars = json.loads(up.stdout)["bg"]
        assert linux.status(workdir)["bg"]["reachable"] is True
        res = _ssh(hostvars, "hostname")
        assert res.stdout.strip() == "bg", res.stderr
    finally:
        down = subprocess.run([sys.executable, "-c", "import pathlib, sys; from lab import linux; "
                               "linux.stop(pathlib.Path(sys.argv[1]))", str(workdir)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 0, down.stderr
    assert not workdir.exists()
    assert not sshd.banner(hostvars["ansible_host"], hostvars["ansible_port"], timeout=1.0)


def test_starting_a_running_host_again_is_refused(tmp_path: Path) -> None:
    workdir = tmp_path / "lab"
    try:
        linux.start({"a": {}}, workdir)
        with pytest.raises(LabError, match="already running"):
            linux.start({"a": {}}, workdir)
        more = linux.start({"b": {"watch": ["/etc/hostname"]}}, workdir)  # another host joins the same lab
        assert set(more) == {"b"}
        state = linux.status(workdir)
        assert set(state) == {"a", "b"}
        assert state["b"]["files"] == {"/etc/hostname": "b\n"}
    finally:
        linux.stop(workdir)
    assert not workdir.exists()


def test_failed_start_leaves_nothing_running(tmp_path: Path) -> None:
    workdir = tmp_path / "lab"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LabError, match="did not start"):
            linux.start({"ok": {}, "clash": {"port": port}}, workdir)
    for host in ("ok", "clash"):
        assert sshd.processes_of(linux.host_root(workdir, host)) == []
    assert linux.status(workdir) == {}
    linux.stop(workdir)
    assert not workdir.exists()


def test_invalid_spec_starts_nothing(tmp_path: Path) -> None:
    workdir = tmp_path / "lab"
    with pytest.raises(LabError, match="under /usr"):
        linux.start({"ok": {}, "bad": {"files": {"/usr/bin/evil": "x"}}}, workdir)
    assert not workdir.exists()

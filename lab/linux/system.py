"""What makes a lab host an Azure Linux VM: its own /usr layer (init, agent), the agent's service and files, the
backup extension's folder, the SELinux tools, and the boot plan read by the host's init.

The host's /usr is an overlay, read-only, of a small per-host layer over the machine's /usr:

    <workdir>/hosts/<host>/usr-layer/sbin/init         the lab's SysV-style init (guest/init), pid 1 of the host
    <workdir>/hosts/<host>/usr-layer/sbin/waagent      the agent stand-in (guest/waagent), when installed
    <workdir>/hosts/<host>/usr-layer/sbin/getenforce   SELinux tools stand-ins (selinux hosts only)
    <workdir>/hosts/<host>/usr-layer/bin/systemctl     a whiteout: systemd is not this host's init

so that Ansible sees a SysV host (ansible_service_mgr `sysvinit`: pid 1 is `init`, /sbin/init is not a link to
systemd, no systemctl) and `ansible.builtin.service` drives the /etc/init.d scripts through `service`.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import stat

from . import disks
from .spec import HostSpec

GUEST = pathlib.Path(__file__).resolve().parent / "guest"
EXTENSION = "Microsoft.Azure.RecoveryServices.VMSnapshotLinux"
EXTENSION_LOG = f"/var/log/azure/{EXTENSION}/extension.log"
SSHD = ["/usr/sbin/sshd", "-D", "-f", "/etc/ssh/sshd_config", "-E", "/var/log/sshd.log"]
HIDDEN_FROM_USR = ("bin/systemctl",)  # whiteouts in the host layer
RUNLEVELS_START = "2345"
RUNLEVELS_STOP = "016"
OS_RELEASE_REDHAT = """NAME="Red Hat Enterprise Linux"
VERSION="8.9 (Ootpa)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="8.9"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Red Hat Enterprise Linux 8.9 (Ootpa)"
"""


def usr_layer(host_dir: pathlib.Path) -> pathlib.Path:
    return host_dir / "usr-layer"


def _install(path: pathlib.Path, text: str, mode: int = 0o755) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _write(root: pathlib.Path, host_path: str, text: str, mode: int = 0o644) -> None:
    _install(root / host_path.lstrip("/"), text, mode)


def _standin(output: str, rc: int = 0) -> str:
    return f"#!/bin/sh\n# lab stand-in: prints what the scenario says\nprintf '%s' {shlex.quote(output)}\nexit {rc}\n"


def build_usr_layer(host_dir: pathlib.Path, spec: HostSpec) -> None:
    layer = usr_layer(host_dir)
    layer.mkdir(mode=0o755)
    _install(layer / "sbin/init", (GUEST / "init").read_text(encoding="utf-8"))
    for hidden in HIDDEN_FROM_USR:
        target = layer / hidden
        target.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(0, 0))  # overlayfs whiteout
    if spec.agent is not None:
        text = (GUEST / "waagent").read_text(encoding="utf-8").replace("@VERSION@", spec.agent.version)
        _install(layer / "sbin/waagent", text)
    if spec.selinux is not None:
        mode = spec.selinux.capitalize()
        _install(layer / "sbin/getenforce", _standin(mode + "\n"))
        current = "disabled" if spec.selinux == "disabled" else "enabled"
        _install(layer / "sbin/sestatus", _standin(
            f"SELinux status:                 {current}\n" + (
                "" if spec.selinux == "disabled" else
                f"Current mode:                   {spec.selinux}\nMode from config file:          {spec.selinux}\n"
                "Loaded policy name:             targeted\n")))
        # ausearch exits 1 with "<no matches>" on stderr when nothing matches
        if spec.selinux_denials:
            _install(layer / "sbin/ausearch", _standin(spec.selinux_denials))
        else:
            _install(layer / "sbin/ausearch", "#!/bin/sh\n# lab stand-in\necho '<no matches>' >&2\nexit 1\n")


def _waagent_conf(spec: HostSpec) -> str:
    text = (GUEST / "waagent.conf").read_text(encoding="utf-8")
    assert spec.agent is not None
    for key, value in spec.agent.conf:
        line = f"{key}={value}"
        pattern = re.compile(rf"^{re.escape(key)}=.*$", re.M)
        text = pattern.sub(line, text) if pattern.search(text) else text + line + "\n"
    return text


def seed(root: pathlib.Path, spec: HostSpec) -> None:
    """Agent, extension, family, network and fstab files of the host root (before the scenario's own files).
    The network configuration is what Azure images ship: eth0 by DHCP (ifupdown on Debian, ifcfg on Red Hat)."""
    if spec.family == "redhat":
        os.unlink(root / "etc/os-release")
        _write(root, "/etc/os-release", OS_RELEASE_REDHAT)
        _write(root, "/etc/redhat-release", "Red Hat Enterprise Linux release 8.9 (Ootpa)\n")
        (root / "etc/debian_version").unlink(missing_ok=True)
        _write(root, "/etc/sysconfig/network-scripts/ifcfg-eth0",
               'DEVICE=eth0\nONBOOT=yes\nBOOTPROTO=dhcp\nTYPE=Ethernet\nUSERCTL=no\nPEERDNS=yes\nIPV6INIT=no\n')
    else:
        _write(root, "/etc/network/interfaces", "# ifupdown\nsource /etc/network/interfaces.d/*\n\n"
               "auto lo\niface lo inet loopback\n")
        _write(root, "/etc/network/interfaces.d/50-cloud-init", "auto eth0\niface eth0 inet dhcp\n")
    for rl in "0123456S":
        (root / f"etc/rc{rl}.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/init.d").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/waagent").mkdir(parents=True, exist_ok=True)
    (root / "var/log/azure").mkdir(parents=True, exist_ok=True)
    if spec.agent is not None:
        name = spec.agent_service
        _write(root, f"/etc/init.d/{name}", (GUEST / "agent.init").read_text(encoding="utf-8")
               .replace("@NAME@", name), 0o755)
        if spec.agent.enabled:
            for rl in RUNLEVELS_START:
                (root / f"etc/rc{rl}.d/S01{name}").symlink_to(f"../init.d/{name}")
            for rl in RUNLEVELS_STOP:
                (root / f"etc/rc{rl}.d/K01{name}").symlink_to(f"../init.d/{name}")
        _write(root, "/etc/waagent.conf", _waagent_conf(spec))
        _write(root, "/var/log/waagent.log", "")
    if spec.extension is not None:
        folder = f"/var/lib/waagent/{EXTENSION}-{spec.extension.version}"
        _write(root, f"{folder}/config/HandlerState", spec.extension.handler_state)
        _write(root, f"{folder}/status/0.status", json.dumps([{
            "version": "1.0", "timestampUTC": "2026-01-01T00:00:00Z", "status": {
                "name": EXTENSION, "operation": "Enable", "status": spec.extension.status,
                "formattedMessage": {"lang": "en-US", "message": f"lab: {spec.extension.status}"}}}]) + "\n")
        if spec.extension.versions == 2:
            old = f"/var/lib/waagent/{EXTENSION}-1.0.9100.0"
            _write(root, f"{old}/config/HandlerState", "Installed")
            _write(root, f"{old}/main/tempPlugin/vmbackup.conf", (GUEST / "vmbackup.conf").read_text())
        _write(root, f"{folder}/main/tempPlugin/vmbackup.conf",
               (GUEST / "vmbackup.conf").read_text(encoding="utf-8"))
        _write(root, f"{folder}/HandlerManifest.json", json.dumps([{
            "version": 1.0, "handlerManifest": {
                "installCommand": "main/handle.sh install", "enableCommand": "main/handle.sh enable",
                "disableCommand": "main/handle.sh disable", "uninstallCommand": "main/handle.sh uninstall",
                "updateCommand": "main/handle.sh update", "rebootAfterInstall": False, "reportHeartbeat": False}}],
            indent=2) + "\n")
        _write(root, EXTENSION_LOG, spec.extension.log)
    for fs in spec.filesystems:
        (root / fs.mount.lstrip("/")).mkdir(parents=True, exist_ok=True)
    with (root / "etc/fstab").open("a", encoding="utf-8") as fstab:
        fstab.write(disks.fstab_lines(spec))


def write_boot_plan(root: pathlib.Path, spec: HostSpec) -> None:
    """/etc/lab/boot.json: what the host's init does after `mount -a` and the rc2.d scripts."""
    # an enabled agent that the scenario says is not running (it stopped, or crashed, after boot)
    not_started = [spec.agent_service] if spec.agent is not None and not spec.agent.running else []
    plan = {"sshd": SSHD, "mounts": disks.boot_mounts(spec), "processes": disks.busy_processes(spec),
            "not_started": not_started, "late_mounts": disks.hiding_mounts(spec)}
    _write(root, "/etc/lab/boot.json", json.dumps(plan, indent=2) + "\n")


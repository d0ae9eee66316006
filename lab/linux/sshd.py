"""One real OpenSSH server per simulated host, confined to the host root, under the host's own init.

The host is started as
    unshare --mount --uts --pid --fork --kill-child --propagation private -- sh -c BOOT sh ROOT HOSTNAME LAYER DEV...
BOOT runs as pid 1 of the new pid namespace and mounts, in the new private mount namespace only, a minimal /dev
(with a block node per lab file system, DEV = name:major:minor of its loop device), a new /proc (the host sees
only its own processes), the machine's /sys read-only, and /usr as a read-only overlay of the host's layer
(LAYER: its init, its agent) over the machine's /usr; sets the host name in the new UTS namespace, then
    exec chroot ROOT /usr/sbin/init
The init (guest/init) mounts the host's fstab, starts its SysV services and sshd, and reaps orphans. The recorded
pid is unshare's (in this machine's pid namespace); when it ends, --kill-child ends the host's init, and with it
every process of the host. The mounts belong to the host's namespace and disappear with its last process;
nothing is ever mounted in the machine's own namespace.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import time

from .spec import LabError

SSHD = "/usr/sbin/sshd"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
PROBE_TIMEOUT = 2.0
START_ATTEMPTS = 3

BOOT = r"""set -eu
R=$1 H=$2 L=$3
mount -t tmpfs -o mode=755,nosuid,size=1m labdev "$R/dev"
for n in null zero full random urandom tty; do
    : > "$R/dev/$n"
    mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
if mount -t devpts -o newinstance,ptmxmode=0666,mode=620 labpts "$R/dev/pts" 2>/dev/null; then
    ln -s pts/ptmx "$R/dev/ptmx"
fi
mount -t tmpfs -o mode=1777,nosuid,nodev labshm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
shift 3
for dev in "$@"; do
    IFS=: read -r name major minor <<EOF_DEV
$dev
EOF_DEV
    mknod -m 660 "$R/dev/$name" b "$major" "$minor"
done
mount -t proc -o nosuid,nodev,noexec labproc "$R/proc"
mount --rbind /sys "$R/sys"
mount -o remount,bind,ro "$R/sys"
mount -t overlay -o ro,lowerdir="$L":/usr labusr "$R/usr"
hostname "$H" 2>/dev/null || printf '%s' "$H" > /proc/sys/kernel/hostname 2>/dev/null || true
exec chroot "$R" /usr/sbin/init
"""

CONFIG = """# Written by the lab (lab/linux). Loopback only, key-only root login.
Port {port}
ListenAddress {address}
AddressFamily inet
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
PermitTunnel no
MaxStartups 64:30:128
MaxSessions 64
LoginGraceTime 30
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""

# Processes started by this Python process, kept so that they can be reaped (no zombies in long test runs).
_children: dict[int, subprocess.Popen[bytes]] = {}


def keygen(path: pathlib.Path, comment: str) -> str:
    """Create an ed25519 key pair (private key 0600, no passphrase); return the public key line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    result = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise LabError(f"ssh-keygen failed for {path.name}: {result.stderr.decode(errors='replace').strip()}")
    path.chmod(0o600)
    return path.with_name(path.name + ".pub").read_text(encoding="utf-8").strip()


def write_config(root: pathlib.Path, address: str, port: int) -> None:
    config = root / "etc/ssh/sshd_config"
    config.write_text(CONFIG.format(port=port, address=address), encoding="utf-8")
    config.chmod(0o644)


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def launch(root: pathlib.Path, hostname: str, boot_log: pathlib.Path, layer: pathlib.Path,
           devices: list[dict] | None = None) -> int:
    """Start the host (its init, which starts sshd), detached in its own session; return unshare's pid."""
    nodes = [f"{d['device'].removeprefix('/dev/')}:{d['major']}:{d['minor']}" for d in devices or []]
    cmd = ["unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--propagation", "private", "--",
           "sh", "-c", BOOT, "sh", str(root), hostname, str(layer), *nodes]
    with boot_log.open("ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
        )
    _children[proc.pid] = proc
    return proc.pid


def banner(address: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when an SSH server answers on address:port with its identification string."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = b""
            while b"\n" not in data and len(data) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"SSH-2.0-")
    except OSError:
        return False


def alive(pid: int) -> bool:
    """True if pid runs (zombies count as gone; our own dead children are reaped)."""
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:
        _children.pop(pid, None)
        return False
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def wait_ready(pid: int, address: str, port: int, timeout: float = START_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return False
        if banner(address, port, timeout=1.0):
            return True
        time.sleep(0.05)
    return False


def root_of(pid: int) -> str | None:
    try:
        link = os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None
    return link.removesuffix(" (deleted)")


def cmdline(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_of(root: pathlib.Path, pids: tuple[int, ...] = ()) -> list[int]:
    """Every live process confined to root (sshd, sessions, the modules they run), plus those of pids that
    are still booting for root (before their chroot)."""
    base = str(root.resolve())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        proc_root = root_of(pid)
        if proc_root is not None and (proc_root == base or proc_root.startswith(base + "/")) and alive(pid):
            found.append(pid)
    for pid in pids:
        if pid not in found and alive(pid) and base in cmdline(pid):
            found.append(pid)
    return found


def ns_pids(root: pathlib.Path) -> dict[int, int]:
    """{pid inside the host's pid namespace: pid on this machine} for every process of the host."""
    out: dict[int, int] = {}
    for pid in processes_of(root):
        try:
            status = pathlib.Path(f"/proc/{pid}/status").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:"):
                out[int(line.split()[-1])] = pid
    return out


def host_mounts(root: pathlib.Path) -> list[dict[str, str]] | None:
    """The mount table the host sees (its init's /proc/<pid>/mounts), or None when the host is not running."""
    init = ns_pids(root).get(1)
    if init is None:
        return None
    try:
        text = pathlib.Path(f"/proc/{init}/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            mounts.append({"device": fields[0], "point": fields[1].replace("\\040", " "), "type": fields[2],
                           "options": fields[3]})
    return mounts


def kill_all(root: pathlib.Path, pids: tuple[int, ...] = ()) -> None:
    """SIGTERM then, if needed, SIGKILL every process of the host; bounded in time."""
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        targets = processes_of(root, pids)
        if not targets:
            return
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not any(alive(pid) for pid in targets):
                break
            time.sleep(0.05)
    left = processes_of(root, pids)
    if left:
        raise LabError(f"processes {left} of {root} survived SIGKILL")


def mounts_under(path: pathlib.Path) -> list[str]:
    """Mount points at or below path in *this* process's mount namespace (there should be none)."""
    base = str(path.resolve())
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape") if "\\" in fields[4] else fields[4]
            if point == base or point.startswith(base + "/"):
                points.append(point)
    return points

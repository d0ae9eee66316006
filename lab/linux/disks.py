"""Real file systems for the lab hosts: an image file per file system, a loop device, a device node in the host.

    <workdir>/hosts/<host>/disks/<device>.img   sparse image, mkfs'd here (never mounted in this namespace)
    losetup -f --show IMAGE                     /dev/loopN on this machine (loop devices are global)
    <host root>/dev/<device>                    block node with loopN's major:minor, made in the host's /dev
                                                (a tmpfs of its own mount namespace) at boot
    /etc/fstab of the host                      `<device> <mount> <type> <options> 0 2`; the host's init mounts
                                                it (`mount -a`) inside the host's namespace only

An ext3/ext4 file system whose scenario state is `not-clean` or `errors` is made so for real before it is
attached: its superblock state is set with debugfs (`ssv state 0`: "not clean"; `ssv state 3`: "clean with
errors") and one inode gets a wrong link count, an inconsistency that `e2fsck -p` finds and fixes.
`detach()` detaches every loop device whose backing file is one of the host's images (found with
`losetup -j`), so nothing is left attached, also after a failed start or a killed test.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import time

from .spec import FilesystemSpec, HostSpec, LabError

MKFS = {"ext4": ["mkfs.ext4", "-q", "-F"], "ext3": ["mkfs.ext3", "-q", "-F"], "xfs": ["mkfs.xfs", "-q", "-f"],
        "btrfs": ["mkfs.btrfs", "-q", "-f"]}
STATE_VALUE = {"not-clean": 0, "errors": 3}
DETACH_TIMEOUT = 10.0


def _run(argv: list[str], what: str) -> str:
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                              check=False)
    except FileNotFoundError:
        raise LabError(f"{what}: {argv[0]} is not installed (see lab/linux/README.md, Requirements)") from None
    if proc.returncode != 0:
        raise LabError(f"{what}: {' '.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def image_dir(host_dir: pathlib.Path) -> pathlib.Path:
    return host_dir / "disks"


def _image(host_dir: pathlib.Path, fs: FilesystemSpec) -> pathlib.Path:
    return image_dir(host_dir) / (fs.device.rsplit("/", 1)[-1] + ".img")


def _make_unclean(image: pathlib.Path, fs: FilesystemSpec, what: str) -> None:
    """A real inconsistency for e2fsck, and the superblock state the scenario asks for."""
    _run(["debugfs", "-w", "-R", "write /etc/hostname lab-inconsistent", str(image)], what)
    _run(["debugfs", "-w", "-R", "set_inode_field /lab-inconsistent links_count 3", str(image)], what)
    _run(["debugfs", "-w", "-R", f"ssv state {STATE_VALUE[fs.state]}", str(image)], what)


def create(host_dir: pathlib.Path, spec: HostSpec) -> list[dict]:
    """Make and attach every file system of the host; return [{device, loop, major, minor, image}]."""
    attached: list[dict] = []
    if not spec.filesystems:
        return attached
    image_dir(host_dir).mkdir(parents=True, exist_ok=True)
    try:
        for fs in spec.filesystems:
            what = f"host {spec.name!r}: file system {fs.mount}"
            image = _image(host_dir, fs)
            with image.open("wb") as handle:
                handle.truncate(fs.size_mb * 1024 * 1024)
            _run([*MKFS[fs.type], str(image)], what)
            if fs.state != "clean":
                _make_unclean(image, fs, what)
            loop = _run(["losetup", "--find", "--show", str(image)], what).strip()
            major, minor = (int(n) for n in pathlib.Path(f"/sys/block/{os.path.basename(loop)}/dev")
                            .read_text().split(":"))
            attached.append({"device": fs.device, "loop": loop, "major": major, "minor": minor, "image": str(image)})
    except BaseException:
        detach(host_dir)
        raise
    return attached


def attached_loops(host_dir: pathlib.Path) -> list[str]:
    """Loop devices of this machine whose backing file is one of the host's images."""
    loops: list[str] = []
    directory = image_dir(host_dir)
    if not directory.is_dir():
        return loops
    for image in sorted(directory.glob("*.img")):
        proc = subprocess.run(["losetup", "--noheadings", "--output", "NAME", "--associated", str(image)],
                              capture_output=True, text=True, timeout=30, check=False)
        loops += [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    return loops


def detach(host_dir: pathlib.Path) -> None:
    """Detach the host's loop devices (their mounts went with the host's namespace). Bounded in time: the kernel
    may release the last mount a moment after the host's last process."""
    deadline = time.monotonic() + DETACH_TIMEOUT
    while True:
        loops = attached_loops(host_dir)
        if not loops:
            return
        for loop in loops:
            subprocess.run(["losetup", "--detach", loop], capture_output=True, timeout=30, check=False)
        if time.monotonic() > deadline:
            raise LabError(f"loop devices {loops} of {host_dir} could not be detached")
        time.sleep(0.1)


def fstab_lines(spec: HostSpec) -> str:
    return "".join(f"{fs.device}\t{fs.mount}\t{fs.type}\t{fs.options}\t0\t2\n" for fs in spec.filesystems)


def boot_mounts(spec: HostSpec) -> list[dict]:
    """The second entry of a file system with a duplicate entry (the first comes from /etc/fstab): the host's
    init binds the mount point onto itself, and the mount table lists the device twice on that point."""
    return [{"device": fs.device, "point": fs.mount, "type": fs.type, "options": fs.options}
            for fs in spec.filesystems for _ in range(fs.mounts - 1)]


def hiding_mounts(spec: HostSpec) -> list[dict]:
    """A tmpfs mounted, after everything else, on the parent directory of each hidden file system: the mount table
    still lists the file system, but its mount point can no longer be reached (No such file or directory)."""
    return [{"device": "lab-hide", "point": fs.mount.rsplit("/", 1)[0], "type": "tmpfs", "options": "mode=755"}
            for fs in spec.filesystems if fs.hidden]


def busy_processes(spec: HostSpec) -> list[dict]:
    """A process per busy file system, holding a file open in it (an application writing its log)."""
    script = 'exec 3>>"$1/app.log"; exec sleep 2147483647'
    return [{"argv": ["/bin/sh", "-c", script, "lab-app", fs.mount], "cwd": fs.mount}
            for fs in spec.filesystems if fs.busy]

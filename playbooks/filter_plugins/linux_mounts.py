"""Filters for the Linux mount runbooks (UserErrorFsFreezeFailed, UserErrorUnableToOpenMount).

`linux_mounts`: the text of /proc/self/mounts as [{device, point, type, options}] (octal escapes decoded).
`freezable_mounts`: what the backup extension freezes: ext3/ext4/xfs/btrfs, not loop devices, not the resource
disk, not the mounts of MountsToSkip; one entry per mount point with its device, type, options and how many
entries the mount table has for it (more than one: a duplicate entry).
`fsfreeze_diagnosis`: the diagnosis of UserErrorFsFreezeFailed from those mounts and what was read on the host:
the superblock state of the ext file systems (`dumpe2fs -h`), the freeze/thaw probe, the processes using each
mount (`fuser -m`), /etc/fstab and the extension's log.
`mount_access_diagnosis`: the mounts that cannot be opened (UserErrorUnableToOpenMount).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

FREEZABLE = ("ext3", "ext4", "xfs", "btrfs")
STATE_LINE = re.compile(r"^Filesystem state:\s*(.+?)\s*$", re.M)
# pseudo and virtual file systems: nothing for the extension to open or snapshot
PSEUDO = {"proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2", "securityfs", "pstore", "bpf",
          "debugfs", "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "rpc_pipefs",
          "efivarfs", "selinuxfs", "nsfs", "ramfs", "overlay", "squashfs"}
FREEZE_LOG = re.compile(r"(?:Failed to (?:FITHAW|FIFREEZE|freeze|thaw)|freeze failed)[^/\n]*(/[^\s,;'\"]*)", re.I)


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def linux_mounts(text: str) -> list[dict[str, str]]:
    if not isinstance(text, str):
        raise AnsibleFilterError(f"linux_mounts expects the text of /proc/self/mounts, got {type(text).__name__}")
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            out.append({"device": _unescape(fields[0]), "point": _unescape(fields[1]), "type": fields[2],
                        "options": fields[3]})
    return out


def mounts_to_skip(value: Any) -> list[str]:
    """MountsToSkip of vmbackup.conf (comma separated) as a list of mount points."""
    if value is None:
        return []
    return [p.strip().rstrip("/") or "/" for p in str(value).split(",") if p.strip()]


def freezable_mounts(mounts: list[Mapping[str, str]], skip: Any = None,
                     resource_disk: str = "/mnt/resource") -> list[dict[str, Any]]:
    if not isinstance(mounts, list):
        raise AnsibleFilterError("freezable_mounts expects the list of linux_mounts")
    skipped = set(mounts_to_skip(skip) if not isinstance(skip, list) else skip)
    by_point: dict[str, dict[str, Any]] = {}
    for m in mounts:
        if m["type"] not in FREEZABLE or m["device"].startswith("/dev/loop"):
            continue
        if m["point"] == resource_disk or m["point"] in skipped:
            continue
        entry = by_point.setdefault(m["point"], {"point": m["point"], "device": m["device"], "type": m["type"],
                                                 "options": m["options"], "entries": 0, "devices": []})
        entry["entries"] += 1
        entry["devices"].append(m["device"])
    return list(by_point.values())


def _fstab(text: str) -> dict[str, dict[str, str]]:
    out = {}
    for line in (text or "").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            out[_unescape(fields[1])] = {"device": fields[0], "type": fields[2],
                                         "options": fields[3] if len(fields) > 3 else "defaults"}
    return out


def _by_point(results: Any) -> dict[str, Mapping[str, Any]]:
    """Loop results of a command run per mount ({item: {point: ...}, rc, stdout, stderr}) by mount point."""
    out = {}
    for r in results or []:
        if isinstance(r, Mapping) and isinstance(r.get("item"), Mapping) and not r.get("skipped"):
            out[r["item"]["point"]] = r
    return out


def _users(stdout: str) -> list[dict[str, Any]]:
    users = []
    for line in (stdout or "").splitlines():
        parts = line.split(None, 1)
        if parts and parts[0].isdigit():
            users.append({"pid": int(parts[0]), "command": parts[1].strip() if len(parts) > 1 else ""})
    return users


def fsfreeze_diagnosis(candidates: list[Mapping[str, Any]], states: Any = None, probes: Any = None,
                       users: Any = None, fstab_text: str = "", log_text: str = "", skip: Any = None,
                       critical: Any = None) -> dict[str, Any]:
    """Healthy when every freezable mount froze and thawed, reports a clean state, and has one entry.

    `fsck_targets`: the mounts that unmount + fsck + remount may fix (not clean, or duplicate entries);
    `skip_candidates`: the failing mounts that are not critical (`critical`: never skipped), for MountsToSkip.
    The extension's log is evidence, not health: its lines stay after a fix.
    """
    states, probes, users = _by_point(states), _by_point(probes), _by_point(users)
    fstab = _fstab(fstab_text)
    critical = set(critical or ["/", "/boot", "/boot/efi", "/usr", "/var"])
    report, findings = [], []
    for c in candidates:
        point = c["point"]
        state = None
        if point in states:
            found = STATE_LINE.search(states[point].get("stdout") or "")
            state = found.group(1) if found else None
        probe = probes.get(point)
        probe_ok = None if probe is None else probe.get("rc") == 0
        entry = {"point": point, "device": c["device"], "type": c["type"], "options": c["options"],
                 "entries": c["entries"], "state": state, "freeze_probe": probe_ok,
                 "users": _users((users.get(point) or {}).get("stdout", "")), "fstab": fstab.get(point),
                 "problems": []}
        if state is not None and state != "clean":
            entry["problems"].append("unclean")
            findings.append({"check": "unclean", "mount": point, "device": c["device"],
                             "message": f"{point} ({c['device']}, {c['type']}): file system state is '{state}': "
                                        "unmount it, fsck it, mount it again"})
        if probe_ok is False:
            why = ((probe.get("stderr") or probe.get("stdout") or "").strip().splitlines() or ["failed"])[-1]
            entry["problems"].append("freeze-failed")
            findings.append({"check": "freeze", "mount": point, "device": c["device"],
                             "message": f"{point}: the freeze/thaw probe failed: {why}"})
        if c["entries"] > 1:
            entry["problems"].append("duplicate")
            findings.append({"check": "duplicate", "mount": point, "device": c["device"],
                             "message": f"{point} has {c['entries']} entries in the mount table "
                                        f"({', '.join(c['devices'])}): remove the extra mounts"})
        report.append(entry)
    logged = sorted({m.rstrip(".:") for m in FREEZE_LOG.findall(log_text or "")})
    failing = [e for e in report if e["problems"]]
    summary = ("every freezable mount froze and thawed, in a clean state, with one entry each"
               if not failing else "; ".join(f["message"] for f in findings))
    if not report:
        summary = "no freezable mount (ext3, ext4, xfs, btrfs) besides the skipped ones"
    if mounts_to_skip(skip) and not failing:
        summary += f" (MountsToSkip: {', '.join(mounts_to_skip(skip))})"
    return {
        "healthy": not failing,
        "summary": summary,
        "findings": findings,
        "mounts": report,
        "skipped": mounts_to_skip(skip),
        "logged_freeze_failures": logged,
        "fsck_targets": [e["point"] for e in failing if {"unclean", "duplicate"} & set(e["problems"])],
        "skip_candidates": [e["point"] for e in failing if e["point"] not in critical],
    }


FSCK = {"ext2": ["e2fsck", "-p"], "ext3": ["e2fsck", "-p"], "ext4": ["e2fsck", "-p"], "xfs": ["xfs_repair"],
        "btrfs": ["btrfs", "check"]}


def fsck_remount_plan(diagnosis: Mapping[str, Any], wanted: Any = None,
                      resource_disk: str = "/mnt/resource") -> dict[str, Any]:
    """What fsck_remount.yml does: the targets (default: the diagnosis's fsck_targets) with their check command
    and the options to mount them with again, one unmount per mount-table entry, and what is refused (with why).
    Refused: /, the resource disk, what is not a freezable mount, and mounts with open files."""
    if not isinstance(diagnosis, Mapping) or "mounts" not in diagnosis:
        raise AnsibleFilterError("fsck_remount_plan expects the remediate_diagnosis of fsfreeze_diagnose.yml")
    points = [str(p).rstrip("/") or "/" for p in (wanted or diagnosis.get("fsck_targets") or [])]
    mounts = {m["point"]: m for m in diagnosis["mounts"]}
    refused, targets = [], []
    for point in points:
        mount = mounts.get(point)
        if point == "/":
            refused.append("/: the root file system cannot be unmounted on a running system (check it at boot: "
                           "touch /forcefsck and reboot, or from a rescue VM)")
        elif point == resource_disk:
            refused.append(f"{point}: the resource disk (never frozen, not backed up)")
        elif mount is None:
            refused.append(f"{point}: not a mounted ext3, ext4, xfs or btrfs file system that the backup freezes")
        elif mount["users"]:
            users = ", ".join(f"{u['pid']} ({u['command']})" for u in mount["users"])
            refused.append(f"{point}: in use, open files by process {users}")
        else:
            fstab = mount.get("fstab") or {}
            targets.append({"point": point, "device": mount["device"], "type": mount["type"],
                            "entries": mount["entries"], "check": FSCK.get(mount["type"], ["fsck", "-p"]),
                            "options": fstab.get("options") or mount["options"]})
    return {"targets": targets, "refused": refused,
            "unmounts": [{"point": t["point"], "entry": n + 1, "of": t["entries"]}
                         for t in targets for n in range(t["entries"])]}


def mount_access_diagnosis(mounts: list[Mapping[str, str]], results: Any) -> dict[str, Any]:
    """The mounts whose point could not be opened by root within the time limit (stat + list)."""
    checked = _by_point(results)
    findings, report = [], []
    for point, r in checked.items():
        rc = r.get("rc")
        error = ((r.get("stderr") or "").strip().splitlines() or [""])[-1]
        if rc == 124:
            error = "does not answer (timed out): a stale or unreachable network mount?"
        entry = {"point": point, "device": r["item"]["device"], "type": r["item"]["type"], "ok": rc == 0}
        if rc != 0:
            entry["error"] = error or f"exit {rc}"
            findings.append({"check": "open", "mount": point,
                             "message": f"{point} ({entry['device']}, {entry['type']}) cannot be opened: "
                                        f"{entry['error']}"})
        report.append(entry)
    return {
        "healthy": not findings,
        "summary": (f"every mount point ({len(report)}) can be opened" if not findings
                    else "; ".join(f["message"] for f in findings)),
        "findings": findings,
        "mounts": report,
    }


def openable_mounts(mounts: list[Mapping[str, str]]) -> list[dict[str, str]]:
    """The mounts the extension opens: every real file system (pseudo file systems left out), once per point."""
    seen: dict[str, dict[str, str]] = {}
    for m in mounts:
        if m["type"] not in PSEUDO and m["point"] not in seen:
            seen[m["point"]] = dict(m)
    return list(seen.values())


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"linux_mounts": linux_mounts, "freezable_mounts": freezable_mounts,
                "mounts_to_skip": mounts_to_skip, "fsfreeze_diagnosis": fsfreeze_diagnosis,
                "mount_access_diagnosis": mount_access_diagnosis, "openable_mounts": openable_mounts,
                "fsck_remount_plan": fsck_remount_plan}

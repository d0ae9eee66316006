"""UserErrorFsFreezeFailed and UserErrorUnableToOpenMount through the real `remediate`, over real SSH, on real
ext4/xfs file systems (loop devices mounted inside each lab host: lab/scenarios/linux-mounts.yml).

fs1: /data not clean (with an inconsistency e2fsck fixes), /srv/app mounted twice, /srv/logs (xfs) healthy.
fs2: /data not clean and busy. mnt1: a mount hidden by a later mount."""

from __future__ import annotations

import pytest
import yaml

from .linux_lab import fs_state, host_status, lab_module, mounts, root, run

pytestmark = pytest.mark.lab
CODE = "UserErrorFsFreezeFailed"
CONF = "etc/azure/vmbackup.conf"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from lab_module(tmp_path_factory, "linux-mounts.yml")


FS1_MOUNTS = [("/dev/sdc1", "/data", "ext4"), ("/dev/sdd1", "/srv/app", "ext4"), ("/dev/sde1", "/srv/logs", "xfs"),
              ("/dev/sdd1", "/srv/app", "ext4")]


def test_diagnosis_reads_the_real_state(lab):
    assert mounts(lab, "fs1") == FS1_MOUNTS
    rc, doc = run(lab, "--code", CODE, "--host", "fs1", "--dry-run")
    assert rc == 0, doc
    diag = doc["diagnosis"]["fs1"]
    assert diag["healthy"] is False
    by_point = {m["point"]: m for m in diag["mounts"]}
    assert by_point["/data"]["state"] == "not clean" and by_point["/data"]["problems"] == ["unclean"]
    assert by_point["/srv/app"]["entries"] == 2 and by_point["/srv/app"]["problems"] == ["duplicate"]
    assert by_point["/srv/logs"]["type"] == "xfs" and by_point["/srv/logs"]["problems"] == []
    assert all(m["freeze_probe"] is True for m in diag["mounts"])  # fsfreeze really froze and thawed each
    assert diag["logged_freeze_failures"] == ["/data"]  # the extension log's "Failed to FITHAW: /data"
    assert diag["fsck_targets"] == ["/data", "/srv/app"]


def test_dry_run_plans_fsck_and_leaves_the_host_untouched(lab):
    before = (mounts(lab, "fs1"), fs_state(lab, "fs1", "/dev/sdc1"), host_status(lab, "fs1")["services"])
    rc, doc = run(lab, "--code", CODE, "--host", "fs1", "--dry-run")
    assert rc == 0 and doc["status"] == "planned"
    [plan] = doc["results"]["fs1"]["plan"]
    assert plan["id"] == "fsck-remount" and plan["risk"] == "high"
    items = [(t["name"], t.get("item")) for t in plan["would_change"]]
    assert ("Unmount every entry of the mount point", "/srv/app (entry 2 of 2)") in items
    assert ("Check the file system (would run)", "/data: e2fsck -p /dev/sdc1") in items
    assert [s["id"] for s in doc["results"]["fs1"]["later_steps"]] == ["mounts-to-skip", "duplicate-mount-entries"]
    assert (mounts(lab, "fs1"), fs_state(lab, "fs1", "/dev/sdc1"), host_status(lab, "fs1")["services"]) == before
    assert before[1] == "not clean"


def test_high_risk_needs_approval(lab):
    rc, doc = run(lab, "--code", CODE, "--host", "fs1")
    assert rc == 5 and doc["status"] == "approval-required" and doc["plan_id"]
    assert fs_state(lab, "fs1", "/dev/sdc1") == "not clean"
    assert mounts(lab, "fs1") == FS1_MOUNTS


def test_apply_unmounts_checks_remounts_and_verifies(lab):
    rc, doc = run(lab, "--code", CODE, "--host", "fs1", "--yes")
    assert rc == 0, doc
    assert doc["status"] == "fixed"
    assert doc["verification"]["fs1"]["state"] == "healthy"
    assert fs_state(lab, "fs1", "/dev/sdc1") == "clean"
    assert fs_state(lab, "fs1", "/dev/sdd1") == "clean"
    # each file system mounted once again, same devices and types (the duplicate entry is gone)
    assert sorted(mounts(lab, "fs1")) == sorted(set(FS1_MOUNTS))
    apply = next(s for s in doc["steps"] if s["phase"] == "apply")
    checks = [t for t in apply["tasks"] if t["name"] == "Check the file system"]
    assert [t["item"] for t in checks if t["changed"]] == ["/data: e2fsck -p /dev/sdc1"]  # it fixed something
    assert "/data" in (root(lab, "fs1") / "etc/fstab").read_text()  # fstab untouched: still the scenario's line


def test_rerun_reports_no_change(lab):
    before = mounts(lab, "fs1")
    rc, doc = run(lab, "--code", CODE, "--host", "fs1", "--yes")
    assert rc == 0 and doc["status"] == "no-change"
    assert [s["phase"] for s in doc["steps"]] == ["diagnose"]
    assert mounts(lab, "fs1") == before


def test_a_busy_mount_is_refused_and_the_dry_run_says_why(lab):
    before = (mounts(lab, "fs2"), fs_state(lab, "fs2", "/dev/sdc1"))
    for extra in (("--dry-run",), ("--yes",)):
        rc, doc = run(lab, "--code", CODE, "--host", "fs2", *extra)
        assert rc == 1 and doc["status"] == "failed"
        message = doc["results"]["fs2"]["message"]
        assert "refused: /data: in use, open files by process" in message and "(sleep)" in message
        assert "Nothing was changed" in message and "remediate --step 2" in message
        assert not any(s["phase"] == "apply" for s in doc["steps"])
    assert (mounts(lab, "fs2"), fs_state(lab, "fs2", "/dev/sdc1")) == before


def test_the_root_file_system_is_refused(lab, tmp_path):
    inventory = yaml.safe_load((lab.lab_dir / "inventory.yml").read_text())
    inventory["all"]["children"]["linux"]["hosts"]["fs2"]["fsck_remount_mounts"] = ["/"]
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    rc, doc = run(lab, "--code", CODE, "--host", "fs2", "--inventory", str(path), "--dry-run")
    assert rc == 1
    assert "/: the root file system cannot be unmounted on a running system" in doc["results"]["fs2"]["message"]


def test_mounts_to_skip_is_offered_with_approval(lab):
    conf = root(lab, "fs2") / CONF
    assert not conf.exists()
    rc, doc = run(lab, "--code", CODE, "--host", "fs2", "--step", "2", "--dry-run")
    assert rc == 0 and doc["status"] == "planned"
    [plan] = doc["results"]["fs2"]["plan"]
    assert plan["id"] == "mounts-to-skip" and plan["risk"] == "low" and plan["approval"] == "always"
    assert any("+MountsToSkip = /data" in line for t in plan["would_change"] for line in t.get("changes", []))
    assert not conf.exists()
    rc, doc = run(lab, "--code", CODE, "--host", "fs2", "--step", "2")
    assert rc == 5 and doc["status"] == "approval-required"  # low risk, but never unattended
    assert not conf.exists()


def test_mounts_to_skip_applies_verifies_and_reruns_clean(lab):
    before = mounts(lab, "fs2")
    rc, doc = run(lab, "--code", CODE, "--host", "fs2", "--step", "2", "--yes")
    assert rc == 0 and doc["status"] == "fixed", doc
    text = (root(lab, "fs2") / CONF).read_text()
    # copied from the extension's template (tempPlugin/vmbackup.conf), the resource disk kept, /data added
    assert "MountsToSkip = /mnt/resource,/data" in text and "seqsnapshot = 0" in text
    assert mounts(lab, "fs2") == before  # nothing unmounted
    assert doc["diagnosis"]["fs2"]["healthy"] is False
    assert doc["verification"]["fs2"]["diagnosis"]["skipped"] == ["/mnt/resource", "/data"]
    rc, doc = run(lab, "--code", CODE, "--host", "fs2", "--step", "2", "--yes")
    assert rc == 0 and doc["status"] == "no-change"
    assert (root(lab, "fs2") / CONF).read_text() == text


def test_unable_to_open_mount_reports_the_hidden_mount(lab):
    rc, doc = run(lab, "--code", "UserErrorUnableToOpenMount", "--host", "mnt1")
    assert rc == 4 and doc["status"] == "manual"
    [finding] = doc["diagnosis"]["mnt1"]["findings"]
    assert finding["mount"] == "/srv/share/data"
    assert "No such file or directory" in finding["message"]
    assert doc["results"]["mnt1"]["guidance"][0]["id"] == "make-mounts-accessible"
    rc, doc = run(lab, "--code", "UserErrorUnableToOpenMount", "--host", "fs1")
    assert rc == 0 and doc["status"] == "no-change"

"""The Visual C++ redistributable filters (playbooks/filter_plugins/vcredist.py), no Ansible run: version order of
the plugin folders, installed bundles read from the Uninstall keys, installer exit codes, and the diagnosis."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("vcredist_filter", ROOT / "playbooks/filter_plugins/vcredist.py")
assert _SPEC and _SPEC.loader
vc = importlib.util.module_from_spec(_SPEC)
sys.modules["vcredist_filter"] = vc
_SPEC.loader.exec_module(vc)

ROOT_DIR = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
WOW = "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
NATIVE = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
IDS = ["{050d4fc8-5d48-4b8f-8972-47c82c46020f}", "{ef6b00ec-13e1-4c25-9064-b2f383cb8412}",
       "{042d26ef-3dbe-4c25-95d3-4c1b11b235a7}"]


def found(*names: str, files: tuple[str, ...] = ()) -> dict[str, Any]:
    """A win_find result (sorted by path, as the module sorts it)."""
    entries = [{"filename": n, "path": f"{ROOT_DIR}\\{n}", "isdir": True} for n in names]
    entries += [{"filename": n, "path": f"{ROOT_DIR}\\{n}", "isdir": False} for n in files]
    return {"files": sorted(entries, key=lambda e: e["path"].lower()), "matched": len(entries)}


def test_version_folders_sort_by_version_not_by_string() -> None:
    result = found("1.0.9", "1.0.10", "1.0.9.1", "1.10", "HandlerState", "2", files=("1.0.11",))
    assert [f["name"] for f in vc.version_folders(result)] == ["1.0.9", "1.0.9.1", "1.0.10", "1.10"]
    newest = vc.newest_version_folder(result)
    assert newest == {"name": "1.10", "path": f"{ROOT_DIR}\\1.10", "version": [1, 10]}
    # System.Version: an undefined part sorts before 0 (1.0 < 1.0.0)
    assert [f["name"] for f in vc.version_folders(found("1.0.0", "1.0"))] == ["1.0", "1.0.0"]
    assert vc.newest_version_folder(found("logs")) is None
    assert vc.newest_version_folder([]) is None
    with pytest.raises(AnsibleFilterError):
        vc.version_folders("C:\\x")


def stat(root: str, *subs: str, exists: bool = True) -> dict[str, Any]:
    return {"item": root, "exists": exists, "sub_keys": list(subs), "changed": False}


def test_uninstall_entries_match_ids_without_case_or_braces() -> None:
    stats = {"results": [stat(NATIVE, "{A749D8E6-B613-3BE3-8F5F-045C84EBA29B}"),
                         stat(WOW, "{042D26EF-3DBE-4C25-95D3-4C1B11B235A7}", "Other")]}
    assert vc.uninstall_entries(stats, IDS) == [
        {"product_id": IDS[2], "key": f"{WOW}\\{{042D26EF-3DBE-4C25-95D3-4C1B11B235A7}}"}]
    assert vc.uninstall_entries([stat(NATIVE, exists=False), stat(WOW)], IDS) == []
    assert vc.uninstall_entries([stat(WOW, "050d4fc8-5d48-4b8f-8972-47c82c46020f")], IDS)[0]["product_id"] == IDS[0]
    with pytest.raises(AnsibleFilterError, match="reading .* failed"):
        vc.uninstall_entries([{"item": WOW, "failed": True, "msg": "boom"}], IDS)
    with pytest.raises(AnsibleFilterError):
        vc.uninstall_entries([], IDS[0])


def test_installer_exit_meaning() -> None:
    assert "could not be accessed" in vc.installer_exit_meaning(1601)
    assert "Error 1401" in vc.installer_exit_meaning("1603")
    assert "restart" in vc.installer_exit_meaning(3010)
    assert vc.installer_exit_meaning(42).startswith("exit code 42")
    assert vc.installer_exit_meaning(None) == "no exit code (None)"


def start(value: int | None) -> dict[str, Any]:
    return {"exists": value is not None, "type": "REG_DWORD", "value": value, "raw_value": value}


MANUAL = {"name": "msiserver", "start_mode": "manual", "state": "stopped"}
NEWEST = {"name": "1.0.10", "path": f"{ROOT_DIR}\\1.0.10", "version": [1, 0, 10]}
INSTALLER = {"stat": {"exists": True}}
BUNDLE = [{"product_id": IDS[0], "key": f"{WOW}\\{IDS[0]}"}]


def test_diagnosis_healthy_only_when_windows_installer_can_start_and_the_runtime_is_installed() -> None:
    ok = vc.vcredist_diagnosis(MANUAL, start(3), BUNDLE, NEWEST, INSTALLER)
    assert ok["healthy"] is True and ok["findings"] == []
    assert ok["summary"].startswith("Windows Installer can start; Visual C++ 2013 x64 redistributable installed")

    disabled = vc.vcredist_diagnosis(MANUAL | {"start_mode": "disabled"}, start(4), [], NEWEST, INSTALLER)
    assert [(f["check"], f["problem"]) for f in disabled["findings"]] == [("msiserver", "disabled"),
                                                                       ("vcredist", "missing")]
    assert disabled["notes"] == [f"installer: {ROOT_DIR}\\1.0.10\\vcredist2013_x64.exe"]

    pending = vc.vcredist_diagnosis(MANUAL, start(4), BUNDLE)
    assert [f["problem"] for f in pending["findings"]] == ["disabled-at-next-boot"]
    assert "still has manual" in pending["summary"]

    assert [f["problem"] for f in vc.vcredist_diagnosis(None, start(None), BUNDLE)["findings"]] == ["missing"]
    automatic = vc.vcredist_diagnosis(MANUAL | {"start_mode": "auto"}, start(2), BUNDLE)
    assert automatic["healthy"] is True  # Automatic is fine too: only 4 blocks the installer


def test_diagnosis_notes_say_what_the_next_steps_can_do() -> None:
    no_installer = vc.vcredist_diagnosis(MANUAL, start(3), [], NEWEST, {"stat": {"exists": False}})
    assert no_installer["notes"] == [f"no vcredist2013_x64.exe in the newest plugin folder {ROOT_DIR}\\1.0.10"]
    no_folder = vc.vcredist_diagnosis(MANUAL, start(3), [], None, None, plugin_root=ROOT_DIR)
    assert no_folder["notes"] == [f"no plugin version folder under {ROOT_DIR}"]
    events = [{"Id": 11401, "Message": "Product: ... -- Error 1401. Could not create key: Software\\Classes."}]
    access = vc.vcredist_diagnosis(MANUAL, start(3), [], NEWEST, INSTALLER, events)
    assert access["healthy"] is False and "1 Windows Installer event(s) report Error 1401" in access["summary"]
    # notes never make a host unhealthy
    assert vc.vcredist_diagnosis(MANUAL, start(3), BUNDLE, None, None, events)["healthy"] is True

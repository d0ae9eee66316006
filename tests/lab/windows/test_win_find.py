"""win_find in the lab follows win_find.ps1 (ansible.windows): what it enumerates, filters and returns."""

from __future__ import annotations

import hashlib

from .helpers import call, host_for

PLUGINS = "C:\\Packages\\Plugins\\Microsoft.Azure.RecoveryServices.VMSnapshot"
FILES = {
    f"{PLUGINS}\\1.0.9\\vcredist2013_x64.exe": {"type": "file", "size": 7194312, "content": "old"},
    f"{PLUGINS}\\1.0.10\\vcredist2013_x64.exe": {"type": "file", "size": 7194312, "content": "new"},
    f"{PLUGINS}\\1.0.10\\IaaSBcdrExtension.exe": {"type": "file", "size": 1024},
    f"{PLUGINS}\\1.0.10\\Logs": {"type": "directory"},
    f"{PLUGINS}\\HandlerManifest.json": {"type": "file", "size": 10},
}


def _host():
    return host_for({"files": FILES})


def test_directories_of_a_folder_sorted_by_path() -> None:
    # win_find.ps1 line 244: EnumerateFileSystemInfos TopDirectoryOnly; Assert-FileType keeps directories; line 475:
    # `Sort-Object -Property { $_.path }`, a string sort: 1.0.10 before 1.0.9
    res = call(_host(), "win_find", paths=[PLUGINS], file_type="directory")
    assert res["changed"] is False
    assert [f["filename"] for f in res["files"]] == ["1.0.10", "1.0.9"]
    assert (res["examined"], res["matched"]) == (3, 2)  # the json file is examined, not matched
    folder = res["files"][0]
    assert folder["path"] == f"{PLUGINS}\\1.0.10"
    assert (folder["isdir"], folder["isreg"], folder["attributes"]) == (True, False, "Directory")
    assert folder["size"] is None and folder["extension"] is None and folder["checksum"] is None
    assert folder["islnk"] is False and folder["nlink"] == 1 and folder["hlnk_targets"] == []


def test_files_with_patterns_recurse_and_checksum() -> None:
    host = _host()
    # file_type defaults to file; line 130: -like wildcards ignore case (Assert-FileNamePattern)
    res = call(host, "win_find", paths=[PLUGINS], patterns=["VCREDIST*.EXE"], recurse=True)
    assert [f["path"] for f in res["files"]] == [f"{PLUGINS}\\1.0.10\\vcredist2013_x64.exe",
                                                  f"{PLUGINS}\\1.0.9\\vcredist2013_x64.exe"]
    exe = res["files"][0]
    assert (exe["isreg"], exe["extension"], exe["size"]) == (True, ".exe", 7194312)
    assert exe["checksum"] == hashlib.sha1(b"new").hexdigest()  # line 170: sha1 by default, ToLower()
    # line 252: depth 1 stops at the top directory (`$Depth -ne 1`); get_checksum false leaves it null
    top = call(host, "win_find", paths=[PLUGINS], recurse=True, depth=1, get_checksum=False)
    assert [f["filename"] for f in top["files"]] == ["HandlerManifest.json"]
    assert top["files"][0]["checksum"] is None
    # use_regex: -match ignores case unless case_sensitive (line 117: -cmatch)
    regex = call(host, "win_find", paths=[f"{PLUGINS}\\1.0.10"], patterns=["^iaas"], use_regex=True)
    assert [f["filename"] for f in regex["files"]] == ["IaaSBcdrExtension.exe"]
    strict = call(host, "win_find", paths=[f"{PLUGINS}\\1.0.10"], regexp=["^iaas"], use_regex=True,
                  case_sensitive=True)
    assert strict["files"] == [] and strict["examined"] == 3


def test_missing_path_or_file_is_skipped_with_the_module_warning() -> None:
    # win_find.ps1 lines 234 and 238: $Module.Warn(...) and the path is skipped
    host = _host()
    missing = call(host, "win_find", paths=["C:\\Packages\\Plugins\\Nope", PLUGINS], file_type="any")
    assert missing["warnings"] == ["Argument path 'C:\\Packages\\Plugins\\Nope' does not exist or is not accessible, "
                                   "skipping"]
    assert missing["matched"] == 3
    a_file = call(host, "win_find", paths=[f"{PLUGINS}\\HandlerManifest.json"])
    assert a_file["files"] == [] and a_file["examined"] == 0
    assert "is a file not a directory, skipping" in a_file["warnings"][0]


def test_options_the_lab_cannot_honour_fail_loudly() -> None:
    host = _host()
    assert "win_find option age is not simulated" in call(host, "win_find", paths=[PLUGINS], age="1d")["msg"]
    assert "win_find option size is not simulated" in call(host, "win_find", paths=[PLUGINS], size="1m")["msg"]
    assert "relative path" in call(host, "win_find", paths=["Packages"])["msg"]

"""Issue 10 item 10: win_regedit / win_reg_stat behave like the real modules (win_regedit.ps1, win_reg_stat.ps1).

Each test states the real behaviour and the line of the module (ansible.windows 3.8.0) or module util it follows.
"""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Lab, call, host_for, task_results

KEY = "HKLM:\\SOFTWARE\\Fidelity"


def _stat(host: Any, path: str = KEY, **args: Any) -> dict[str, Any]:
    return call(host, "win_reg_stat", path=path, **args)


def test_reg_stat_expands_reg_expand_sz_with_the_module_environment() -> None:
    # win_reg_stat.ps1 line 27: GetValue(..., RegistryValueOptions::None) expands %VAR% with the process environment;
    # line 31: raw_value is read with DoNotExpandEnvironmentNames. The module runs as the WinRM user.
    host = host_for({"registry": {KEY: {"p": {"type": "expandstring", "data": "%windir%\\x;%USERPROFILE%;%NOPE%"}}}})
    result = _stat(host, name="p")
    assert result["type"] == "REG_EXPAND_SZ"
    assert result["raw_value"] == "%windir%\\x;%USERPROFILE%;%NOPE%"
    assert result["value"] == "C:\\Windows\\x;C:\\Users\\u;%NOPE%"  # an undefined variable stays as written
    assert _stat(host)["properties"]["p"]["value"] == "C:\\Windows\\x;C:\\Users\\u;%NOPE%"


def test_reg_stat_is_a_legacy_module() -> None:
    # win_reg_stat.ps1 line 7 requires Ansible.ModuleUtils.Legacy: Get-AnsibleParam -failifempty fails with its own
    # wording (Legacy.psm1 line 208), unknown options are not checked, and there is no invocation in the result.
    host = host_for()
    missing = call(host, "win_reg_stat", name="a")
    assert missing == {"changed": False, "failed": True, "msg": "Get-AnsibleParam: Missing required argument: path"}
    result = call(host, "win_reg_stat", key="HKLM:\\SOFTWARE\\Microsoft", colour="blue")
    assert result["exists"] is True and "invocation" not in result
    assert call(host, "win_reg_stat", path="ABCD:\\x")["msg"] == (
        "path: ABCD:\\x is not a valid registry path, see module documentation for examples."
    )


def test_reg_stat_default_value_is_reported_as_reg_sz_and_under_empty_name() -> None:
    # win_reg_stat.ps1 lines 33-37: the (Default) is always typed String; lines 102-105 add it as "" to properties.
    host = host_for({"registry": {KEY: {"": {"type": "dword", "data": 4294967295}, "(Default)": "named"}}})
    whole = _stat(host)
    assert whole["properties"][""] == {"type": "REG_SZ", "value": -1, "raw_value": -1}  # GetValue's Int32, no cast
    assert whole["properties"]["(Default)"]["value"] == "named"  # a value really named "(Default)"
    assert _stat(host, name="")["type"] == "REG_SZ"


def test_standard_hives_and_slash_in_key_names() -> None:
    # Upstream win_reg_stat "test out all registry hives": these keys exist on every Windows host. RegistryKey
    # separates key names on backslashes only: "Test Key / [&Ansible*]" is one key (win_reg_stat.ps1 line 83).
    host = host_for({"registry": {"HKCU:\\Test Key / [&Ansible*]\\nested": {"a": "b"}}})
    for hive in ("HKCR:\\*", "HKCC:\\Software", "HKCU:\\Software", "HKLM:\\Software", "HKU:\\.DEFAULT"):
        assert _stat(host, path=hive)["exists"] is True, hive
    assert _stat(host, path="HKCU:\\Test Key / [&Ansible*]")["sub_keys"] == ["nested"]
    assert _stat(host, path="HKCU:\\Test Key \\ [&Ansible*]")["exists"] is False


@pytest.mark.parametrize(
    ("data", "stored"),
    [("010", 10), ("0x10", 16), ("#ff", 255), (" 7 ", 7), ("1.1", 1), ("1.5", 2), ("1e3", 1000), (-1, 0xFFFFFFFF)],
)
def test_regedit_dword_text_follows_the_powershell_uint64_cast(data: Any, stored: int) -> None:
    # win_regedit.ps1 line 408: $data = [UInt64]$data. Windows PowerShell 5.1 parses with UInt64Converter ("010" is
    # decimal 10; 0x / # / &h are hex) and retries a FormatException through Double ("1.1" is 1, "1.5" rounds to 2).
    # An int is not cast: -1 goes through [Int32] (line 432) and is stored as 0xffffffff.
    host = host_for()
    result = call(host, "win_regedit", path=KEY, name="v", type="dword", data=data)
    assert result["changed"] is True, result
    assert _stat(host, name="v")["value"] == stored


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (1.1, "data '1.1' cannot be a decimal or float value with a remainder when type is dword or qword"),
        (4294967296, "data cannot be larger than 0xffffffff when type is dword"),
        ("4294967296", "data cannot be larger than 0xffffffff when type is dword"),
        (
            "-1",
            'Unhandled exception while executing module: Cannot convert value "-1" to type "System.UInt64". Error: '
            '"Value was either too large or too small for a UInt64."',
        ),
        (
            "-1.5",
            'Unhandled exception while executing module: Cannot convert value "-1.5" to type "System.UInt64". '
            'Error: "Input string was not in a correct format."',
        ),
    ],
)
def test_regedit_dword_failures_use_the_real_messages(data: Any, message: str) -> None:
    # win_regedit.ps1 line 412 (a float with a remainder), line 424 (above UInt32), and the [UInt64] cast of line
    # 408 which the module does not catch: module_wrapper.ps1 line 86 reports it without the module's result keys.
    host = host_for()
    result = call(host, "win_regedit", path=KEY, name="v", type="dword", data=data)
    assert result["failed"] is True and result["msg"] == message
    assert ("data_changed" in result) is not message.startswith("Unhandled")
    assert _stat(host, path=KEY)["exists"] is False


def test_regedit_compares_multistrings_case_insensitively() -> None:
    # win_regedit.ps1 line 168: arrays are compared with Compare-Object -SyncWindow 0, which is case-insensitive
    # and positional: ['A', 'b'] → ['a', 'B'] is no change (the stored case stays), a reordering is a change.
    host = host_for({"registry": {KEY: {"m": {"type": "multistring", "data": ["A", "b"]}}}})
    same = call(host, "win_regedit", path=KEY, name="m", type="multistring", data=["a", "B"])
    assert same["changed"] is False and same["data_changed"] is False
    assert _stat(host, name="m")["value"] == ["A", "b"]
    assert call(host, "win_regedit", path=KEY, name="m", type="multistring", data=["b", "A"])["changed"] is True
    # a scalar string is one entry (line 462); strings themselves compare case-sensitively with -cne (line 171)
    call(host, "win_regedit", path=KEY, name="s", data="Value")
    assert call(host, "win_regedit", path=KEY, name="s", data="value")["data_changed"] is True


def test_regedit_binary_text_accepts_spaces_and_separators() -> None:
    # Convert-RegExportHexStringToByteArray (win_regedit.ps1 lines 135-163): 'hex:' dropped, every character that is
    # not hex / , x - : removed (spaces), commas become colons; "aabb" is split in pairs.
    host = host_for()
    for data in ("hex:00,01, ff", "00 01 ff", "00:01:ff", "0001ff"):
        call(host, "win_regedit", path=KEY, name="b", type="binary", data=data)
        assert _stat(host, name="b")["raw_value"] == ["0x00", "0x01", "0xff"], data
    too_big = call(host, "win_regedit", path=KEY, name="b", type="binary", data=256)
    assert too_big["msg"].startswith("cannot convert binary data '256' to byte array")  # line 387


def test_regedit_diff_is_always_returned_and_shows_removed_values_expanded() -> None:
    # win_regedit.ps1 lines 42-43 set Diff.before/after to "": Ansible.Basic returns the diff whenever it has keys
    # (Ansible.Basic.cs line 1425), so a no-op still has one. Set-StateAbsent reads the value with GetValue($Name)
    # (line 237), i.e. expanded, for the diff.
    host = host_for({"registry": {KEY: {"e": {"type": "expandstring", "data": "%SystemRoot%\\y"}}}})
    noop = call(host, "win_regedit", path="HKLM:\\SOFTWARE\\Nope", name="x", state="absent")
    assert noop["changed"] is False and noop["diff"] == {"before": "", "after": ""}
    removed = call(host, "win_regedit", path=KEY, name="e", state="absent")
    assert removed["diff"]["before"] == {KEY: {"e": {"type": "ExpandString", "value": "C:\\Windows\\y"}}}


def test_registry_keys_of_certificate_stores_are_read_only_in_the_lab() -> None:
    # Windows keeps the system stores in the registry; the lab shows them from the certificate stores and refuses
    # (loudly) to let a registry write silently diverge from the stores.
    host = host_for()
    my = "HKLM:\\SOFTWARE\\Microsoft\\SystemCertificates\\My"
    assert _stat(host, path=my)["sub_keys"] == ["Certificates", "CRLs", "CTLs"]
    refused = call(host, "win_regedit", path=f"{my}\\Certificates\\AB", name="x", data="y")
    assert refused["failed"] is True and "is not simulated" in refused["msg"]


@pytest.mark.lab
def test_registry_fidelity_through_ansible_playbook(make_lab: Any) -> None:
    """The same facts over real WinRM: a '010' dword, an expanded REG_EXPAND_SZ, and the check-mode/diff envelope."""
    lab: Lab = make_lab({"vm1": {"platform": "windows"}})
    document = lab.playbook(
        """
- hosts: vm1
  gather_facts: false
  tasks:
    - name: dword from text
      ansible.windows.win_regedit: {path: 'HKLM:\\SOFTWARE\\Fidelity', name: Level, data: '010', type: dword}
    - name: expand string
      ansible.windows.win_regedit:
        path: 'HKLM:\\SOFTWARE\\Fidelity'
        name: Home
        data: '%SystemRoot%\\Temp'
        type: expandstring
    - name: read
      ansible.windows.win_reg_stat: {path: 'HKLM:\\SOFTWARE\\Fidelity'}
    - name: decimal dword
      ansible.windows.win_regedit: {path: 'HKLM:\\SOFTWARE\\Fidelity', name: Bad, data: 1.1, type: dword}
      ignore_errors: true
""",
        "--diff",
    )
    results = task_results(document, "vm1")
    assert results["dword from text"]["diff"]["after"] == {
        "HKLM:\\SOFTWARE\\Fidelity": {"Level": {"type": "DWord", "value": "0x0000000a"}}
    }
    properties = results["read"]["properties"]
    assert properties["Level"]["value"] == 10
    home = {"type": "REG_EXPAND_SZ", "value": "C:\\Windows\\Temp", "raw_value": "%SystemRoot%\\Temp"}
    assert properties["Home"] == home
    assert results["decimal dword"]["msg"] == (
        "data '1.1' cannot be a decimal or float value with a remainder when type is dword or qword"
    )

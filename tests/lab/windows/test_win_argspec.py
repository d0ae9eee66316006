"""Module arguments are checked as the real modules check them (issue 10 item 11): the `$spec` of each
Ansible.Basic module read from its .ps1, Ansible.Basic.cs's checks, order and wording; Legacy.psm1's
Get-AnsibleParam for the legacy modules."""

from __future__ import annotations

from typing import Any

import pytest

from lab.windows import argspec, ps_argspec
from lab.windows.modules import (  # noqa: F401  (importing the handler modules registers them)
    HANDLERS,
    basic,
    certificates,
    files,
    packages,
    registry,
    scripts,
    services,
)

from .helpers import call, host_for


def _error(module: str, **args: Any) -> str:
    with pytest.raises(argspec.ArgumentError) as caught:
        argspec.validate(module, args)
    return str(caught.value)


def test_powershell_literals_parse_like_powershell() -> None:
    # `, @(...)` is a one-element array; @() enumerates each statement's output; a trailing comma continues
    # the statement on the next line; '' escapes a quote; comments are skipped.
    assert ps_argspec.parse_value("@(\n  , @('a', 'b')\n  , @('c')\n)") == [["a", "b"], ["c"]]
    assert ps_argspec.parse_value("@(\n  @('x', 1, @('y'), $true),\n  @('z', 2)\n)") == [
        ["x", 1, ["y"], True], ["z", 2]]
    assert ps_argspec.parse_value("@{ a = 'it''s'; b = \"q\" # c\n  c = 0x10; d = $null }") == {
        "a": "it's", "b": "q", "c": 16, "d": None}
    assert ps_argspec.parse_value("@{ aliases = , 'delay' }") == {"aliases": ["delay"]}
    assert ps_argspec.parse_value("$providerInfo.Keys + 'auto'") == ps_argspec.Expression("$providerInfo.Keys + 'auto'")


def test_every_simulated_module_spec_is_read_from_its_source() -> None:
    # Each module the lab simulates has its spec read from the installed .ps1; an expression the lab does not
    # know (RESOLVED) would raise SpecError here, when the collection changes.
    assert {"win_service", "win_command", "win_acl", "win_file"} <= set(HANDLERS)
    for module in sorted(HANDLERS):
        spec = ps_argspec.module_spec(module)
        if spec.legacy:
            assert spec.params, module
        else:
            assert spec.spec["options"], module
    assert ps_argspec.module_spec("win_service").spec["required_by"] == {"password": ["username"]}
    assert ps_argspec.module_spec("win_command").spec["mutually_exclusive"] == [["_raw_params", "argv", "cmd"]]
    assert ps_argspec.module_spec("win_package").spec["options"]["url_timeout"] == {"type": "int", "default": 30}
    assert [p.name for p in ps_argspec.module_spec("win_acl").params][:3] == ["path", "user", "rights"]


def test_required_by() -> None:
    # win_service.ps1 line 49: required_by = @{ password = @('username') }; Ansible.Basic.cs line 1317.
    assert _error("win_service", name="x", password="secret") == (
        "missing parameter(s) required by 'password': username")
    # win_package.ps1: required_by creates_version = "creates_path" (a string: ParseList)
    assert _error("win_package", path="x", creates_version="1") == (
        "missing parameter(s) required by 'creates_version': creates_path")
    # a key present with a null value counts as given (param.Contains)
    assert _error("win_service", name="x", password=None) == "missing parameter(s) required by 'password': username"


def test_mutually_exclusive_and_required_one_of() -> None:
    # win_command.ps1: required_one_of and mutually_exclusive over _raw_params, argv, cmd
    # (Ansible.Basic.cs CheckMutuallyExclusive line 1166, CheckRequiredOneOf line 1235).
    assert _error("win_command", _raw_params="a", cmd="b") == (
        "parameters are mutually exclusive: _raw_params, argv, cmd")
    assert _error("win_command", chdir="C:\\") == "one of the following is required: _raw_params, argv, cmd"
    assert _error("win_powershell", script="a", path="b") == "parameters are mutually exclusive: path, script"
    host = host_for()
    result = call(host, "win_command", _raw_params="vssadmin list writers", cmd="vssadmin list writers")
    assert result["failed"] is True and result["msg"] == "parameters are mutually exclusive: _raw_params, argv, cmd"


def test_required_if_counts_defaults_and_compares_case_sensitively() -> None:
    # Ansible.Basic.cs CheckRequiredArguments (line 1187) sets defaults before CheckRequiredIf (line 1256):
    # win_package's default state 'present' requires path. The value compare is ParseStr(...) != ParseStr(...).
    assert _error("win_package", product_id="{X}") == "state is present but all of the following are missing: path"
    assert _error("win_certificate_store", state="absent") == (
        "state is absent but any of the following are missing: path, thumbprint")
    assert argspec.validate("win_package", {"state": "Absent"})["state"] == "absent"  # 'Absent' != 'absent'


def test_required_together_and_sub_option_context() -> None:
    # win_powershell.ps1 sensitive_parameters: mutually_exclusive and required_together inside the sub-spec;
    # FormatOptionsContext appends " found in <option>".
    assert _error("win_powershell", script="x", sensitive_parameters=[{"name": "a", "username": "u"}]) == (
        "parameters are required together: username, password found in sensitive_parameters")
    assert _error("win_service", name="x", failure_actions=[{"delay_ms": 1}]) == (
        "missing required arguments: type found in failure_actions")
    assert _error("win_service", name="x", failure_actions=[{"type": "boom"}]) == (
        "value of type must be one of: none, reboot, restart, run_command. Got no match for: boom found in "
        "failure_actions")


def test_check_order_conversion_and_choices_before_relations() -> None:
    # CheckArguments (Ansible.Basic.cs line 976-1085): unsupported, mutually exclusive, required, then type and
    # choices option by option, then required_together/one_of/if/by.
    assert _error("win_service", name="x", state="exploded", password="p").startswith("value of state must be")
    assert _error("win_command", cmd="a", argv=["b"], bogus=1).startswith("Unsupported parameters")
    assert _error("win_regedit", path="HKLM:\\X", delete_key="maybe") == (
        "argument for delete_key is of type System.String and we were unable to convert to bool: The value 'maybe' "
        "is not a valid boolean. Valid booleans include: y, yes, on, 1, true, t, 1.0, n, no, off, 0, false, f, 0.0")
    # win_service.ps1 line 10: $uint32Type = [Func[[Object], [UInt32]]] { [UInt32]$args[0] }
    assert _error("win_service", name="x", pre_shutdown_timeout_ms=-1) == (
        "argument for pre_shutdown_timeout_ms is of type System.Int32 and we were unable to convert to delegate: "
        'Cannot convert value "-1" to type "System.UInt32". Error: "Value was either too large or too small for a '
        'UInt32."')
    assert argspec.validate("win_service", {"name": "x", "failure_reset_period_sec": "0xFFFFFFFF"})[
        "failure_reset_period_sec"] == 4294967295


def test_unsupported_parameters_message() -> None:
    # Ansible.Basic.cs line 1140: the module name as sent (_ansible_module_name), options and aliases sorted
    # ordinally; the match is case-insensitive and a differently cased option is accepted.
    message = _error("win_regedit", path="HKLM:\\X", colour="x", _ansible_module_name="ansible.windows.win_regedit")
    assert message == (
        "Unsupported parameters for (ansible.windows.win_regedit) module: colour. Supported parameters include: "
        "data, datatype, delete_key, entry, hive, key, name, path, state, type, value")
    assert argspec.validate("win_ping", {"DATA": "x"})["data"] == "x"
    assert argspec.validate("win_ping", {"bogus": 1, "_ansible_ignore_unknown_opts": True})["data"] == "pong"


def test_no_log_values_are_masked_in_messages() -> None:
    # FailJson (Ansible.Basic.cs line 344) passes the message through RemoveNoLogValues: a no_log value inside
    # the message is replaced by ********.
    assert _error("win_service", name="x", username="u", password="exploded", state="exploded") == (
        "value of state must be one of: started, stopped, restarted, absent, paused. Got no match for: ********")


def test_list_choices_say_one_or_more_of() -> None:
    # Ansible.Basic.cs line 1037: a list option's choices read "one or more of" (no simulated module has one:
    # a spec of the same shape is checked directly).
    spec = {"options": {"flags": {"type": "list", "elements": "str", "choices": ["a", "b"]}}}
    with pytest.raises(argspec.ArgumentError) as caught:
        argspec._BasicValidator({"flags": ["a", "c"]}, None).run(spec)
    assert str(caught.value) == "value of flags must be one or more of: a, b. Got no match for: c"
    assert argspec._BasicValidator({"flags": "A,b"}, None).run(spec) == {"flags": ["a", "b"]}


def test_legacy_modules_fail_with_get_ansibleparam_messages() -> None:
    # win_file.ps1 line 21-22 and win_acl.ps1 line 88-97 use Legacy.psm1 Get-AnsibleParam (lines 193, 208).
    assert _error("win_file", state="absent") == "Get-AnsibleParam: Missing required argument: path"
    assert _error("win_file", path="C:\\x", state="nope") == (
        "Get-AnsibleParam: Argument state needs to be one of absent,directory,file,touch but was nope.")
    assert _error("win_acl", path="C:\\x", user="u", rights="Read") == (
        "Get-AnsibleParam: Missing required argument: type")
    assert argspec.validate("win_acl", {"path": "C:\\x", "user": "u", "rights": "Read", "type": "Allow",
                                        "follow": "no"})["follow"] is False
    assert argspec.validate("win_file", {"dest": "C:\\x", "state": "Touch"})["path"] == "C:\\x"
    # Windows ignores an option a legacy module does not read; the lab refuses it (README, deviations)
    assert "does not read option(s) sate" in _error("win_file", path="C:\\x", sate="absent")


def test_path_options_expand_the_module_process_environment() -> None:
    # Ansible.Basic.cs ParsePath line ~681: Environment.ExpandEnvironmentVariables before the module runs
    from .helpers import call, host_for

    host = host_for()
    result = call(host, "win_stat", path="%SystemRoot%")
    assert result["stat"]["exists"] is True and result["stat"]["path"] == "C:\\Windows"

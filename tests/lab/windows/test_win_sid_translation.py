"""`([System.Security.Principal.SecurityIdentifier]'S-…').Translate([System.Security.Principal.NTAccount]).Value`:
the account name a host gives a SID (complus_msdtc_diagnose.yml reads the host's own name of Network Service).

.NET: the SecurityIdentifier(string) constructor rejects a string that is not a SID (ArgumentException, "Value was
invalid", parameter sddlForm; PowerShell reports the failed cast), and SecurityIdentifier.Translate(NTAccount)
throws IdentityNotMappedException ("Some or all identity references could not be translated.") for a SID that
maps to no account; PowerShell wraps a method's exception as `Exception calling "Translate" with "1"
argument(s): "..."`. The `System.` prefix of a type literal is optional in PowerShell.
"""

from __future__ import annotations

import pytest

from lab.windows.accounts import NOT_TRANSLATED

from .helpers import call, host_for

FORM = "([System.Security.Principal.SecurityIdentifier]'{sid}').Translate([System.Security.Principal.NTAccount]).Value"


@pytest.mark.parametrize(("sid", "name"), [
    ("S-1-5-20", "NT AUTHORITY\\NETWORK SERVICE"),
    ("S-1-5-18", "NT AUTHORITY\\SYSTEM"),
    ("S-1-5-32-544", "BUILTIN\\Administrators"),
])
def test_a_sid_translates_to_its_account_name(sid: str, name: str) -> None:
    host = host_for()
    result = call(host, "win_powershell", script="$Ansible.Changed = $false\n" + FORM.format(sid=sid))
    assert result["output"] == [name] and result["error"] == [] and result["changed"] is False
    assert host.state["commands_run"][-1] == FORM.format(sid=sid)


def test_short_type_names_and_double_quotes() -> None:
    script = '([Security.Principal.SecurityIdentifier]"S-1-5-20").Translate([Security.Principal.NTAccount]).Value'
    assert call(host_for(), "win_powershell", script=script)["output"] == ["NT AUTHORITY\\NETWORK SERVICE"]


def test_unmapped_and_invalid_sids_fail_like_dotnet() -> None:
    host = host_for()
    unmapped = call(host, "win_powershell", script=FORM.format(sid="S-1-5-21-1-2-3-4242"))
    assert unmapped["output"] == []
    assert unmapped["error"][0]["output"].splitlines()[0] == (
        f'Exception calling "Translate" with "1" argument(s): "{NOT_TRANSLATED}"')
    invalid = call(host, "win_powershell", script=FORM.format(sid="NetworkService"), error_action="stop")
    assert invalid["failed"] is True
    assert invalid["msg"].startswith('Cannot convert value "NetworkService" to type '
                                     '"System.Security.Principal.SecurityIdentifier".')

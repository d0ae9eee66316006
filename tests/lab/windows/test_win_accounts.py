"""Accounts resolve like LookupAccountName (NTAccount.Translate) on the simulated host: by SID, not by spelling."""

from __future__ import annotations

import pytest

from lab.windows import accounts

from .helpers import host_for


@pytest.fixture
def state() -> dict:
    return host_for({"platform": "windows", "hostname": "VM1",
                     "accounts": [{"name": "CONTOSO\\svc_sql"}, {"name": "backup_ops", "type": "group"}]}).state


def test_well_known_names_and_spellings_share_one_sid(state) -> None:
    for name in ("Everyone", "everyone", "S-1-1-0"):
        assert accounts.to_sid(state, name) == "S-1-1-0"
    for name in ("NT AUTHORITY\\Authenticated Users", "Authenticated Users", "nt authority\\authenticated users"):
        assert accounts.to_sid(state, name) == "S-1-5-11"
    for name in ("Administrators", "BUILTIN\\Administrators", "builtin\\ADMINISTRATORS", "S-1-5-32-544"):
        assert accounts.to_sid(state, name) == "S-1-5-32-544"
    # Windows translates NT AUTHORITY\NetworkService to NT AUTHORITY\NETWORK SERVICE (upstream win_service tests)
    for name in ("NT AUTHORITY\\NetworkService", "NETWORK SERVICE", "NT AUTHORITY\\NETWORK SERVICE", "NetworkService"):
        assert accounts.to_sid(state, name) == "S-1-5-20"
    assert accounts.name_of(state, "S-1-5-20") == "NT AUTHORITY\\NETWORK SERVICE"
    assert accounts.name_of(state, "S-1-1-0") == "Everyone"
    assert accounts.to_sid(state, "SYSTEM") == accounts.to_sid(state, "NT AUTHORITY\\SYSTEM") == "S-1-5-18"


def test_local_accounts_by_computer_name_dot_and_bare_name(state) -> None:
    sid = accounts.to_sid(state, "labadmin")
    assert sid.startswith(accounts.machine_sid(state)) and sid.endswith("-1000")
    assert accounts.to_sid(state, ".\\labadmin") == accounts.to_sid(state, "VM1\\LabAdmin") == sid
    assert accounts.name_of(state, sid) == "VM1\\labadmin"
    assert accounts.to_sid(state, "Administrator").endswith("-500")
    assert accounts.name_of(state, accounts.to_sid(state, "backup_ops")) == "VM1\\backup_ops"


def test_domain_accounts_compare_case_insensitively(state) -> None:
    assert accounts.same(state, "CONTOSO\\svc_sql", "contoso\\SVC_SQL")
    assert accounts.name_of(state, accounts.to_sid(state, "contoso\\svc_sql")) == "CONTOSO\\svc_sql"
    assert not accounts.to_sid(state, "CONTOSO\\svc_sql").startswith(accounts.machine_sid(state))


def test_unknown_accounts_and_localsystem_do_not_translate(state) -> None:
    # LocalSystem is a name only the service manager knows: win_service maps it itself (win_service.ps1
    # ConvertTo-SecurityIdentifier), NTAccount('LocalSystem').Translate() fails.
    for name in ("LocalSystem", "nobody", "CONTOSO\\nobody", "OTHERHOST\\labadmin", "NT AUTHORITY\\Everyone"):
        with pytest.raises(accounts.AccountNotFound, match="could not be translated"):
            accounts.to_sid(state, name)
    # a well-formed SID is accepted as it is, even when no account has it (New-Object SecurityIdentifier)
    assert accounts.to_sid(state, "S-1-5-21-1-2-3-4242") == "S-1-5-21-1-2-3-4242"
    assert accounts.name_of(state, "S-1-5-21-1-2-3-4242") is None
    assert accounts.display(state, "S-1-5-21-1-2-3-4242") == "S-1-5-21-1-2-3-4242"


def test_service_virtual_accounts(state) -> None:
    # NT SERVICE\TrustedInstaller's documented SID checks the algorithm (SHA-1 of the upper-cased name, UTF-16LE)
    assert accounts.service_sid("TrustedInstaller") == accounts.lookup(state, "NT SERVICE\\TrustedInstaller")
    sid = accounts.to_sid(state, "NT SERVICE\\vss")
    assert sid == accounts.service_sid("VSS") and accounts.name_of(state, sid) == "NT SERVICE\\VSS"
    with pytest.raises(accounts.AccountNotFound):
        accounts.to_sid(state, "NT SERVICE\\NoSuchService")


def test_scenario_accounts_are_validated() -> None:
    with pytest.raises(ValueError, match=r"accounts\[0\]"):
        host_for({"platform": "windows", "accounts": [{"nam": "x"}]})
    with pytest.raises(ValueError, match=r"accounts\[0\].type"):
        host_for({"platform": "windows", "accounts": [{"name": "x", "type": "computer"}]})

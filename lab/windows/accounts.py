"""Windows accounts as the simulated host knows them: names resolve to SIDs, SIDs translate back to names.

Modules compare accounts by SID, as the real ones do (win_acl through Ansible.ModuleUtils.SID `Convert-ToSID`,
win_service through its `ConvertTo-SecurityIdentifier`): both end in `NTAccount.Translate(SecurityIdentifier)`,
i.e. LookupAccountName. What that accepts, and what this module reproduces:

- a SID string (`S-1-5-32-544`) is taken as it is, known or not (`New-Object SecurityIdentifier $name`);
- `DOMAIN\\name` with DOMAIN = `NT AUTHORITY`, `BUILTIN`, `NT SERVICE`, the computer name (also `.` in the
  modules that map it to `$env:COMPUTERNAME`), or an Active Directory domain the scenario declares;
- a bare `name`: well-known and builtin names first (Everyone, SYSTEM, Administrators, Authenticated Users,
  NETWORK SERVICE, ...), then local accounts, then domain accounts;
- case-insensitively; `NetworkService` / `LocalService` are accepted spellings of `NETWORK SERVICE` /
  `LOCAL SERVICE` (Windows translates `NT AUTHORITY\\NetworkService` to `NT AUTHORITY\\NETWORK SERVICE`, which
  the upstream win_service tests assert). `LocalSystem` is NOT a translatable name: win_service maps it to
  S-1-5-18 itself, win_acl fails on it as Windows does.
- `NT SERVICE\\<service>` (per-service virtual accounts) exists for every installed service; its SID is
  S-1-5-80- followed by the SHA-1 of the upper-cased service name (UTF-16LE) as five little-endian integers.

Unknown names raise AccountNotFound with .NET's message ("Some or all identity references could not be
translated."); each module wraps it in its own wording.

Scenario field `accounts` (optional) adds local or domain accounts:
`[{name: 'CONTOSO\\svc_sql', type: user}, {name: backup_ops, type: group}]` (a name without a domain is local).
Every host also has the local accounts Administrator (-500), Guest (-501), DefaultAccount (-503),
WDAGUtilityAccount (-504) and the lab's WinRM user (-1000, a member of Administrators).
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Any

NOT_TRANSLATED = "Some or all identity references could not be translated."
SID_RE = re.compile(r"^S-1-(\d+)(-\d+)*$", re.I)

# SID -> (domain, name) as NTAccount.Value shows it ("domain\name", or just "name" when the domain is empty).
WELL_KNOWN: dict[str, tuple[str, str]] = {
    "S-1-0-0": ("", "NULL SID"),
    "S-1-1-0": ("", "Everyone"),
    "S-1-2-0": ("", "LOCAL"),
    "S-1-2-1": ("", "CONSOLE LOGON"),
    "S-1-3-0": ("", "CREATOR OWNER"),
    "S-1-3-1": ("", "CREATOR GROUP"),
    "S-1-3-4": ("", "OWNER RIGHTS"),
    "S-1-5-1": ("NT AUTHORITY", "DIALUP"),
    "S-1-5-2": ("NT AUTHORITY", "NETWORK"),
    "S-1-5-3": ("NT AUTHORITY", "BATCH"),
    "S-1-5-4": ("NT AUTHORITY", "INTERACTIVE"),
    "S-1-5-6": ("NT AUTHORITY", "SERVICE"),
    "S-1-5-7": ("NT AUTHORITY", "ANONYMOUS LOGON"),
    "S-1-5-9": ("NT AUTHORITY", "ENTERPRISE DOMAIN CONTROLLERS"),
    "S-1-5-10": ("NT AUTHORITY", "SELF"),
    "S-1-5-11": ("NT AUTHORITY", "Authenticated Users"),
    "S-1-5-12": ("NT AUTHORITY", "RESTRICTED"),
    "S-1-5-13": ("NT AUTHORITY", "TERMINAL SERVER USER"),
    "S-1-5-14": ("NT AUTHORITY", "REMOTE INTERACTIVE LOGON"),
    "S-1-5-15": ("NT AUTHORITY", "This Organization"),
    "S-1-5-17": ("NT AUTHORITY", "IUSR"),
    "S-1-5-18": ("NT AUTHORITY", "SYSTEM"),
    "S-1-5-19": ("NT AUTHORITY", "LOCAL SERVICE"),
    "S-1-5-20": ("NT AUTHORITY", "NETWORK SERVICE"),
    "S-1-5-32-544": ("BUILTIN", "Administrators"),
    "S-1-5-32-545": ("BUILTIN", "Users"),
    "S-1-5-32-546": ("BUILTIN", "Guests"),
    "S-1-5-32-547": ("BUILTIN", "Power Users"),
    "S-1-5-32-551": ("BUILTIN", "Backup Operators"),
    "S-1-5-32-552": ("BUILTIN", "Replicator"),
    "S-1-5-32-555": ("BUILTIN", "Remote Desktop Users"),
    "S-1-5-32-556": ("BUILTIN", "Network Configuration Operators"),
    "S-1-5-32-558": ("BUILTIN", "Performance Monitor Users"),
    "S-1-5-32-559": ("BUILTIN", "Performance Log Users"),
    "S-1-5-32-562": ("BUILTIN", "Distributed COM Users"),
    "S-1-5-32-568": ("BUILTIN", "IIS_IUSRS"),
    "S-1-5-32-569": ("BUILTIN", "Cryptographic Operators"),
    "S-1-5-32-573": ("BUILTIN", "Event Log Readers"),
    "S-1-5-32-578": ("BUILTIN", "Hyper-V Administrators"),
    "S-1-5-32-579": ("BUILTIN", "Access Control Assistance Operators"),
    "S-1-5-32-580": ("BUILTIN", "Remote Management Users"),
    "S-1-5-80-0": ("NT SERVICE", "ALL SERVICES"),
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": ("NT SERVICE", "TrustedInstaller"),
    "S-1-15-2-1": ("APPLICATION PACKAGE AUTHORITY", "ALL APPLICATION PACKAGES"),
    "S-1-15-2-2": ("APPLICATION PACKAGE AUTHORITY", "ALL RESTRICTED APPLICATION PACKAGES"),
}
# Other spellings LookupAccountName accepts for a well-known account (lower-case name -> SID).
ALTERNATE_NAMES = {"networkservice": "S-1-5-20", "localservice": "S-1-5-19"}
BUILTIN_DOMAINS = {"nt authority", "builtin", "nt service", "application package authority"}

LOCAL_DEFAULTS: list[tuple[str, int, str]] = [
    ("Administrator", 500, "user"),
    ("Guest", 501, "user"),
    ("DefaultAccount", 503, "user"),
    ("WDAGUtilityAccount", 504, "user"),
]


class AccountNotFound(LookupError):
    """The name does not translate to a SID (IdentityNotMappedException)."""

    def __init__(self, name: str) -> None:
        super().__init__(NOT_TRANSLATED)
        self.name = name


def parse_sid(text: str) -> str | None:
    """`New-Object SecurityIdentifier $text`: the canonical SID string for a well-formed SID, else None."""
    value = str(text).strip()
    if not SID_RE.match(value):
        return None
    parts = value.split("-")
    if len(parts) - 3 > 15:  # at most 15 sub-authorities
        return None
    return "S-" + "-".join(str(int(p)) for p in parts[1:])


def _rids(seed: str, count: int) -> list[int]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return [struct.unpack("<I", digest[i * 4 : i * 4 + 4])[0] % 4000000000 + 100000000 for i in range(count)]


def machine_sid(state: dict[str, Any]) -> str:
    """The host's S-1-5-21-a-b-c prefix (deterministic per host name)."""
    a, b, c = _rids("machine:" + str(state["hostname"]).upper(), 3)
    return f"S-1-5-21-{a}-{b}-{c}"


def domain_sid(domain: str) -> str:
    a, b, c = _rids("domain:" + domain.upper(), 3)
    return f"S-1-5-21-{a}-{b}-{c}"


def service_sid(service_name: str) -> str:
    """The SID of `NT SERVICE\\<name>`: S-1-5-80 + SHA-1 of the upper-cased name in UTF-16LE."""
    digest = hashlib.sha1(service_name.upper().encode("utf-16-le")).digest()  # noqa: S324 - Windows' algorithm
    return "S-1-5-80-" + "-".join(str(v) for v in struct.unpack("<5I", digest))


def local_accounts(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every account of the host other than the well-known ones: [{domain, name, sid, type}]."""
    computer = str(state["hostname"]).upper()
    prefix = machine_sid(state)
    out = [{"domain": computer, "name": n, "sid": f"{prefix}-{rid}", "type": t} for n, rid, t in LOCAL_DEFAULTS]
    rid = 1000
    lab_user = state.get("lab_user")
    if lab_user:
        out.append({"domain": computer, "name": lab_user, "sid": f"{prefix}-{rid}", "type": "user"})
        rid += 1
    for raw in state.get("accounts") or []:
        name = str(raw["name"])
        domain, _, short = name.rpartition("\\")
        if not domain or domain == ".":
            entry = {"domain": computer, "name": short, "sid": raw.get("sid") or f"{prefix}-{rid}"}
            rid += 1
        else:
            rid_domain = 1100 + int(hashlib.sha256(name.lower().encode()).hexdigest()[:6], 16) % 100000
            entry = {"domain": domain.upper(), "name": short,
                     "sid": raw.get("sid") or f"{domain_sid(domain)}-{rid_domain}"}
        entry["type"] = raw.get("type", "user")
        out.append(entry)
    return out


def _value(domain: str, name: str) -> str:
    return f"{domain}\\{name}" if domain else name


def lookup(state: dict[str, Any], name: str) -> str:
    """`NTAccount(name).Translate(SecurityIdentifier)`: the SID of an account name, else AccountNotFound."""
    text = str(name).strip()
    if not text:
        raise AccountNotFound(name)
    domain, sep, short = text.rpartition("\\")
    wanted_domain = domain.lower() if sep else None
    short_l = short.lower()
    computer = str(state["hostname"]).lower()
    # well-known and builtin accounts
    if wanted_domain is None or wanted_domain in BUILTIN_DOMAINS or wanted_domain == "":
        for sid, (dom, nm) in WELL_KNOWN.items():
            if nm.lower() == short_l and (wanted_domain is None or wanted_domain == dom.lower()):
                return sid
        if short_l in ALTERNATE_NAMES and wanted_domain in (None, "nt authority"):
            return ALTERNATE_NAMES[short_l]
        if wanted_domain == "nt service":
            for svc in (state.get("services") or {}).values():
                if svc["name"].lower() == short_l:
                    return service_sid(svc["name"])
    # local, then domain accounts
    for acct in local_accounts(state):
        if acct["name"].lower() != short_l:
            continue
        if wanted_domain is None or wanted_domain == acct["domain"].lower():
            return acct["sid"]
        if wanted_domain == computer and acct["domain"].lower() == computer:
            return acct["sid"]
    raise AccountNotFound(name)


def local_groups(state: dict[str, Any]) -> list[str]:
    """The groups `[ADSI]"WinNT://$env:COMPUTERNAME,computer"` lists: the BUILTIN aliases and local groups."""
    builtin = [name for dom, name in WELL_KNOWN.values() if dom == "BUILTIN"]
    local = [a["name"] for a in local_accounts(state) if a["type"] == "group" and
             a["domain"].lower() == str(state["hostname"]).lower()]
    return builtin + local


def to_sid(state: dict[str, Any], name: str) -> str:
    """Ansible.ModuleUtils.SID `Convert-ToSID`: a SID string as given; `.\\x` and `COMPUTERNAME\\x` are looked up
    without the prefix when x is a local group (the module's ADSI check: LookupAccountName fails on
    `COMPUTERNAME\\Administrators`), with it otherwise; anything else goes to LookupAccountName."""
    parsed = parse_sid(name)
    if parsed:
        return parsed
    text = str(name).strip()
    domain, sep, short = text.rpartition("\\")
    if sep and domain.lower() in (".", str(state["hostname"]).lower()):
        if short.lower() in (g.lower() for g in local_groups(state)):
            return lookup(state, short)
        text = f"{state['hostname']}\\{short}"
    return lookup(state, text)


def name_of(state: dict[str, Any], sid: str) -> str | None:
    """`SecurityIdentifier(sid).Translate(NTAccount).Value`, or None when the SID maps to no account."""
    canonical = parse_sid(sid)
    if canonical is None:
        return None
    if canonical in WELL_KNOWN:
        return _value(*WELL_KNOWN[canonical])
    for acct in local_accounts(state):
        if acct["sid"] == canonical:
            return _value(acct["domain"], acct["name"])
    for svc in (state.get("services") or {}).values():
        if service_sid(svc["name"]) == canonical:
            return f"NT SERVICE\\{svc['name']}"
    return None


def display(state: dict[str, Any], sid: str) -> str:
    """How Get-Acl / icacls show an account: its name, or the SID string when it no longer maps to one."""
    return name_of(state, sid) or sid


def same(state: dict[str, Any], a: str, b: str) -> bool:
    """Two account names denote the same account (both must resolve)."""
    return to_sid(state, a) == to_sid(state, b)

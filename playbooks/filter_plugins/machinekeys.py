"""Filters of runbook ExtensionConfigParsingFailure: the MachineKeys folder ACL and the CRP certificates.

- `machinekeys_acl_plan(read, default)`: what differs between the folder's DACL and the documented default, and
  the idempotent ansible.windows.win_acl calls that reach it. `read` is the `output` of the read script in
  ../vars/machinekeys.yml (win_powershell): objects with `Kind` `acl` (`Exists`, `Protected`, `Canonical`),
  `rule` (one per ACE as `GetAccessRules($true, $true, [SecurityIdentifier])` returns it: `Sid`, `Account`,
  `Type`, `Rights` (the access mask as a number), `RightsName` (FileSystemRights.ToString()), `Inherited`,
  `Inheritance`, `Propagation`) and `account` (`Sid`, `Account`: the host's own name of a default account,
  localised on a French Windows). `default` lists the wanted entries `{sid, rights, type, inherit,
  propagation}` (rights as FileSystemRights names, the way win_acl casts them).
- `crp_certificates(certificates, common_name)`: the certificates of a win_certificate_info result whose subject
  or issuer common name (CN) is exactly `common_name` (compared without case, like X.500 caseIgnoreMatch), never
  a substring: "Windows Azure Tools" is not "Windows Azure CRP Certificate Generator".
- `machinekeys_diagnosis(acl_plan, crp, path)`: the `remediate_diagnosis` contract (`healthy`, `summary`,
  `findings` each with `problem`, `message`, `fix`), plus the facts.

How the plan follows win_acl.ps1 and .NET (System.Security.AccessControl, FileSecurity.cs):
- an entry is the default when its SID, type, mask and inheritance/propagation flags equal a wanted one and it is
  explicit; every other explicit entry is removed with `state: absent` and exactly its own rights and flags
  (win_acl.ps1 lines 199-239 need an exact match, then RemoveAccessRule);
- the rule win_acl builds goes through FileSystemAccessRule's AccessMaskFromRights: Allow adds Synchronize,
  Deny drops it (except FullControl), and rights beyond FullControl (generic rights) throw. An entry whose mask
  that constructor cannot produce (an allow entry without Synchronize, generic rights) can never match, so
  win_acl cannot remove it: it is listed as `manual`;
- several entries of one account and type whose scopes meet cannot be removed one by one: removing the first takes
  its rights (at least Synchronize) from the others, which then match no rule. They are left untouched, as
  `manual`, rather than half removed;
- a wanted entry is added when it is missing, or when removing another entry of the same account and type takes
  rights from it (RemoveAccessRule removes the rights from every explicit entry of that account and type);
- inherited entries go away when inheritance is disabled without copying them (win_acl_inheritance
  `state: absent`, `reorganize: false`), so they are never removed one by one;
- a non-canonical ACL cannot be modified (.NET: "not in canonical form"): `manual`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

# System.Security.AccessControl.FileSystemRights (the names the [FileSystemRights] cast accepts)
FILE_SYSTEM_RIGHTS: dict[str, int] = {
    "readdata": 0x1, "listdirectory": 0x1, "writedata": 0x2, "createfiles": 0x2, "appenddata": 0x4,
    "createdirectories": 0x4, "readextendedattributes": 0x8, "writeextendedattributes": 0x10,
    "executefile": 0x20, "traverse": 0x20, "deletesubdirectoriesandfiles": 0x40, "readattributes": 0x80,
    "writeattributes": 0x100, "write": 0x116, "delete": 0x10000, "readpermissions": 0x20000, "read": 0x20089,
    "readandexecute": 0x200A9, "modify": 0x301BF, "changepermissions": 0x40000, "takeownership": 0x80000,
    "synchronize": 0x100000, "fullcontrol": 0x1F01FF,
}
SYNCHRONIZE = FILE_SYSTEM_RIGHTS["synchronize"]
FULL_CONTROL = FILE_SYSTEM_RIGHTS["fullcontrol"]
DELETE_CHILDREN = FILE_SYSTEM_RIGHTS["deletesubdirectoriesandfiles"]
_CN = re.compile(r"(?:^|,)\s*CN=(\"(?:[^\"\\]|\\.)*\"|(?:[^,\\]|\\.)*)", re.IGNORECASE)


def rights_mask(rights: str | int) -> int:
    """The value of a FileSystemRights cast: a number, or enum names separated by commas (case-insensitive)."""
    if isinstance(rights, int):
        return rights
    text = str(rights).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    mask = 0
    for name in text.split(","):
        key = name.strip().lower()
        if key not in FILE_SYSTEM_RIGHTS:
            raise AnsibleFilterError(f"'{name.strip()}' is not a FileSystemRights name")
        mask |= FILE_SYSTEM_RIGHTS[key]
    return mask


def rule_mask(rights: int, access_type: str) -> int | None:
    """The mask of `New-Object FileSystemAccessRule(.., rights, .., type)` (AccessMaskFromRights), None if it throws."""
    if rights < 0 or rights > FULL_CONTROL:
        return None
    if access_type.lower() == "allow":
        return rights | SYNCHRONIZE
    if rights not in (FULL_CONTROL, FULL_CONTROL & ~DELETE_CHILDREN):
        return rights & ~SYNCHRONIZE
    return rights


def _flags(value: Any) -> str:
    """Inheritance / propagation flags as a set-like canonical string ('ContainerInherit, ObjectInherit')."""
    parts = sorted(p.strip() for p in str(value or "None").split(",") if p.strip() and p.strip() != "None")
    return ", ".join(parts) or "None"


def _read(read: Any) -> tuple[Mapping[str, Any], list[Mapping[str, Any]], dict[str, str]]:
    if not isinstance(read, list):
        raise AnsibleFilterError(f"machinekeys_acl_plan expects the read script's output list, got {read!r}")
    heads = [o for o in read if isinstance(o, Mapping) and o.get("Kind") == "acl"]
    if len(heads) != 1:
        raise AnsibleFilterError(f"machinekeys_acl_plan: the read script returned no 'acl' object: {read!r}")
    rules = [o for o in read if isinstance(o, Mapping) and o.get("Kind") == "rule"]
    names = {str(o["Sid"]): str(o["Account"]) for o in read if isinstance(o, Mapping) and o.get("Kind") == "account"}
    return heads[0], rules, names


def _entry(rule: Mapping[str, Any]) -> dict[str, Any]:
    mask = int(rule["Rights"]) & 0xFFFFFFFF
    if mask & 0x80000000:
        mask -= 1 << 32  # FileSystemRights is an Int32 enum: generic read is negative
    return {
        "sid": str(rule["Sid"]),
        "account": str(rule.get("Account") or rule["Sid"]),
        "type": str(rule["Type"]).lower(),
        "mask": mask,
        "rights": str(rule.get("RightsName") or mask),
        "inherit": _flags(rule.get("Inheritance")),
        "propagation": _flags(rule.get("Propagation")),
        "inherited": bool(rule.get("Inherited")),
    }


def _wanted(default: Any) -> list[dict[str, Any]]:
    if not isinstance(default, list) or not default:
        raise AnsibleFilterError(f"machinekeys_acl_plan expects a non-empty list of default entries, got {default!r}")
    wanted = []
    for item in default:
        if not isinstance(item, Mapping) or not item.get("sid") or not item.get("rights"):
            raise AnsibleFilterError(f"machinekeys_acl_plan: a default entry needs sid and rights, got {item!r}")
        access_type = str(item.get("type", "allow")).lower()
        mask = rule_mask(rights_mask(item["rights"]), access_type)
        if mask is None:
            raise AnsibleFilterError(f"machinekeys_acl_plan: rights {item['rights']!r} cannot make a rule")
        wanted.append({"sid": str(item["sid"]), "type": access_type, "mask": mask, "rights": str(item["rights"]),
                       "inherit": _flags(item.get("inherit")), "propagation": _flags(item.get("propagation"))})
    return wanted


def _scope(entry: Mapping[str, Any]) -> set[str]:
    """Where an entry applies: the folder itself (unless InheritOnly), subfolders (CI), files (OI)."""
    scope = set() if "InheritOnly" in entry["propagation"] else {"folder"}
    if "ContainerInherit" in entry["inherit"]:
        scope.add("subfolders")
    if "ObjectInherit" in entry["inherit"]:
        scope.add("files")
    return scope


def _overlap(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """RemoveAccessRule of one takes its rights from the other where their scopes meet (CommonAcl.RemoveQualifiedAces);
    allow entries always share Synchronize, so removing one leaves the other with a mask no rule matches."""
    return bool(_scope(one) & _scope(other)) and bool(one["mask"] & other["mask"])


def _same(entry: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    return all(entry[k] == want[k] for k in ("sid", "type", "mask", "inherit", "propagation"))


def _text(entry: Mapping[str, Any]) -> str:
    flags = "" if entry["inherit"] == "None" else f" (inherit {entry['inherit']}; propagation {entry['propagation']})"
    return f"{entry['type']} {entry['account']}: {entry['rights']}{flags}"


def machinekeys_acl_plan(read: Any, default: Any) -> dict[str, Any]:
    """The differences between the DACL read on the host and the default, and the win_acl calls that remove them."""
    head, rules, names = _read(read)
    wanted = _wanted(default)
    for want in wanted:
        want["account"] = names.get(want["sid"], want["sid"])
    if not head.get("Exists"):
        return {"exists": False, "protected": False, "canonical": True, "entries": [], "remove": [], "add": wanted,
                "manual": [], "disable_inheritance": False, "is_default": False}
    entries = [_entry(r) for r in rules]
    explicit = [e for e in entries if not e["inherited"]]
    remove, manual = [], []
    extras = [e for e in explicit if not any(_same(e, w) for w in wanted)]
    for entry in extras:
        if rule_mask(entry["mask"], entry["type"]) != entry["mask"]:
            manual.append({**entry, "reason": "no FileSystemAccessRule has exactly this mask"})
        elif any(o is not entry and (o["sid"], o["type"]) == (entry["sid"], entry["type"]) and _overlap(o, entry)
                 for o in extras):
            manual.append({**entry, "reason": "other entries of this account overlap it: removing one would take "
                                              "rights (Synchronize) from the others"})
        else:
            remove.append({**entry, "user": entry["account"]})
    touched = {(e["sid"], e["type"]) for e in remove}
    add = [w for w in wanted
           if (w["sid"], w["type"]) in touched or not any(_same(e, w) for e in explicit)]
    canonical = bool(head.get("Canonical", True))
    protected = bool(head.get("Protected"))
    if not canonical:  # .NET refuses to modify it: every explicit entry is a manual fix
        remove, add, manual = [], [], explicit
    return {
        "exists": True,
        "protected": protected,
        "canonical": canonical,
        "entries": entries,
        "remove": remove,
        "add": add,
        "manual": manual,
        "disable_inheritance": canonical and not protected,
        "is_default": protected and not remove and not manual and not add,
    }


def _common_names(dn: Any) -> list[str]:
    names = []
    for match in _CN.finditer(str(dn or "")):
        value = match.group(1).strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        names.append(re.sub(r"\\(.)", r"\1", value).strip())
    return names


def crp_certificates(certificates: Any, common_name: str) -> list[dict[str, Any]]:
    """The certificates issued to or by exactly `common_name` (subject or issuer CN), with a plan label."""
    if isinstance(certificates, Mapping):
        certificates = certificates.get("certificates")
    if not isinstance(certificates, list):
        raise AnsibleFilterError(f"crp_certificates expects win_certificate_info certificates, got {certificates!r}")
    wanted = str(common_name).strip().casefold()
    if not wanted:
        raise AnsibleFilterError("crp_certificates needs a common name")
    found = []
    for cert in certificates:
        if not isinstance(cert, Mapping) or not cert.get("thumbprint"):
            raise AnsibleFilterError(f"crp_certificates: a certificate without a thumbprint: {cert!r}")
        names = _common_names(cert.get("subject")) + _common_names(cert.get("issuer"))
        if any(n.casefold() == wanted for n in names):
            found.append({
                "thumbprint": str(cert["thumbprint"]).upper(),
                "subject": str(cert.get("subject") or ""),
                "issuer": str(cert.get("issuer") or ""),
                "not_after": cert.get("valid_to_iso8601"),
                "label": f"{str(cert['thumbprint']).upper()} {cert.get('subject') or ''}".strip(),
            })
    return found


def machinekeys_diagnosis(acl_plan: Mapping[str, Any], crp: list[Mapping[str, Any]], path: str) -> dict[str, Any]:
    """The `remediate_diagnosis` of ExtensionConfigParsingFailure."""
    findings: list[dict[str, Any]] = []
    if not acl_plan.get("exists"):
        findings.append({"problem": "machinekeys-missing", "message": f"{path} does not exist",
                         "fix": "manual: the folder is created by Windows; restore it before resetting its ACL"})
    else:
        if not acl_plan.get("protected"):
            findings.append({"problem": "machinekeys-inheritance-enabled",
                             "message": f"{path} inherits permissions from its parent (the default is inheritance off)",
                             "fix": "step reset-machinekeys-acl"})
        for entry in acl_plan.get("remove", []):
            findings.append({"problem": "machinekeys-extra-entry", "entry": _text(entry),
                             "message": f"{path}: non-default entry {_text(entry)}",
                             "fix": "step reset-machinekeys-acl"})
        for entry in acl_plan.get("manual", []):
            findings.append({"problem": "machinekeys-entry-not-removable", "entry": _text(entry),
                             "message": f"{path}: entry {_text(entry)} cannot be removed by win_acl "
                                        f"({entry.get('reason', 'the ACL is not in canonical form')})",
                             "fix": "manual: Explorer > Properties > Security > Advanced, remove the entry"})
        present = {(e["sid"], e["type"], e["mask"], e["inherit"], e["propagation"])
                   for e in acl_plan.get("entries", []) if not e["inherited"]}
        for want in acl_plan.get("add", []):
            if (want["sid"], want["type"], want["mask"], want["inherit"], want["propagation"]) not in present:
                findings.append({"problem": "machinekeys-default-entry-missing", "entry": _text(want),
                                 "message": f"{path}: default entry {_text(want)} is missing",
                                 "fix": "step reset-machinekeys-acl"})
    for cert in crp:
        findings.append({"problem": "crp-certificate-present", "thumbprint": cert["thumbprint"],
                         "message": f"LocalMachine\\My holds {cert['thumbprint']} ({cert['subject']})",
                         "fix": "step remove-crp-certificates"})
    acl_ok = bool(acl_plan.get("is_default"))
    if not findings:
        summary = f"{path} has the default ACL and LocalMachine\\My holds no CRP certificate"
    else:
        parts = []
        if not acl_ok:
            parts.append(f"{path} ACL differs from the default ({len(findings) - len(crp)} finding(s))")
        if crp:
            parts.append(f"{len(crp)} Windows Azure CRP certificate(s) in LocalMachine\\My")
        summary = "; ".join(parts)
    return {"healthy": not findings, "summary": summary, "findings": findings, "acl_default": acl_ok,
            "acl_entries": [_text(e) + (" [inherited]" if e["inherited"] else "")
                            for e in acl_plan.get("entries", [])],
            "crp_certificates": list(crp)}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"machinekeys_acl_plan": machinekeys_acl_plan, "crp_certificates": crp_certificates,
                "machinekeys_diagnosis": machinekeys_diagnosis}

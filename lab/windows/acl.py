"""File-system ACLs with the semantics of Windows and .NET's System.Security.AccessControl.

What this module follows (reference: the .NET Framework sources of ACL.cs, FileSecurity.cs, SecurityDescriptor.cs):

- An ACE is (SID, allow|deny, access mask, AceFlags). AceFlags: ObjectInherit, ContainerInherit,
  NoPropagateInherit, InheritOnly, Inherited.
- `FileSystemAccessRule(identity, rights, inheritance, propagation, type)` builds its mask with
  AccessMaskFromRights: rights outside 0..FullControl fail; an Allow rule gets Synchronize added; a Deny rule loses
  it unless the rights are FullControl (or FullControl without DeleteSubdirectoriesAndFiles).
- Reading a security descriptor (Get-Acl) builds a CommonAcl: meaningless ACEs and flags are stripped
  (InspectAce); if the ACL is canonical (explicit deny, explicit allow, inherited) it is sorted (explicit ACEs by
  type then by SID, inherited ones keep their order) and adjacent mergeable ACEs are merged; if it is not
  canonical it can be read but any modification fails ("This access control list is not in canonical form ...").
- AddAccessRule (CommonAcl.AddQualifiedAce): CheckFlags first (a container needs inheritance flags for
  propagation flags; a file takes none), then the new ACE is merged into the first explicit ACE of the same SID and
  type: masks are OR-ed when the flags are equal, flags are merged through the propagation matrix when the masks
  are equal; otherwise it is appended (and the ACL sorted again on the next read).
- RemoveAccessRule (CommonAcl.RemoveQualifiedAces): from every explicit ACE of the SID and type that shares
  access bits, the removed bits are taken away (the ACE keeps the rest), and the removed bits keep the inheritance
  that the rule did not remove (propagation matrix). FileSystemSecurity.RemoveAccessRule first looks for a rule
  with exactly the same rights, identity and type (explicit or inherited); if there is none it removes the rights
  without Synchronize, so removing part of an allow rule keeps Synchronize on the account.
- SetAccessRuleProtection(protected, preserve): protecting without preserve drops the inherited ACEs; with
  preserve they stay and are written as explicit ACEs.
- Inheritance (ACE inheritance rules): a child container inherits the parent's ACEs with ContainerInherit (as
  effective ACEs, inheritable again unless NoPropagateInherit) and keeps ObjectInherit-only ACEs as inherit-only;
  a file inherits the ACEs with ObjectInherit.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

from lab.windows.netenum import FILE_SYSTEM_RIGHTS, INHERITANCE_FLAGS, PROPAGATION_FLAGS, int32
from lab.windows.powershell.errors import NotSimulated

# AceFlags
OI, CI, NP, IO, INHERITED = 0x01, 0x02, 0x04, 0x08, 0x10
INHERITANCE_BITS = OI | CI | NP | IO

SYNCHRONIZE = 0x100000
FULL_CONTROL = 0x1F01FF
DELETE_CHILD = 0x40
MODIFY_WITH_SYNC = 0x1301BF


class DotNetException(Exception):
    """A .NET exception thrown by an ACL method: its type name and Message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message


def argument_error(message: str, param: str, type_name: str = "System.ArgumentException") -> DotNetException:
    return DotNetException(type_name, f"{message}\r\nParameter name: {param}")


NOT_CANONICAL = DotNetException(
    "System.InvalidOperationException",
    "This access control list is not in canonical form and therefore cannot be modified.",
)


@dataclasses.dataclass
class Ace:
    sid: str
    allow: bool
    mask: int
    flags: int = 0

    @property
    def inherited(self) -> bool:
        return bool(self.flags & INHERITED)

    @property
    def inheritance(self) -> int:
        """InheritanceFlags: ContainerInherit = 1, ObjectInherit = 2."""
        return (1 if self.flags & CI else 0) | (2 if self.flags & OI else 0)

    @property
    def propagation(self) -> int:
        """PropagationFlags: NoPropagateInherit = 1, InheritOnly = 2."""
        return (1 if self.flags & NP else 0) | (2 if self.flags & IO else 0)


def ace_flags(inheritance: int, propagation: int) -> int:
    """GenericAce.AceFlagsFromInheritanceFlags."""
    flags = (CI if inheritance & 1 else 0) | (OI if inheritance & 2 else 0)
    return flags | (NP if propagation & 1 else 0) | (IO if propagation & 2 else 0)


def access_mask_from_rights(rights: int, allow: bool) -> int:
    """FileSystemAccessRule.AccessMaskFromRights."""
    if rights < 0 or rights > FULL_CONTROL:
        raise argument_error(
            f"The value '{FILE_SYSTEM_RIGHTS.format(rights)}' is not valid for this usage of the type "
            "FileSystemRights.",
            "fileSystemRights",
            "System.ArgumentOutOfRangeException",
        )
    if allow:
        return rights | SYNCHRONIZE
    if rights not in (FULL_CONTROL, FULL_CONTROL & ~DELETE_CHILD):
        return rights & ~SYNCHRONIZE
    return rights


def check_rule(mask: int, inheritance: int, propagation: int) -> None:
    """AuthorizationRule's constructor checks."""
    if mask == 0:
        raise argument_error("Argument cannot be zero.", "accessMask")
    if inheritance < 0 or inheritance > 3:
        raise argument_error(
            f"The value '{inheritance}' is not valid for this usage of the type InheritanceFlags.",
            "inheritanceFlags",
            "System.ArgumentOutOfRangeException",
        )
    if propagation < 0 or propagation > 3:
        raise argument_error(
            f"The value '{propagation}' is not valid for this usage of the type PropagationFlags.",
            "propagationFlags",
            "System.ArgumentOutOfRangeException",
        )


# -- SIDs ----------------------------------------------------------------------------------------------------


def _sid_parts(sid: str) -> tuple[int, list[int]]:
    parts = sid.split("-")
    return int(parts[2]), [int(p) for p in parts[3:]]


def compare_sids(left: str, right: str) -> int:
    """SecurityIdentifier.CompareTo: authority, then sub-authority count, then each sub-authority (as Int32)."""
    auth_l, subs_l = _sid_parts(left)
    auth_r, subs_r = _sid_parts(right)
    if auth_l != auth_r:
        return -1 if auth_l < auth_r else 1
    if len(subs_l) != len(subs_r):
        return -1 if len(subs_l) < len(subs_r) else 1
    for a, b in zip(subs_l, subs_r, strict=True):
        diff = int32(int32(a) - int32(b))
        if diff:
            return diff
    return 0


# -- propagation matrix (CommonAcl AF / PM tables) -------------------------------------------------------------

_AF_CI, _AF_OI, _AF_IO, _AF_NP = 8, 4, 2, 1
_PM_F, _PM_CF, _PM_CO, _PM_GF, _PM_GO = 0x10, 0x08, 0x04, 0x02, 0x01
_AF_TO_PM = {
    0: _PM_F,
    _AF_OI: _PM_F | _PM_CO | _PM_GO,
    _AF_OI | _AF_NP: _PM_F | _PM_CO,
    _AF_OI | _AF_IO: _PM_CO | _PM_GO,
    _AF_OI | _AF_IO | _AF_NP: _PM_CO,
    _AF_CI: _PM_F | _PM_CF | _PM_GF,
    _AF_CI | _AF_NP: _PM_F | _PM_CF,
    _AF_CI | _AF_IO: _PM_CF | _PM_GF,
    _AF_CI | _AF_IO | _AF_NP: _PM_CF,
    _AF_CI | _AF_OI: _PM_F | _PM_CF | _PM_CO | _PM_GF | _PM_GO,
    _AF_CI | _AF_OI | _AF_NP: _PM_F | _PM_CF | _PM_CO,
    _AF_CI | _AF_OI | _AF_IO: _PM_CF | _PM_CO | _PM_GF | _PM_GO,
    _AF_CI | _AF_OI | _AF_IO | _AF_NP: _PM_CF | _PM_CO,
}
_PM_TO_AF = {pm: af for af, pm in _AF_TO_PM.items()}


def _af(flags: int) -> int:
    return (
        (_AF_CI if flags & CI else 0)
        | (_AF_OI if flags & OI else 0)
        | (_AF_IO if flags & IO else 0)
        | (_AF_NP if flags & NP else 0)
    )


def _flags_from_af(af: int) -> int:
    return (
        (CI if af & _AF_CI else 0)
        | (OI if af & _AF_OI else 0)
        | (IO if af & _AF_IO else 0)
        | (NP if af & _AF_NP else 0)
    )


def merge_inheritance_bits(left: int, right: int) -> int | None:
    left_pm, right_pm = _AF_TO_PM.get(_af(left)), _AF_TO_PM.get(_af(right))
    if left_pm is None or right_pm is None:
        return None
    merged = _PM_TO_AF.get(left_pm | right_pm)
    return None if merged is None else _flags_from_af(merged)


def remove_inheritance_bits(existing: int, remove: int) -> tuple[bool, int, bool]:
    """(possible, resulting flags, total removal)."""
    left_pm, right_pm = _AF_TO_PM.get(_af(existing)), _AF_TO_PM.get(_af(remove))
    if left_pm is None or right_pm is None:
        return False, 0, False
    result = left_pm & ~right_pm
    if result == 0:
        return True, 0, True
    af = _PM_TO_AF.get(result)
    if af is None:
        return False, 0, False
    return True, _flags_from_af(af), False


# -- DiscretionaryAcl ----------------------------------------------------------------------------------------


class Dacl:
    """A DiscretionaryAcl (CommonAcl) over file-system ACEs."""

    def __init__(self, aces: list[Ace], is_container: bool) -> None:
        self.is_container = is_container
        self._aces = [copy.copy(a) for a in aces]
        self._aces = [a for a in self._aces if self._inspect(a)]
        self.canonical = self._canonical_check()
        self._dirty = False
        if self.canonical:
            self._canonicalize(compact=True)

    @property
    def aces(self) -> list[Ace]:
        if self._dirty:
            self._canonicalize(compact=False)
            self._dirty = False
        return self._aces

    # InspectAce: strip meaningless flags; False = the ACE is meaningless and is dropped
    def _inspect(self, ace: Ace) -> bool:
        if ace.mask == 0:
            return False
        if not self.is_container:
            if ace.flags & IO:
                return False
            ace.flags &= ~INHERITANCE_BITS
        else:
            if ace.flags & IO and not ace.flags & (CI | OI):
                return False
            if ace.flags & NP and not ace.flags & (CI | OI):
                ace.flags &= ~NP
        return True

    def _canonical_check(self) -> bool:
        stage = 0
        for ace in self._aces:
            current = 2 if ace.inherited else (1 if ace.allow else 0)
            if current < stage:
                return False
            stage = current
        return True

    @staticmethod
    def _priority(ace: Ace, index: int) -> int:
        if ace.inherited:
            return 2 * 65535 + index
        return 2 if ace.allow else 0

    def _compare(self, left: tuple[Ace, int], right: tuple[Ace, int]) -> int:
        p_left, p_right = self._priority(*left), self._priority(*right)
        if p_left != p_right:
            return -1 if p_left < p_right else 1
        result = compare_sids(left[0].sid, right[0].sid)
        return -1 if result < 0 else (1 if result > 0 else 0)

    def _quicksort(self, items: list[tuple[Ace, int]], left: int, right: int) -> None:
        if left >= right:
            return
        left_hold, right_hold = left, right
        pivot = items[left]
        while left < right:
            while self._compare(items[right], pivot) != -1 and left < right:
                right -= 1
            if left != right:
                items[left] = items[right]
                left += 1
            while self._compare(items[left], pivot) != 1 and left < right:
                left += 1
            if left != right:
                items[right] = items[left]
                right -= 1
        items[left] = pivot
        pivot_index = left
        if left_hold < pivot_index:
            self._quicksort(items, left_hold, pivot_index - 1)
        if right_hold > pivot_index:
            self._quicksort(items, pivot_index + 1, right_hold)

    def _canonicalize(self, compact: bool) -> None:
        items = [(ace, index) for index, ace in enumerate(self._aces)]
        self._quicksort(items, 0, len(items) - 1)
        self._aces = [ace for ace, _ in items]
        if compact:
            i = 0
            while i < len(self._aces) - 1:
                if self._merge(self._aces[i], self._aces[i + 1]):
                    del self._aces[i + 1]
                i += 1

    @staticmethod
    def _merge(ace: Ace, new: Ace) -> bool:
        """CommonAcl.MergeAces for plain (non-object) DACL ACEs."""
        if ace.allow != new.allow or ace.inherited or new.inherited or ace.sid != new.sid:
            return False
        if ace.flags == new.flags:
            ace.mask |= new.mask
            return True
        if ace.mask == new.mask:
            merged = merge_inheritance_bits(ace.flags, new.flags)
            if merged is not None:
                ace.flags = merged
                return True
        return False

    def _check_flags(self, inheritance: int, propagation: int) -> None:
        if self.is_container:
            if inheritance == 0 and propagation != 0:
                raise argument_error("No flags can be set.", "propagationFlags")
        elif inheritance != 0:
            raise argument_error("No flags can be set.", "inheritanceFlags")
        elif propagation != 0:
            raise argument_error("No flags can be set.", "propagationFlags")

    def add_access(self, allow: bool, sid: str, mask: int, inheritance: int, propagation: int) -> None:
        """DiscretionaryAcl.AddAccess."""
        self._check_flags(inheritance, propagation)
        if not self.canonical:
            raise NOT_CANONICAL
        if mask == 0:
            raise argument_error("Argument cannot be zero.", "accessMask")
        new = Ace(sid, allow, mask, ace_flags(inheritance, propagation))
        if not self._inspect(new):
            return
        for ace in self.aces:
            if self._merge(ace, new):
                return
        self._aces.append(new)
        self._dirty = True

    def remove_access(self, allow: bool, sid: str, mask: int, inheritance: int, propagation: int) -> bool:
        """DiscretionaryAcl.RemoveAccess (CommonAcl.RemoveQualifiedAces): False when the removal is impossible."""
        if mask == 0:
            raise argument_error("Argument cannot be zero.", "accessMask")
        if not self.canonical:
            raise NOT_CANONICAL
        flags = ace_flags(inheritance, propagation)
        for evaluation in (True, False):
            aces = self.aces
            i = 0
            while i < len(aces):
                ace = aces[i]
                if ace.inherited or ace.allow != allow or ace.sid != sid or not ace.mask & mask:
                    i += 1
                    continue
                kept_mask = ace.mask & ~mask
                split_mask = ace.mask & mask
                possible, result_flags, total = remove_inheritance_bits(ace.flags & INHERITANCE_BITS, flags)
                if not possible:
                    return False
                if not evaluation:
                    if kept_mask:
                        ace.mask = kept_mask
                    else:
                        del aces[i]
                        i -= 1
                    if not total:
                        aces.insert(i + 1, Ace(sid, allow, split_mask, result_flags))
                        i += 1
                i += 1
        return True

    def remove_inherited(self) -> None:
        if not self.canonical:
            raise NOT_CANONICAL
        self._aces = [a for a in self.aces if not a.inherited]


# -- FileSecurity / DirectorySecurity ---------------------------------------------------------------------------


class FileSystemSecurity:
    """What Get-Acl returns for a file (FileSecurity) or a directory (DirectorySecurity)."""

    def __init__(self, aces: list[Ace], *, is_container: bool, protected: bool, owner: str | None) -> None:
        self.is_container = is_container
        self.protected = protected
        self.owner = owner
        self.dacl = Dacl(aces, is_container)
        self.modified = False

    def rules(self, explicit: bool = True, inherited: bool = True) -> list[Ace]:
        """GetAccessRules(explicit, inherited, ...): the ACEs in ACL order."""
        return [copy.copy(a) for a in self.dacl.aces if (inherited if a.inherited else explicit)]

    def add_access_rule(self, rule: Ace) -> None:
        self.dacl.add_access(rule.allow, rule.sid, rule.mask, rule.inheritance, rule.propagation)
        self.modified = True

    def remove_access_rule(self, rule: Ace, same_identity: Callable[[str], bool] | None = None) -> bool:
        """FileSystemSecurity.RemoveAccessRule with its Synchronize handling."""
        matches = same_identity or (lambda sid: sid == rule.sid)
        self.modified = True
        for existing in self.rules(True, True):
            if existing.mask == rule.mask and matches(existing.sid) and existing.allow == rule.allow:
                return self.dacl.remove_access(rule.allow, rule.sid, rule.mask, rule.inheritance, rule.propagation)
        mask = access_mask_from_rights(rule.mask, allow=False)
        return self.dacl.remove_access(rule.allow, rule.sid, mask, rule.inheritance, rule.propagation)

    def set_access_rule_protection(self, protected: bool, preserve: bool) -> None:
        if protected and not preserve:
            self.dacl.remove_inherited()
        self.protected = protected
        self.modified = True

    def written_aces(self) -> list[Ace]:
        """The explicit ACEs the file system keeps after Set-Acl / SetAccessControl.

        Inherited ACEs of an unprotected DACL are recomputed from the parent by Windows; those of a protected DACL
        (SetAccessRuleProtection(true, preserve = true)) stay as explicit ACEs.
        """
        out = []
        for ace in self.dacl.aces:
            if ace.inherited and not self.protected:
                continue
            out.append(Ace(ace.sid, ace.allow, ace.mask, ace.flags & ~INHERITED))
        return out


# -- inheritance ------------------------------------------------------------------------------------------------


CREATOR_SIDS = {"S-1-3-0": "CREATOR OWNER", "S-1-3-1": "CREATOR GROUP"}
GENERIC_RIGHTS = 0xF0000000


def inherit(parent: list[Ace], child_is_container: bool) -> list[Ace]:
    """The ACEs a new or unprotected child gets from its parent's effective ACL.

    Windows substitutes the creator for CREATOR OWNER / CREATOR GROUP entries and maps generic rights when they
    are inherited; the lab does not, so such inheritable entries are NotSimulated."""
    out = []
    for ace in parent:
        if ace.flags & (OI | CI) and (ace.sid in CREATOR_SIDS or ace.mask & GENERIC_RIGHTS):
            what = CREATOR_SIDS.get(ace.sid, "generic rights")
            raise NotSimulated(f"inheritance of {what} entries (owner substitution / generic rights mapping)")
        if child_is_container:
            if ace.flags & CI:
                flags = INHERITED if ace.flags & NP else (ace.flags & (OI | CI)) | INHERITED
            elif ace.flags & OI and not ace.flags & NP:
                flags = OI | IO | INHERITED
            else:
                continue
        elif ace.flags & OI:
            flags = INHERITED
        else:
            continue
        out.append(Ace(ace.sid, ace.allow, ace.mask, flags))
    return out


# -- icacls -----------------------------------------------------------------------------------------------------

ICACLS_SIMPLE = {"F": 0x1F01FF, "M": 0x1301BF, "RX": 0x1200A9, "R": 0x120089, "W": 0x120116}
ICACLS_SPECIFIC = [
    ("DE", 0x10000),
    ("RC", 0x20000),
    ("WDAC", 0x40000),
    ("WO", 0x80000),
    ("S", 0x100000),
    ("AS", 0x1000000),
    ("MA", 0x2000000),
    ("GR", 0x80000000),
    ("GW", 0x40000000),
    ("GE", 0x20000000),
    ("GA", 0x10000000),
    ("RD", 0x1),
    ("WD", 0x2),
    ("AD", 0x4),
    ("REA", 0x8),
    ("WEA", 0x10),
    ("X", 0x20),
    ("DC", 0x40),
    ("RA", 0x80),
    ("WA", 0x100),
]


def icacls_rights(mask: int) -> str:
    """The rights part of an icacls line: a simple right or R/RX with W when the mask is exactly that, else the
    comma separated list of specific rights (RD,WD,AD,...)."""
    mask &= 0xFFFFFFFF
    for name in ("F", "M"):
        if mask == ICACLS_SIMPLE[name]:
            return name
    for read in ("RX", "R", ""):
        for write in ("W", ""):
            names = [n for n in (read, write) if n]
            if names and mask == _union(names):
                return ",".join(names)
    return ",".join(code for code, bit in ICACLS_SPECIFIC if mask & bit)


def _union(names: list[str]) -> int:
    total = 0
    for name in names:
        total |= ICACLS_SIMPLE[name]
    return total


def icacls_flags(ace: Ace) -> str:
    out = "(I)" if ace.inherited else ""
    for bit, code in ((OI, "(OI)"), (CI, "(CI)"), (NP, "(NP)"), (IO, "(IO)")):
        if ace.flags & bit:
            out += code
    return out + ("" if ace.allow else "(DENY)")


# -- serialisation in the lab state -----------------------------------------------------------------------------


def to_state(ace: Ace) -> dict[str, object]:
    return {
        "sid": ace.sid,
        "type": "allow" if ace.allow else "deny",
        "rights": FILE_SYSTEM_RIGHTS.format(ace.mask),
        "inherit": INHERITANCE_FLAGS.format(ace.inheritance),
        "propagation": PROPAGATION_FLAGS.format(ace.propagation),
    }


def from_state(entry: dict[str, object]) -> Ace:
    inheritance = INHERITANCE_FLAGS.parse(str(entry.get("inherit") or "None"))
    propagation = PROPAGATION_FLAGS.parse(str(entry.get("propagation") or "None"))
    return Ace(
        str(entry["sid"]),
        str(entry.get("type", "allow")).lower() == "allow",
        FILE_SYSTEM_RIGHTS.parse(str(entry["rights"])) & 0xFFFFFFFF,
        ace_flags(inheritance, propagation),
    )

"""System.Security.Principal and System.Security.AccessControl objects for file-system ACLs.

SecurityIdentifier / NTAccount translate through lab.windows.accounts (LookupAccountName / LookupAccountSid);
FileSystemAccessRule and DirectorySecurity / FileSecurity follow .NET through lab.windows.acl. Registry and
certificate-key ACL types are not registered, so using them is NotSimulated.
"""

from __future__ import annotations

from typing import Any

from lab.windows import accounts
from lab.windows.acl import (
    Ace,
    DotNetException,
    FileSystemSecurity,
    access_mask_from_rights,
    ace_flags,
    check_rule,
)
from lab.windows.netenum import (
    ACCESS_CONTROL_SECTIONS,
    ACCESS_CONTROL_TYPE,
    FILE_SYSTEM_RIGHTS,
    INHERITANCE_FLAGS,
    PROPAGATION_FLAGS,
    WELL_KNOWN_SID_TYPE,
    WELL_KNOWN_SIDS,
    CastError,
    EnumType,
    int32,
)
from lab.windows.powershell import types as pstypes
from lab.windows.powershell.errors import NotSimulated
from lab.windows.powershell.values import DotNetObject, EnumValue, to_string

NOT_MAPPED = "System.Security.Principal.IdentityNotMappedException"
SID_TYPE = "System.Security.Principal.SecurityIdentifier"
ACCOUNT_TYPE = "System.Security.Principal.NTAccount"


def _enum_arg(enum: EnumType, value: Any) -> int:
    """A method argument converted to an enum parameter, as PowerShell's binder does."""
    if isinstance(value, EnumValue):
        return value.value
    try:
        return enum.convert(value)
    except CastError as exc:
        raise DotNetException("System.Management.Automation.PSInvalidCastException", str(exc)) from exc


class SecurityIdentifier(DotNetObject):
    TYPE = SID_TYPE
    DISPLAY = ("BinaryLength", "AccountDomainSid", "Value")

    def __init__(self, state: dict[str, Any], sid: str) -> None:
        self.state = state
        self.sid = sid

    def p_value(self) -> str:
        return self.sid

    def p_binarylength(self) -> int:
        return 8 + 4 * (len(self.sid.split("-")) - 3)

    def p_accountdomainsid(self) -> SecurityIdentifier | None:
        parts = self.sid.split("-")
        if parts[2:4] == ["5", "21"] and len(parts) >= 8:
            return SecurityIdentifier(self.state, "-".join(parts[:7]))
        return None

    def to_string(self) -> str:
        return self.sid

    def equals(self, other: Any) -> bool:
        if isinstance(other, SecurityIdentifier):
            return other.sid == self.sid
        if isinstance(other, str):
            return accounts.parse_sid(other) == self.sid
        return False

    def m_translate(self, args: list[Any]) -> Any:
        target = args[0]
        if isinstance(target, pstypes.TypeInfo) and target.full_name == SID_TYPE:
            return SecurityIdentifier(self.state, self.sid)
        if isinstance(target, pstypes.TypeInfo) and target.full_name == ACCOUNT_TYPE:
            name = accounts.name_of(self.state, self.sid)
            if name is None:
                raise DotNetException(NOT_MAPPED, accounts.NOT_TRANSLATED)
            return NTAccount(self.state, name)
        raise NotSimulated(f"SecurityIdentifier.Translate({to_string(target)})")

    def m_compareto(self, args: list[Any]) -> int:
        from lab.windows.acl import compare_sids

        return compare_sids(self.sid, to_string(args[0]))


class NTAccount(DotNetObject):
    TYPE = ACCOUNT_TYPE
    DISPLAY = ("Value",)

    def __init__(self, state: dict[str, Any], value: str) -> None:
        self.state = state
        self.value = value

    def p_value(self) -> str:
        return self.value

    def to_string(self) -> str:
        return self.value

    def equals(self, other: Any) -> bool:
        if isinstance(other, (NTAccount, str)):
            return to_string(other).lower() == self.value.lower()
        return False

    def m_translate(self, args: list[Any]) -> Any:
        target = args[0]
        if isinstance(target, pstypes.TypeInfo) and target.full_name == ACCOUNT_TYPE:
            return NTAccount(self.state, self.value)
        if isinstance(target, pstypes.TypeInfo) and target.full_name == SID_TYPE:
            try:
                return SecurityIdentifier(self.state, accounts.lookup(self.state, self.value))
            except accounts.AccountNotFound as exc:
                raise DotNetException(NOT_MAPPED, accounts.NOT_TRANSLATED) from exc
        raise NotSimulated(f"NTAccount.Translate({to_string(target)})")


def identity_sid(identity: Any) -> str:
    """IdentityReference.Translate(SecurityIdentifier).Value (throws IdentityNotMappedException)."""
    if isinstance(identity, SecurityIdentifier):
        return identity.sid
    if isinstance(identity, NTAccount):
        return identity.m_translate([pstypes.find(SID_TYPE)]).sid
    raise NotSimulated(f"an identity reference of type {type(identity).__name__}")


def identity_for(state: dict[str, Any], sid: str, kind: str) -> SecurityIdentifier | NTAccount:
    """The rule identity GetAccessRules gives for a target type: untranslatable SIDs stay SecurityIdentifier."""
    if kind == ACCOUNT_TYPE:
        name = accounts.name_of(state, sid)
        if name is not None:
            return NTAccount(state, name)
    return SecurityIdentifier(state, sid)


class WindowsIdentity(DotNetObject):
    TYPE = "System.Security.Principal.WindowsIdentity"
    DISPLAY = ("Name", "User", "IsSystem", "IsAnonymous")

    def __init__(self, ctx: Any) -> None:
        self.state = ctx.state
        self.user = ctx.user

    def p_user(self) -> SecurityIdentifier:
        return SecurityIdentifier(self.state, accounts.to_sid(self.state, self.user))

    def p_name(self) -> str:
        return accounts.display(self.state, accounts.to_sid(self.state, self.user))

    def p_issystem(self) -> bool:
        return False

    def p_isanonymous(self) -> bool:
        return False


class FileSystemAccessRule(DotNetObject):
    TYPE = "System.Security.AccessControl.FileSystemAccessRule"
    DISPLAY = (
        "FileSystemRights", "AccessControlType", "IdentityReference", "IsInherited", "InheritanceFlags",
        "PropagationFlags",
    )  # fmt: skip

    def __init__(self, identity: Any, mask: int, inherited: bool, inheritance: int, propagation: int,
                 allow: bool) -> None:
        self.identity = identity
        self.mask = mask & 0xFFFFFFFF
        self.inherited = inherited
        self.inheritance = inheritance
        self.propagation = propagation
        self.allow = allow

    def p_filesystemrights(self) -> EnumValue:
        return EnumValue(FILE_SYSTEM_RIGHTS, int32(self.mask))

    def p_accesscontroltype(self) -> EnumValue:
        return EnumValue(ACCESS_CONTROL_TYPE, 0 if self.allow else 1)

    def p_identityreference(self) -> Any:
        return self.identity

    def p_isinherited(self) -> bool:
        return self.inherited

    def p_inheritanceflags(self) -> EnumValue:
        return EnumValue(INHERITANCE_FLAGS, self.inheritance)

    def p_propagationflags(self) -> EnumValue:
        return EnumValue(PROPAGATION_FLAGS, self.propagation)

    def ace(self) -> Ace:
        return Ace(identity_sid(self.identity), self.allow, self.mask, ace_flags(self.inheritance, self.propagation))


def _new_access_rule(ctx: Any, args: list[Any]) -> FileSystemAccessRule:
    if len(args) == 3:
        identity, rights, kind = args
        inheritance = propagation = 0
    elif len(args) == 5:
        identity, rights, inheritance_arg, propagation_arg, kind = args
        inheritance = _enum_arg(INHERITANCE_FLAGS, inheritance_arg)
        propagation = _enum_arg(PROPAGATION_FLAGS, propagation_arg)
    else:
        raise NotSimulated(f"FileSystemAccessRule constructor with {len(args)} arguments")
    if isinstance(identity, str):
        identity = NTAccount(ctx.state, identity)
    elif not isinstance(identity, (SecurityIdentifier, NTAccount)):
        raise NotSimulated(f"FileSystemAccessRule identity of type {type(identity).__name__}")
    allow = _enum_arg(ACCESS_CONTROL_TYPE, kind) == 0
    mask = access_mask_from_rights(_enum_arg(FILE_SYSTEM_RIGHTS, rights), allow)
    check_rule(mask, inheritance, propagation)
    return FileSystemAccessRule(identity, mask, False, inheritance, propagation, allow)


class FileSystemSecurityObject(DotNetObject):
    """DirectorySecurity / FileSecurity (from Get-Acl, GetAccessControl() or New-Object)."""

    DISPLAY = ("Path", "Owner", "Access")

    def __init__(self, ctx: Any, sd: FileSystemSecurity, path: str | None) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.sd = sd
        self.path = path

    @property
    def type_name(self) -> str:
        kind = "DirectorySecurity" if self.sd.is_container else "FileSecurity"
        return f"System.Security.AccessControl.{kind}"

    def p_path(self) -> str | None:
        return f"Microsoft.PowerShell.Core\\FileSystem::{self.path}" if self.path else None

    def p_owner(self) -> str | None:
        return self.sd.owner

    def p_access(self) -> list[FileSystemAccessRule]:
        return self.rules(True, True, ACCOUNT_TYPE)

    def p_accesstostring(self) -> str:
        return "\n".join(
            f"{to_string(r.identity)} {r.p_accesscontroltype().to_string()}  {r.p_filesystemrights().to_string()}"
            for r in self.p_access()
        )

    def p_areaccessrulesprotected(self) -> bool:
        return self.sd.protected

    def p_areaccessrulescanonical(self) -> bool:
        return self.sd.dacl.canonical

    def p_accessrighttype(self) -> pstypes.TypeInfo:
        return pstypes.find(FILE_SYSTEM_RIGHTS.full_name)

    def p_accessruletype(self) -> pstypes.TypeInfo:
        return pstypes.find(FileSystemAccessRule.TYPE)

    def rules(self, explicit: bool, inherited: bool, kind: str) -> list[FileSystemAccessRule]:
        return [
            FileSystemAccessRule(
                identity_for(self.state, ace.sid, kind), ace.mask, ace.inherited, ace.inheritance, ace.propagation,
                ace.allow,
            )
            for ace in self.sd.rules(explicit, inherited)
        ]

    def m_getaccessrules(self, args: list[Any]) -> list[FileSystemAccessRule]:
        from lab.windows.powershell.values import truthy

        target = args[2]
        if not isinstance(target, pstypes.TypeInfo) or target.full_name not in (SID_TYPE, ACCOUNT_TYPE):
            raise NotSimulated(f"GetAccessRules for the identity type {to_string(target)}")
        return self.rules(truthy(args[0]), truthy(args[1]), target.full_name)

    def _rule(self, args: list[Any]) -> FileSystemAccessRule:
        rule = args[0] if args else None
        if not isinstance(rule, FileSystemAccessRule):
            raise NotSimulated(f"an access rule of type {type(rule).__name__}")
        return rule

    def m_addaccessrule(self, args: list[Any]) -> None:
        self.sd.add_access_rule(self._rule(args).ace())

    def m_removeaccessrule(self, args: list[Any]) -> bool:
        rule = self._rule(args)
        ace = rule.ace()
        if isinstance(rule.identity, NTAccount):
            def same(sid: str) -> bool:
                return (accounts.name_of(self.state, sid) or sid).lower() == rule.identity.value.lower()

            return self.sd.remove_access_rule(ace, same)
        return self.sd.remove_access_rule(ace)

    def m_setaccessruleprotection(self, args: list[Any]) -> None:
        from lab.windows.powershell.values import truthy

        self.sd.set_access_rule_protection(truthy(args[0]), truthy(args[1]))


def _new_security(container: bool) -> Any:
    def new(ctx: Any, args: list[Any]) -> FileSystemSecurityObject:
        if args:
            raise NotSimulated("DirectorySecurity / FileSecurity constructors with arguments (use Get-Acl)")
        return FileSystemSecurityObject(
            ctx, FileSystemSecurity([], is_container=container, protected=False, owner=None), None
        )

    return new


def _new_sid(ctx: Any, args: list[Any]) -> SecurityIdentifier:
    if len(args) == 1:
        sid = accounts.parse_sid(to_string(args[0]))
        if sid is None:
            raise DotNetException("System.ArgumentException", "Value was invalid.\r\nParameter name: sddlForm")
        return SecurityIdentifier(ctx.state, sid)
    if len(args) == 2:
        kind = _enum_arg(WELL_KNOWN_SID_TYPE, args[0])
        if kind not in WELL_KNOWN_SIDS:
            raise NotSimulated(f"the well-known SID type {WELL_KNOWN_SID_TYPE.format(kind)}")
        return SecurityIdentifier(ctx.state, WELL_KNOWN_SIDS[kind])
    raise NotSimulated(f"SecurityIdentifier constructor with {len(args)} arguments")


def _new_account(ctx: Any, args: list[Any]) -> NTAccount:
    if len(args) == 1:
        return NTAccount(ctx.state, to_string(args[0]))
    if len(args) == 2:
        domain, name = to_string(args[0]), to_string(args[1])
        return NTAccount(ctx.state, f"{domain}\\{name}" if domain else name)
    raise NotSimulated(f"NTAccount constructor with {len(args)} arguments")


def _register() -> None:
    for enum in (FILE_SYSTEM_RIGHTS, INHERITANCE_FLAGS, PROPAGATION_FLAGS, ACCESS_CONTROL_TYPE,
                 ACCESS_CONTROL_SECTIONS, WELL_KNOWN_SID_TYPE):
        pstypes.enum_type(enum)
    pstypes.register(pstypes.TypeInfo(SID_TYPE, new=_new_sid))
    pstypes.register(pstypes.TypeInfo(ACCOUNT_TYPE, new=_new_account))
    pstypes.register(pstypes.TypeInfo(
        "System.Security.Principal.WindowsIdentity", static_methods={"getcurrent": lambda ctx, a: WindowsIdentity(ctx)}
    ))
    pstypes.register(pstypes.TypeInfo(FileSystemAccessRule.TYPE, new=_new_access_rule))
    pstypes.register(pstypes.TypeInfo(
        "System.Security.AccessControl.DirectorySecurity", new=_new_security(True),
        check=lambda v: isinstance(v, FileSystemSecurityObject) and v.sd.is_container,
    ))
    pstypes.register(pstypes.TypeInfo(
        "System.Security.AccessControl.FileSecurity", new=_new_security(False),
        check=lambda v: isinstance(v, FileSystemSecurityObject) and not v.sd.is_container,
    ))
    pstypes.register(pstypes.TypeInfo(
        "System.Security.AccessControl.FileSystemSecurity",
        check=lambda v: isinstance(v, FileSystemSecurityObject),
    ))


_register()

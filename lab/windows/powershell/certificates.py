"""Certificates in PowerShell, over the simulated certificate stores (lab.windows.certstore).

- The Certificate provider (`Cert:` drive), with paths as the real provider has them: `Cert:\\` holds the store
  locations `CurrentUser` and `LocalMachine`, a location holds its system stores (X509Store), a store its
  certificates (X509Certificate2, named by thumbprint). Names compare case-insensitively. Service stores are not on
  the drive (as on Windows). Supported: Test-Path, Get-Item, Get-ChildItem, Remove-Item of a certificate; anything
  else (New-Item of a store, -Recurse, -DeleteKey, ...) is NotSimulated.
- `[X509Certificate2]` (`New-Object`, `.Import(file, password, flags)`), `[RSACertificateExtensions]::
  GetRSAPrivateKey($cert)`: an RSACryptoServiceProvider for a CAPI key (`CspKeyContainerInfo.Exportable`), an RSACng
  for a CNG key (`Key.ExportPolicy`).
- `New-SelfSignedCertificate -DnsName ... [-Subject] [-KeyExportPolicy] [-Provider] [-CertStoreLocation]`
  (certstore.new_self_signed: the cmdlet's defaults).
"""

from __future__ import annotations

from typing import Any

from lab.windows import certstore, filestore, transfer
from lab.windows.acl import DotNetException
from lab.windows.netenum import EnumType
from lab.windows.powershell import types as pstypes
from lab.windows.powershell.commands import Call, Param, cmdlet
from lab.windows.powershell.errors import NotSimulated
from lab.windows.powershell.providers import Provider, ProviderInfo, item_not_found, provider, resolve
from lab.windows.powershell.values import DotNetObject, EnumValue, enumerate_value, to_string

MODULE = "Microsoft.PowerShell.Security"


def _parts(path: str) -> list[str]:
    return [p for p in path.split("\\") if p]


def _location(name: str) -> str | None:
    return next((loc for loc in certstore.LOCATIONS if loc.lower() == name.lower()), None)


def _store(ctx: Any, parts: list[str]) -> str | None:
    """The stored id of the store named by `<location>\\<store>` (None when it does not exist)."""
    location = _location(parts[0])
    return certstore.find_store(ctx.state, f"{location}\\{parts[1]}") if location else None


def _record(ctx: Any, sid: str, thumbprint: str) -> dict[str, Any] | None:
    return next((r for r in certstore.certificates(ctx.state, sid) if r["thumbprint"].lower() == thumbprint.lower()),
                None)


class X509StoreLocation(DotNetObject):
    """What Get-Item / Get-ChildItem give for `Cert:\\LocalMachine` (Microsoft.PowerShell.Commands)."""

    TYPE = "Microsoft.PowerShell.Commands.X509StoreLocation"
    DISPLAY = ("Location", "StoreNames")

    def __init__(self, ctx: Any, location: str) -> None:
        self.ctx, self.location = ctx, location

    def p_location(self) -> str:
        return self.location

    def p_storenames(self) -> list[str]:
        return [sid.split("\\", 1)[1] for sid in self.ctx.state["certificates"] if sid.split("\\")[0] == self.location]

    def p_pschildname(self) -> str:
        return self.location

    def p_psiscontainer(self) -> bool:
        return True

    def to_string(self) -> str:
        return self.TYPE


class X509Store(DotNetObject):
    TYPE = "System.Security.Cryptography.X509Certificates.X509Store"
    DISPLAY = ("Name", "Location")

    def __init__(self, sid: str) -> None:
        self.sid = sid

    def p_name(self) -> str:
        return self.sid.split("\\", 1)[1]

    def p_location(self) -> str:
        return self.sid.split("\\", 1)[0]

    def p_pschildname(self) -> str:
        return self.p_name()

    def p_psiscontainer(self) -> bool:
        return True

    def to_string(self) -> str:
        return self.TYPE


X509 = "System.Security.Cryptography.X509Certificates."
CAPI_PROVIDERS = {certstore.DEFAULT_PROVIDER, "Microsoft RSA SChannel Cryptographic Provider",
                  "Microsoft Strong Cryptographic Provider", "Microsoft Base Cryptographic Provider v1.0",
                  "Microsoft Enhanced RSA and AES Cryptographic Provider"}  # fmt: skip
CNG_EXPORT_POLICIES = EnumType(
    "System.Security.Cryptography.CngExportPolicies",
    [("None", 0), ("AllowExport", 1), ("AllowPlaintextExport", 2), ("AllowArchiving", 4),
     ("AllowPlaintextArchiving", 8)],
    flags=True,
)  # fmt: skip


class X509Certificate2(DotNetObject):
    """A certificate: a stored one as the provider returns it (with the PS* properties it adds), or one loaded from a
    file (`sid` None). Dates are the record's ISO 8601 strings (on Windows DateTime values). An empty object
    (`New-Object X509Certificate2` before `Import`) has no readable property."""

    TYPE = X509 + "X509Certificate2"
    DISPLAY = ("Subject", "Issuer", "Thumbprint", "FriendlyName", "NotBefore", "NotAfter")

    def __init__(self, sid: str | None, record: dict[str, Any] | None, ctx: Any = None) -> None:
        self.sid, self._record, self.ctx = sid, record, ctx

    @property
    def record(self) -> dict[str, Any]:
        if self._record is None:
            raise DotNetException("System.Security.Cryptography.CryptographicException",
                                  "m_safeCertContext is an invalid handle.")
        return self._record

    def m_import(self, args: list[Any]) -> None:
        """Import(fileName[, password[, keyStorageFlags]]): the file's certificate; of a PFX the one with the key."""
        if not args or len(args) > 3 or not isinstance(args[0], str):
            raise NotSimulated("X509Certificate2.Import other than (fileName[, password[, flags]])")
        path = resolve(self.ctx, args[0]).path
        found = filestore.find(self.ctx.state, path)
        if found is None or found[1].get("type") == "directory":
            raise DotNetException("System.Security.Cryptography.CryptographicException",
                                  "The system cannot find the file specified.\r\n")
        password = None if len(args) < 2 or args[1] is None else to_string(args[1])
        try:
            loaded = certstore.load_file(transfer.content_bytes(found[1]), password)
        except certstore.CertLoadError as exc:
            raise DotNetException("System.Security.Cryptography.CryptographicException", str(exc)) from exc
        chosen = next((item for item in loaded if item[1] is not None), loaded[0])
        self._record = certstore.record_from_loaded(chosen)

    def p_thumbprint(self) -> str:
        return str(self.record["thumbprint"])

    def p_subject(self) -> str:
        return str(self.record["subject"])

    def p_issuer(self) -> str:
        return str(self.record["issuer"])

    def p_friendlyname(self) -> str:
        return str(self.record.get("friendly_name", ""))

    def p_notbefore(self) -> str:
        return str(self.record["not_before"])

    def p_notafter(self) -> str:
        return str(self.record["not_after"])

    def p_serialnumber(self) -> str:
        return str(self.record.get("serial_number", ""))

    def p_hasprivatekey(self) -> bool:
        return bool(self.record.get("has_private_key"))

    def p_archived(self) -> bool:
        return False

    def p_version(self) -> int:
        return 3

    def p_dnsnamelist(self) -> list[str]:
        return certstore.dns_names(self.record)

    def p_pspath(self) -> str:
        return f"{MODULE}\\Certificate::{self.sid}\\{self.p_thumbprint()}"

    def p_psparentpath(self) -> str:
        return f"{MODULE}\\Certificate::{self.sid}"

    def p_pschildname(self) -> str:
        return self.p_thumbprint()

    def p_psiscontainer(self) -> bool:
        return False

    def p_psprovider(self) -> ProviderInfo:
        return ProviderInfo("Certificate", MODULE)

    def to_string(self) -> str:
        raise NotSimulated("X509Certificate2.ToString() (its dates in the culture's format)")

    def equals(self, other: Any) -> bool:
        return isinstance(other, X509Certificate2) and other.p_thumbprint() == self.p_thumbprint()


@provider
class CertificateProvider(Provider):
    name = "Certificate"
    module = MODULE

    def native_path(self, path: str) -> str:
        return "\\".join(_parts(path))

    def from_native(self, path: str) -> str:
        return "\\" + "\\".join(_parts(path))

    def exists(self, ctx: Any, path: str) -> bool:
        parts = _parts(path)
        if len(parts) <= 1:
            return not parts or _location(parts[0]) is not None
        sid = _store(ctx, parts)
        if sid is None or len(parts) > 3:
            return False
        return len(parts) == 2 or _record(ctx, sid, parts[2]) is not None

    def is_container(self, ctx: Any, path: str) -> bool:
        return len(_parts(path)) < 3

    def item(self, ctx: Any, path: str) -> Any:
        if not self.exists(ctx, path):
            raise item_not_found(path)
        parts = _parts(path)
        if not parts:
            raise NotSimulated("Get-Item Cert:\\ (the drive's root item)")
        if len(parts) == 1:
            return X509StoreLocation(ctx, _location(parts[0]) or parts[0])
        sid = _store(ctx, parts)
        assert sid is not None
        if len(parts) == 2:
            return X509Store(sid)
        record = _record(ctx, sid, parts[2])
        assert record is not None
        return X509Certificate2(sid, record)

    def children(self, ctx: Any, path: str) -> list[str]:
        parts = _parts(path)
        if not parts:
            return [f"\\{loc}" for loc in certstore.LOCATIONS]
        if len(parts) == 1:
            location = _location(parts[0])
            return [f"\\{sid}" for sid in ctx.state["certificates"] if sid.split("\\")[0] == location]
        sid = _store(ctx, parts)
        return [f"\\{sid}\\{r['thumbprint']}" for r in certstore.certificates(ctx.state, sid)] if sid else []

    def remove(self, ctx: Any, path: str, recurse: bool) -> None:
        parts = _parts(path)
        if len(parts) != 3:
            raise NotSimulated(f"Remove-Item of a certificate store or location ({path})")
        sid = _store(ctx, parts)
        record = _record(ctx, sid, parts[2]) if sid else None
        if sid is None or record is None:
            raise item_not_found(path)
        certstore.remove(ctx.state, sid, record)


def _new_certificate(ctx: Any, args: list[Any]) -> X509Certificate2:
    if args:
        raise NotSimulated("New-Object X509Certificate2 with constructor arguments (use .Import)")
    return X509Certificate2(None, None, ctx)


class RSACryptoServiceProvider(DotNetObject):
    """A CAPI private key (RSACertificateExtensions.GetRSAPrivateKey of a key in a CSP)."""

    TYPE = "System.Security.Cryptography.RSACryptoServiceProvider"

    def __init__(self, key: dict[str, Any]) -> None:
        self.key = key

    def p_cspkeycontainerinfo(self) -> CspKeyContainerInfo:
        return CspKeyContainerInfo(self.key)


class CspKeyContainerInfo(DotNetObject):
    TYPE = "System.Security.Cryptography.CspKeyContainerInfo"
    DISPLAY = ("Exportable", "ProviderName", "MachineKeyStore")

    def __init__(self, key: dict[str, Any]) -> None:
        self.key = key

    def p_exportable(self) -> bool:
        return bool(self.key.get("exportable", True))

    def p_providername(self) -> str:
        return str(self.key.get("provider"))

    def p_machinekeystore(self) -> bool:
        return self.key.get("storage") == "machine"


class RSACng(DotNetObject):
    """A CNG private key; `.Key` is its CngKey."""

    TYPE = "System.Security.Cryptography.RSACng"

    def __init__(self, key: dict[str, Any]) -> None:
        self.key = key

    def p_key(self) -> CngKey:
        return CngKey(self.key)


class CngKey(DotNetObject):
    TYPE = "System.Security.Cryptography.CngKey"
    DISPLAY = ("ExportPolicy", "Provider")

    def __init__(self, key: dict[str, Any]) -> None:
        self.key = key

    def p_exportpolicy(self) -> EnumValue:
        # New-SelfSignedCertificate -KeyExportPolicy Exportable: AllowExport; NonExportable: None
        return EnumValue(CNG_EXPORT_POLICIES, 1 if self.key.get("exportable", True) else 0)

    def p_provider(self) -> str:
        return str(self.key.get("provider"))


def _rsa_private_key(ctx: Any, args: list[Any]) -> Any:
    """RSACertificateExtensions.GetRSAPrivateKey(cert): $null without a private key."""
    if len(args) != 1 or not isinstance(args[0], X509Certificate2):
        raise NotSimulated("GetRSAPrivateKey of anything but one X509Certificate2")
    record = args[0].record
    key = record.get("key")
    if not record.get("has_private_key") or not key:
        return None
    return RSACryptoServiceProvider(key) if key.get("provider") in CAPI_PROVIDERS else RSACng(key)


pstypes.register(pstypes.TypeInfo(X509 + "X509Certificate2", new=_new_certificate))
pstypes.register(pstypes.TypeInfo(X509 + "RSACertificateExtensions",
                                  static_methods={"getrsaprivatekey": _rsa_private_key}))
for _info in (RSACryptoServiceProvider, RSACng, CspKeyContainerInfo, CngKey):
    pstypes.register(pstypes.TypeInfo(_info.TYPE))
pstypes.enum_type(CNG_EXPORT_POLICIES)


@cmdlet("New-SelfSignedCertificate", Param("DnsName"), Param("Subject"), Param("KeyExportPolicy"),
        Param("Provider"), Param("CertStoreLocation"))
def new_self_signed_certificate(call: Call) -> list[Any]:
    """The cmdlet with its defaults (certstore.new_self_signed): RSA 2048, SHA-256, one year, LocalMachine\\My."""
    names = [to_string(n) for n in enumerate_value(call.get("DnsName"))] if call.has("DnsName") else []
    if not names:
        raise NotSimulated("New-SelfSignedCertificate without -DnsName")
    location = resolve(call.ctx, to_string(call.get("CertStoreLocation", "Cert:\\LocalMachine\\My")))
    if location.provider.name != "Certificate" or len(location.path.strip("\\").split("\\")) != 2:
        raise NotSimulated(f"New-SelfSignedCertificate -CertStoreLocation {location.path} (not a store)")
    options: dict[str, Any] = {"store": location.path.strip("\\")}
    if call.has("KeyExportPolicy"):
        policy = to_string(call.get("KeyExportPolicy"))
        if policy.lower() not in ("exportable", "nonexportable", "exportableencrypted"):
            call.fail(f"Cannot bind parameter 'KeyExportPolicy'. Cannot convert value \"{policy}\" to type "
                      '"Microsoft.CertificateServices.Commands.KeyExportPolicy".', category="InvalidArgument")
        options["key_export_policy"] = policy
    if call.has("Provider"):
        options["provider"] = to_string(call.get("Provider"))
    try:
        record = certstore.new_self_signed(call.state, names, subject=to_string(call.get("Subject")) or None,
                                           **options)
    except LookupError as exc:
        call.fail(str(exc), exception_type="System.Management.Automation.ItemNotFoundException",
                  category="ObjectNotFound")
    sid = certstore.find_store(call.state, options["store"])
    return [X509Certificate2(sid, record)]

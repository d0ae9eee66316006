"""The simulated certificate stores: records, stores, file import/export and the views Windows gives of them.

State: `state["certificates"]` maps a store id to its certificates. Store ids: `LocalMachine\\My`,
`CurrentUser\\TrustedPeople`, `Service\\WinRM\\My` (a service store). A store exists when its id is a key (the
default system stores exist; service stores exist once registered). A certificate is a record:

    {thumbprint, subject, issuer, friendly_name, not_before, not_after, serial_number,
     der (base64, absent for a certificate given by metadata only), has_private_key,
     key: {pkcs8 (base64), exportable, storage, provider} (when the private key is known)}

Real certificate bytes are parsed with `cryptography`; the thumbprint is the SHA-1 of the DER. Names, dates and
extensions are rendered the way .NET Framework's X509Certificate2 shows them. On Windows the system stores live
in the registry; `registry_view` gives the keys Windows would show for them (read by regstore).
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import ipaddress
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtensionOID, NameOID

LOCATIONS = ("CurrentUser", "LocalMachine")  # [System.Security.Cryptography.X509Certificates.StoreLocation]
DEFAULT_STORES = {
    "LocalMachine": [
        "AuthRoot", "CA", "ClientAuthIssuer", "Disallowed", "My", "Remote Desktop", "REQUEST", "Root",
        "SmartCardRoot", "Trust", "TrustedDevices", "TrustedPeople", "TrustedPublisher", "WebHosting",
    ],
    "CurrentUser": [
        "ACRS", "AuthRoot", "CA", "ClientAuthIssuer", "Disallowed", "My", "REQUEST", "Root", "SmartCardRoot",
        "Trust", "TrustedPeople", "TrustedPublisher", "UserDS",
    ],
}  # fmt: skip
# The stores win_certificate_store registers for a service (what mmc creates for a service account).
SERVICE_STORES = [
    "AuthRoot", "CA", "ClientAuthIssuer", "Disallowed", "My", "Root", "Trust", "TrustedPeople", "TrustedPublisher",
]  # fmt: skip
PREDEFINED_STORES = SERVICE_STORES  # assumption: the names crypt32 knows without registration (My, Root, CA, ...)
REGISTRY_ROOTS = {
    "LocalMachine": "HKLM:\\SOFTWARE\\Microsoft\\SystemCertificates",
    "CurrentUser": "HKCU:\\Software\\Microsoft\\SystemCertificates",
    "Service": "HKLM:\\SOFTWARE\\Microsoft\\Cryptography\\Services\\{service}\\SystemCertificates",
}
DEFAULT_PROVIDER = "Microsoft Enhanced Cryptographic Provider v1.0"  # PFX import without a CSP name (CAPI)
KSP_PROVIDER = "Microsoft Software Key Storage Provider"
SPEC_FIELDS = {
    "thumbprint", "subject", "issuer", "friendly_name", "dns_names", "intended_purposes", "has_private_key",
    "key_exportable", "not_before", "not_after", "serial_number", "store", "pem",
}  # fmt: skip
WRONG_PASSWORD = "The specified network password is not correct.\r\n"
NOT_FOUND = "Cannot find the requested object.\r\n"
BAD_KEY_STATE = "Key not valid for use in specified state.\r\n"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

# CertNameToStr (CERT_X500_NAME_STR) attribute keys.
_X500_KEYS = {
    "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.10": "O", "2.5.4.11": "OU", "1.2.840.113549.1.9.1": "E",
    "2.5.4.6": "C", "2.5.4.8": "S", "2.5.4.9": "STREET", "2.5.4.12": "T", "2.5.4.42": "G", "2.5.4.43": "I",
    "2.5.4.4": "SN", "0.9.2342.19200300.100.1.25": "DC", "2.5.4.5": "SERIALNUMBER", "2.5.4.17": "PostalCode",
    "2.5.4.13": "Description", "2.5.4.18": "POBox", "2.5.4.20": "Phone",
}  # fmt: skip
_SIGNATURE_NAMES = {
    "1.2.840.113549.1.1.4": "md5RSA", "1.2.840.113549.1.1.5": "sha1RSA", "1.2.840.113549.1.1.11": "sha256RSA",
    "1.2.840.113549.1.1.12": "sha384RSA", "1.2.840.113549.1.1.13": "sha512RSA",
    "1.2.840.113549.1.1.10": "RSASSA-PSS", "1.2.840.10045.4.1": "sha1ECDSA", "1.2.840.10045.4.3.2": "sha256ECDSA",
    "1.2.840.10045.4.3.3": "sha384ECDSA", "1.2.840.10045.4.3.4": "sha512ECDSA",
}  # fmt: skip
_EXTENSION_NAMES = {
    "2.5.29.14": "Subject Key Identifier", "2.5.29.15": "Key Usage", "2.5.29.17": "Subject Alternative Name",
    "2.5.29.18": "Issuer Alternative Name", "2.5.29.19": "Basic Constraints", "2.5.29.31": "CRL Distribution Points",
    "2.5.29.32": "Certificate Policies", "2.5.29.35": "Authority Key Identifier", "2.5.29.37": "Enhanced Key Usage",
    "1.3.6.1.5.5.7.1.1": "Authority Information Access", "1.3.6.1.4.1.311.21.7": "Certificate Template Information",
    "1.3.6.1.4.1.311.21.10": "Application Policies", "1.3.6.1.4.1.311.20.2": "Certificate Template Name",
}  # fmt: skip
_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "Server Authentication", "1.3.6.1.5.5.7.3.2": "Client Authentication",
    "1.3.6.1.5.5.7.3.3": "Code Signing", "1.3.6.1.5.5.7.3.4": "Secure Email", "1.3.6.1.5.5.7.3.8": "Time Stamping",
    "1.3.6.1.5.5.7.3.9": "OCSP Signing", "1.3.6.1.4.1.311.10.3.4": "Encrypting File System",
    "1.3.6.1.4.1.311.20.2.2": "Smart Card Logon", "1.3.6.1.5.2.3.5": "KDC Authentication",
    "1.3.6.1.4.1.311.10.3.12": "Document Signing", "2.5.29.37.0": "Any Purpose",
}  # fmt: skip
# X509KeyUsageFlags in ascending value order (the order Enum.ToString lists flags), with CryptFormatObject words.
_KEY_USAGES = [
    ("encipher_only", "EncipherOnly", "Encipher Only"),
    ("crl_sign", "CrlSign", "Off-line CRL Signing, CRL Signing"),
    ("key_cert_sign", "KeyCertSign", "Certificate Signing"),
    ("key_agreement", "KeyAgreement", "Key Agreement"),
    ("data_encipherment", "DataEncipherment", "Data Encipherment"),
    ("key_encipherment", "KeyEncipherment", "Key Encipherment"),
    ("content_commitment", "NonRepudiation", "Non-Repudiation"),
    ("digital_signature", "DigitalSignature", "Digital Signature"),
    ("decipher_only", "DecipherOnly", "Decipher Only"),
]
_FORMAT_ORDER = [7, 6, 5, 4, 3, 2, 1, 0, 8]  # CryptFormatObject lists digitalSignature first


class CertLoadError(ValueError):
    """X509Certificate2Collection.Import failed (a CryptographicException); str() is the .NET message."""


class CertExportError(ValueError):
    """X509Certificate2Collection.Export failed (a CryptographicException); str() is the .NET message."""


# -- stores ------------------------------------------------------------------------------------------------------
def store_id(location: str, name: str, service: str | None = None) -> str:
    return f"Service\\{service}\\{name}" if service else f"{location}\\{name}"


def default_stores() -> dict[str, list[dict[str, Any]]]:
    return {store_id(loc, name): [] for loc, names in DEFAULT_STORES.items() for name in names}


def find_store(state: dict[str, Any], wanted: str) -> str | None:
    """The stored id of a store (store names compare case-insensitively, like their registry keys)."""
    return next((sid for sid in state["certificates"] if sid.lower() == wanted.lower()), None)


def open_store(state: dict[str, Any], sid: str) -> str | None:
    """CertOpenStore(CERT_STORE_PROV_SYSTEM, CERT_STORE_OPEN_EXISTING_FLAG): a registered store, or one of the
    predefined system store names (crypt32 opens those for any location or service even before their registry
    key exists). None: ERROR_FILE_NOT_FOUND."""
    found = find_store(state, sid)
    if found is not None:
        return found
    return sid if sid.rsplit("\\", 1)[-1].lower() in {n.lower() for n in PREDEFINED_STORES} else None


def create_store(state: dict[str, Any], sid: str) -> str:
    """CertRegisterSystemStore / a store opened without OpenExistingOnly: the store exists afterwards."""
    found = find_store(state, sid)
    if found is None:
        state["certificates"][sid] = []
        found = sid
    return found


def certificates(state: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    found = find_store(state, sid)
    return state["certificates"][found] if found else []


def decode_thumbprint(value: str) -> bytes:
    """X509Utils.DecodeHexString: whitespace is dropped, a non-hex digit reads as 0xF.., an odd last digit is lost."""

    def nibble(char: str) -> int:
        return int(char, 16) if char in "0123456789abcdefABCDEF" else 0xFF

    text = "".join(c for c in value if not c.isspace())
    return bytes(((nibble(text[i]) << 4) | nibble(text[i + 1])) & 0xFF for i in range(0, len(text) - 1, 2))


def find(records: list[dict[str, Any]], thumbprint: str) -> list[dict[str, Any]]:
    """X509Certificate2Collection.Find(FindByThumbprint, value, $false): CERT_FIND_HASH on the decoded bytes."""
    wanted = decode_thumbprint(thumbprint)
    return [r for r in records if bytes.fromhex(r["thumbprint"]) == wanted]


def add(state: dict[str, Any], sid: str, record: dict[str, Any]) -> None:
    """X509Store.Add: a certificate already in the store is replaced (its key comes with the new one)."""
    records = state["certificates"][find_store(state, sid) or sid]
    for index, existing in enumerate(records):
        if existing["thumbprint"] == record["thumbprint"]:
            records[index] = record
            return
    records.append(record)


def remove(state: dict[str, Any], sid: str, record: dict[str, Any]) -> None:
    records = certificates(state, sid)
    records[:] = [r for r in records if r["thumbprint"] != record["thumbprint"]]


# -- records -----------------------------------------------------------------------------------------------------
def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _quote(value: str) -> str:
    """CertNameToStr quoting: values with special characters or outer spaces go in double quotes."""
    if value == "" or value != value.strip() or any(c in value for c in ',+="\r\n<>#;'):
        return '"' + value.replace('"', '""') + '"'
    return value


def dn_string(name: x509.Name) -> str:
    """X500DistinguishedName.Name (.NET Framework): most specific RDN first, ', ' separated."""
    parts = []
    for rdn in reversed(name.rdns):
        attributes = []
        for attribute in rdn:
            oid = attribute.oid.dotted_string
            key = _X500_KEYS.get(oid, f"OID.{oid}")
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
            attributes.append(f"{key}={_quote(value)}")
        parts.append(" + ".join(attributes))
    return ", ".join(parts)


def _simple_name(name: x509.Name) -> str:
    """GetNameInfo(SimpleName): the CN, else OU, else O, else the e-mail RDN."""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME,
                NameOID.EMAIL_ADDRESS):  # fmt: skip
        values = name.get_attributes_for_oid(oid)
        if values:
            value = values[0].value
            return value if isinstance(value, str) else value.decode("latin-1")
    return ""


def _serial_hex(serial: int) -> str:
    """X509Certificate.SerialNumber: the DER INTEGER content bytes (big-endian, sign byte kept), upper-case hex."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True).hex().upper()


@functools.lru_cache(maxsize=256)
def _x509(der_b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(der_b64))


def record_from_x509(
    cert: x509.Certificate, *, key: Any = None, friendly_name: str = "", exportable: bool = True,
    storage: str = "default", provider: str = DEFAULT_PROVIDER,
) -> dict[str, Any]:  # fmt: skip
    der = cert.public_bytes(serialization.Encoding.DER)
    record: dict[str, Any] = {
        "thumbprint": hashlib.sha1(der).hexdigest().upper(),
        "subject": dn_string(cert.subject),
        "issuer": dn_string(cert.issuer),
        "friendly_name": friendly_name,
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "serial_number": _serial_hex(cert.serial_number),
        "der": base64.b64encode(der).decode("ascii"),
        "has_private_key": key is not None,
    }
    if key is not None:
        pkcs8 = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        record["key"] = {
            "pkcs8": base64.b64encode(pkcs8).decode("ascii"),
            "exportable": exportable,
            "storage": storage,
            "provider": provider,
        }
    return record


def validate_spec_entry(index: int, entry: Any) -> list[str]:
    """Problems of one `certificates:` entry of a scenario host spec (unknown fields, nothing to identify it)."""
    if not isinstance(entry, dict):
        return [f"certificates[{index}] (a mapping)"]
    problems = [f"certificates[{index}].{k}" for k in entry if k not in SPEC_FIELDS]
    if not entry.get("thumbprint") and not entry.get("pem"):
        problems.append(f"certificates[{index}] (needs a thumbprint or a pem)")
    store = str(entry.get("store", "LocalMachine\\My"))
    if store.split("\\")[0] not in LOCATIONS or store.count("\\") != 1:
        problems.append(f"certificates[{index}].store (LocalMachine\\<name> or CurrentUser\\<name>)")
    return problems


def record_from_spec(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(store id, record) for one scenario `certificates:` entry: real bytes (`pem`) or metadata."""
    sid = str(entry.get("store", "LocalMachine\\My"))
    if entry.get("pem"):
        loaded = load_file(str(entry["pem"]).encode("ascii"), None)
        record = record_from_loaded(loaded[0], exportable=bool(entry.get("key_exportable", True)))
        record["friendly_name"] = str(entry.get("friendly_name", ""))
        if entry.get("thumbprint") and decode_thumbprint(str(entry["thumbprint"])).hex().upper() != record[
            "thumbprint"
        ]:
            raise ValueError(f"certificate thumbprint {entry['thumbprint']} does not match its pem")
        return sid, record
    record = {
        "thumbprint": decode_thumbprint(str(entry["thumbprint"])).hex().upper(),
        "subject": str(entry.get("subject", "")),
        "issuer": str(entry.get("issuer", entry.get("subject", ""))),
        "friendly_name": str(entry.get("friendly_name", "")),
        "not_before": str(entry.get("not_before", "2024-01-01T00:00:00Z")),
        "not_after": str(entry.get("not_after", "2030-01-01T00:00:00Z")),
        "serial_number": str(entry.get("serial_number", "01")),
        "has_private_key": bool(entry.get("has_private_key", False)),
        "dns_names": [str(n) for n in entry.get("dns_names") or []],
        "intended_purposes": [str(p) for p in entry.get("intended_purposes") or []],
    }
    if record["has_private_key"]:
        record["key"] = {"exportable": bool(entry.get("key_exportable", True)), "storage": "machine",
                         "provider": KSP_PROVIDER}  # fmt: skip
    return sid, record


# -- files -------------------------------------------------------------------------------------------------------
def _is_pfx(data: bytes) -> bool:
    """A PFX is SEQUENCE { INTEGER 3, ContentInfo ... }."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    offset = 2 + (data[1] & 0x7F if data[1] & 0x80 else 0)
    return data[offset : offset + 3] == b"\x02\x01\x03"


def _load_binary(data: bytes, password: str | None) -> list[tuple[x509.Certificate, Any, str]]:
    if _is_pfx(data):
        candidates = [None, b""] if not password else [password.encode("utf-8")]
        for candidate in candidates:
            try:
                parsed = pkcs12.load_pkcs12(data, candidate)
            except ValueError:
                continue
            loaded = []
            if parsed.cert is not None:
                name = parsed.cert.friendly_name.decode("utf-8") if parsed.cert.friendly_name else ""
                loaded.append((parsed.cert.certificate, parsed.key, name))
            for extra in parsed.additional_certs:
                name = extra.friendly_name.decode("utf-8") if extra.friendly_name else ""
                loaded.append((extra.certificate, None, name))
            return loaded
        raise CertLoadError(WRONG_PASSWORD)
    try:
        return [(x509.load_der_x509_certificate(data), None, "")]
    except ValueError:
        pass
    try:
        return [(c, None, "") for c in pkcs7.load_der_pkcs7_certificates(data)]
    except ValueError:
        pass
    raise CertLoadError(NOT_FOUND)


def load_file(data: bytes, password: str | None) -> list[tuple[x509.Certificate, Any, str]]:
    """X509Certificate2Collection.Import(file, password, flags): [(certificate, private key or None, name)].

    CryptQueryObject accepts DER and base64 (with or without a `-----BEGIN ...-----` header; only the first block
    is read) certificates, PKCS#7 and PFX. A PFX whose password does not match fails with WRONG_PASSWORD; anything
    else unrecognised with NOT_FOUND.
    """
    text = data.decode("ascii", "replace")
    block = re.search(r"-----BEGIN [^-]+-----(.*?)-----END [^-]+-----", text, re.S)
    if block or re.fullmatch(r"[A-Za-z0-9+/=\s]+", text):
        try:
            decoded = base64.b64decode(re.sub(r"\s", "", block.group(1) if block else text), validate=True)
        except ValueError as exc:
            raise CertLoadError(NOT_FOUND) from exc
        if decoded:
            try:
                return _load_binary(decoded, password)
            except CertLoadError as exc:
                if block or str(exc) == WRONG_PASSWORD:
                    raise
    return _load_binary(data, password)


def record_from_loaded(
    loaded: tuple[x509.Certificate, Any, str], *, exportable: bool = True, storage: str = "default"
) -> dict[str, Any]:
    cert, key, name = loaded
    return record_from_x509(cert, key=key, friendly_name=name, exportable=exportable, storage=storage)


def _private_key(record: dict[str, Any]) -> Any:
    key = record.get("key") or {}
    if not key.get("pkcs8"):
        return None
    return serialization.load_der_private_key(base64.b64decode(key["pkcs8"]), None)


def _require_der(record: dict[str, Any]) -> bytes:
    if not record.get("der"):
        raise NotImplementedError(
            f"lab.windows simulator: certificate {record['thumbprint']} is given by metadata only (no pem in the "
            "scenario); exporting its bytes is not simulated"
        )
    return base64.b64decode(record["der"])


def export(record: dict[str, Any], content_type: str, password: str | None) -> bytes:
    """X509Certificate2Collection.Export(Cert|Pkcs12, password) of a one-certificate collection."""
    der = _require_der(record)
    if content_type == "cert":
        return der
    key_info = record.get("key") or {}
    if record.get("has_private_key") and not key_info.get("exportable", True):
        raise CertExportError(BAD_KEY_STATE)
    key = _private_key(record)
    if record.get("has_private_key") and key is None:
        raise NotImplementedError(
            f"lab.windows simulator: certificate {record['thumbprint']} has a private key the lab does not hold "
            "(metadata only); exporting it as PKCS#12 is not simulated"
        )
    encryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    name = record.get("friendly_name", "").encode("utf-8") or None
    return pkcs12.serialize_key_and_certificates(name, key, _x509(record["der"]), None, encryption)


def pem_text(der: bytes) -> bytes:
    """What win_certificate_store writes for file_type=pem (Base64FormattingOptions.InsertLineBreaks, CRLF)."""
    encoded = base64.b64encode(der).decode("ascii")
    lines = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    return f"-----BEGIN CERTIFICATE-----\r\n{lines}\r\n-----END CERTIFICATE-----".encode("ascii")


# -- views -------------------------------------------------------------------------------------------------------
def _hex_spaced(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _general_name(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DNSName):
        return f"DNS Name={name.value}"
    if isinstance(name, x509.RFC822Name):
        return f"RFC822 Name={name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URL={name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP Address={ipaddress.ip_address(name.value)}"
    if isinstance(name, x509.DirectoryName):
        return f"Directory Address:{dn_string(name.value)}"
    return f"Other Name:{name.value!r}"


def _extension(ext: x509.Extension[Any], info: dict[str, Any]) -> dict[str, Any]:
    """One entry of win_certificate_info's `extensions` (Format($false)), filling the typed keys like the module."""
    oid = ext.oid.dotted_string
    value = ext.value
    text: str
    if oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string:
        text = _hex_spaced(value.digest)
        info["ski"] = value.digest.hex().upper()
    elif oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string and value.key_identifier:
        text = f"KeyID={_hex_spaced(value.key_identifier)}"
    elif oid == ExtensionOID.BASIC_CONSTRAINTS.dotted_string:
        limit = "None" if value.path_length is None else str(value.path_length)
        text = f"Subject Type={'CA' if value.ca else 'End Entity'}, Path Length Constraint={limit}"
        info["is_ca"] = value.ca
        info["path_length_constraint"] = value.path_length or 0
    elif oid == ExtensionOID.KEY_USAGE.dotted_string:
        bits = [_key_usage_bit(value, attr) for attr, _, _ in _KEY_USAGES]
        words = [_KEY_USAGES[i][2] for i in _FORMAT_ORDER if bits[i]]
        first = sum(1 << (7 - n) for n, i in enumerate(_FORMAT_ORDER[:8]) if bits[i])
        code = f"{first:02x}" + (" 80" if bits[8] else "")
        text = f"{', '.join(words)} ({code})"
        info["key_usages"] = [flag for (_, flag, _), on in zip(_KEY_USAGES, bits, strict=True) if on] or ["None"]
    elif oid == ExtensionOID.EXTENDED_KEY_USAGE.dotted_string:
        names = [_EKU_NAMES.get(u.dotted_string) for u in value]
        text = ", ".join(f"{n or 'Unknown Key Usage'} ({u.dotted_string})" for n, u in zip(names, value, strict=True))
        info["intended_purposes"] = names
    elif oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string:
        text = ", ".join(_general_name(n) for n in value)
        info["dns_names"].extend(n.value for n in value if isinstance(n, x509.DNSName))
    else:
        text = _hex_spaced(value.public_bytes())
    return {"critical": ext.critical, "field": _EXTENSION_NAMES.get(oid), "value": text}


def _key_usage_bit(value: x509.KeyUsage, attr: str) -> bool:
    if attr in ("encipher_only", "decipher_only"):
        return value.key_agreement and getattr(value, attr)
    return bool(getattr(value, attr))


def _spki_bits(cert: x509.Certificate) -> bytes:
    """X509Certificate.GetPublicKey(): the subjectPublicKey BIT STRING content of the certificate."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    offset = 2 + (spki[1] & 0x7F if spki[1] & 0x80 else 0)  # outer SEQUENCE
    algorithm_length_at = offset + 1
    length, size = _der_length(spki, algorithm_length_at)
    offset = algorithm_length_at + size + length  # skip AlgorithmIdentifier
    length, size = _der_length(spki, offset + 1)
    return spki[offset + 1 + size + 1 : offset + 1 + size + length]  # skip the unused-bits byte


def _der_length(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0x80:
        return first, 1
    count = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), 1 + count


def _seconds(moment: datetime.datetime) -> float:
    return (moment - EPOCH).total_seconds()


def info(record: dict[str, Any]) -> dict[str, Any]:
    """One entry of win_certificate_info's `certificates` (Get-CertificateInfo of win_certificate_info.ps1)."""
    not_before, not_after = _parse_iso(record["not_before"]), _parse_iso(record["not_after"])
    result: dict[str, Any] = {
        "friendly_name": record.get("friendly_name", ""),
        "thumbprint": record["thumbprint"],
        "subject": record["subject"],
        "issuer": record["issuer"],
        "valid_from": _seconds(not_before),
        "valid_from_iso8601": _iso(not_before),
        "valid_to": _seconds(not_after),
        "valid_to_iso8601": _iso(not_after),
        "serial_number": record.get("serial_number", "01"),
        "archived": False,
        "version": 3,
        "has_private_key": bool(record.get("has_private_key")),
        "extensions": [],
    }
    if not record.get("der"):
        result.update(
            issued_by=_simple_from_string(record["issuer"]),
            issued_to=_simple_from_string(record["subject"]),
            signature_algorithm="sha256RSA",
            raw="",
            public_key="",
        )
        result["dns_names"] = [result["issued_to"], *record.get("dns_names", [])]
        if record.get("intended_purposes"):
            result["intended_purposes"] = list(record["intended_purposes"])
        return result
    cert = _x509(record["der"])
    result.update(
        version=cert.version.value + 1,
        issued_by=_simple_name(cert.issuer),
        issued_to=_simple_name(cert.subject),
        signature_algorithm=_SIGNATURE_NAMES.get(cert.signature_algorithm_oid.dotted_string),
        raw=record["der"],
        public_key=base64.b64encode(_spki_bits(cert)).decode("ascii"),
    )
    result["dns_names"] = [result["issued_to"]]
    result["extensions"] = [_extension(ext, result) for ext in cert.extensions]
    return result


def _simple_from_string(dn: str) -> str:
    """GetNameInfo(SimpleName) for a certificate known by its subject string only: the CN, else OU, O, E."""
    parts = dict(reversed([p.strip().split("=", 1) for p in dn.split(",") if "=" in p]))
    return next((parts[k].strip('"') for k in ("CN", "OU", "O", "E") if k in parts), "")


def dns_names(record: dict[str, Any]) -> list[str]:
    if not record.get("der"):
        return list(record.get("dns_names", []))
    try:
        san = _x509(record["der"]).extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return [_simple_name(_x509(record["der"]).subject)]
    return [n.value for n in san.value if isinstance(n, x509.DNSName)]


def _blob(record: dict[str, Any]) -> list[int]:
    """The registry `Blob` of a stored certificate: serialized properties (SHA-1 hash, friendly name, the DER)."""
    elements = [(3, bytes.fromhex(record["thumbprint"]))]
    if record.get("friendly_name"):
        elements.append((11, (record["friendly_name"] + "\0").encode("utf-16-le")))
    if record.get("der"):
        elements.append((32, base64.b64decode(record["der"])))
    data = b"".join(p.to_bytes(4, "little") + b"\x01\0\0\0" + len(v).to_bytes(4, "little") + v for p, v in elements)
    return list(data)


def registry_key(sid: str) -> str:
    """The registry key holding a store (CERT_SYSTEM_STORE_* physical store in the registry)."""
    parts = sid.split("\\")
    if parts[0] == "Service":
        return f"{REGISTRY_ROOTS['Service'].format(service=parts[1])}\\{parts[2]}"
    return f"{REGISTRY_ROOTS[parts[0]]}\\{parts[1]}"


def registry_view(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{registry key: values} of every store and stored certificate, as Windows keeps them."""
    view: dict[str, dict[str, Any]] = {}
    for sid, records in state["certificates"].items():
        base = registry_key(sid)
        for key in (base, f"{base}\\Certificates", f"{base}\\CRLs", f"{base}\\CTLs"):
            view[key] = {}
        for record in records:
            view[f"{base}\\Certificates\\{record['thumbprint']}"] = {
                "Blob": {"type": "binary", "data": _blob(record)}
            }
    return view


def new_self_signed(
    state: dict[str, Any], dns_names_: list[str], *, subject: str | None = None,
    key_export_policy: str = "ExportableEncrypted", provider: str = KSP_PROVIDER,
    store: str = "LocalMachine\\My", valid_days: int = 365,
) -> dict[str, Any]:  # fmt: skip
    """New-SelfSignedCertificate -DnsName ... [-KeyExportPolicy] [-Provider] [-CertStoreLocation]: the defaults of
    the real cmdlet (RSA 2048, SHA-256, CN=<first DNS name>, SAN DNS names, Client+Server Authentication, one year,
    key in the store with the certificate). The PowerShell subset's cmdlet calls it."""
    sid = find_store(state, store)
    if sid is None:
        raise LookupError(f"Cannot find path 'Cert:\\{store}' because it does not exist.")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name.from_rfc4514_string(subject.replace(", ", ",")) if subject else x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, dns_names_[0])]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=10))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH, x509.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names_]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    record = record_from_x509(
        cert, key=key, exportable=key_export_policy.lower() != "nonexportable", storage="machine", provider=provider
    )
    add(state, sid, record)
    return record

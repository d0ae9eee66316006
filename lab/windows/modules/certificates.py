"""win_certificate_store and win_certificate_info, following win_certificate_store.ps1 / win_certificate_info.ps1.

Certificate files are file entries whose bytes came through put_file (win_copy) or an earlier export; they are
parsed with `cryptography` (certstore.load_file).
"""

from __future__ import annotations

from typing import Any

from lab.windows import certstore, filestore, regstore, transfer
from lab.windows.modules import ModuleContext, module, required_if

STORE_NOT_FOUND = "CertOpenStore failed (The system cannot find the file specified, Win32ErrorCode 2 - 0x00000002)"


def _file_bytes(ctx: ModuleContext, path: str) -> bytes | None:
    """The bytes of the file at path, None when it is not a file (Test-Path -PathType Leaf)."""
    found = filestore.find(ctx.state, path)
    if found is None or found[1].get("type") != "file":
        return None
    entry = found[1]
    if "content" not in entry and "content_base64" not in entry:
        ctx.fail(
            f"lab.windows simulator: file {path} has no content in the scenario (give `content`, or copy it with "
            "win_copy); reading a certificate from it is not simulated"
        )
    return transfer.content_bytes(entry)


def _cert_file(ctx: ModuleContext, path: str) -> list[dict[str, Any]]:
    """Get-CertFile (lines 196-225): the certificates of a file, with the key flags of the module options."""
    data = _file_bytes(ctx, path)
    if data is None:
        ctx.fail(f"File at '{path}' either does not exist or is not a file")
        return []
    try:
        loaded = certstore.load_file(data, ctx.params["password"])
    except certstore.CertLoadError as exc:
        ctx.fail(f'Failed to load cert from file: Exception calling "Import" with "3" argument(s): "{exc}"')
        return []
    storage = ctx.params["key_storage"]
    return [
        certstore.record_from_loaded(item, exportable=ctx.params["key_exportable"], storage=storage)
        for item in loaded
    ]


def _file_type(path: str, data: bytes, password: str | None) -> str:
    """Get-CertFileType (lines 281-316)."""
    try:
        loaded = certstore.load_file(data, password)
    except certstore.CertLoadError:
        return "pkcs12"  # "the file is a pkcs12 we just had the wrong password" (any CryptographicException)
    text = data.decode("utf-8", "replace")
    if text.startswith("-----BEGIN CERTIFICATE-----"):
        return "pem"
    if text.startswith("-----BEGIN PKCS7-----"):
        return "pkcs7-ascii"
    if len(loaded) > 1:
        return "pkcs7-binary"
    if loaded[0][1] is not None:
        return "pkcs12"
    if path.endswith(".pfx") or path.endswith(".p12"):
        return "pkcs12"
    return "der"


def _write_file(ctx: ModuleContext, path: str, data: bytes) -> None:
    parent = path.rsplit("\\", 1)[0] if "\\" in path else ""
    found = filestore.find(ctx.state, parent) if parent else None
    if parent and (found is None or found[1].get("type") != "directory"):
        ctx.fail(
            'Failed to write cert to file due to IO Exception: Exception calling "WriteAllBytes" with "2" '
            f"argument(s): \"Could not find a part of the path '{path}'.\""
        )
    transfer.store_bytes(filestore.create(ctx.state, path, "file"), data)


def _new_cert_file(ctx: ModuleContext, record: dict[str, Any], path: str) -> None:
    """New-CertFile (lines 227-279)."""
    file_type, password = ctx.params["file_type"], ctx.params["password"]
    if filestore.find(ctx.state, path) is not None:
        filestore.remove(ctx.state, path)  # Remove-Item runs without -WhatIf: also in check mode (line 235)
        ctx.result["changed"] = True
    try:
        data = certstore.export(record, "pkcs12" if file_type == "pkcs12" else "cert", password)
    except certstore.CertExportError as exc:
        ctx.fail(f'Failed to export certificate as bytes: Exception calling "Export" with "2" argument(s): "{exc}"')
        return
    except NotImplementedError as exc:
        ctx.fail(str(exc))
        return
    if file_type == "pem":
        data = certstore.pem_text(data)
    elif file_type == "pkcs12":
        ctx.result["key_exported"] = False  # sic: the module never sets it to true
        key = record.get("key") or {}
        if record.get("has_private_key") and key.get("provider") != certstore.KSP_PROVIDER:
            ctx.result["key_exportable"] = bool(key.get("exportable"))  # CspKeyContainerInfo: CAPI keys only
    if not ctx.check_mode:
        _write_file(ctx, path, data)
    ctx.result["changed"] = True


def _open_store(ctx: ModuleContext) -> str:
    """Resolve and open the store (lines 331-394); registers a service's stores like the module does."""
    p, state = ctx.params, ctx.state
    store_name = "CA" if p["store_name"].lower() == "certificateauthority" else p["store_name"]
    if p["store_type"] == "system":
        location = next((loc for loc in certstore.LOCATIONS if loc.lower() == p["store_location"].lower()), None)
        if location is None:
            ctx.fail(
                f"value of store_location must be one of: {', '.join(certstore.LOCATIONS)}. Got no match for: "
                f"{p['store_location']}"
            )
        sid = certstore.store_id(str(location), store_name)
    else:
        service = next((n for n in state["services"] if n.lower() == p["store_location"].lower()), None)
        if service is None:
            ctx.fail(f"value of store_location '{p['store_location']}' is not a valid windows service")
        for name in certstore.SERVICE_STORES:
            registered = certstore.store_id("", name, service)
            if not regstore.key_exists(state, certstore.registry_key(registered)):
                if not ctx.check_mode:
                    certstore.create_store(state, registered)  # CertRegisterSystemStore
                ctx.result["changed"] = True
        sid = certstore.store_id("", store_name, service)
    opened = certstore.open_store(state, sid)
    if opened is None:
        ctx.fail(f"unable to find store '{store_name}': ({STORE_NOT_FOUND})")
    return str(opened)


@module("win_certificate_store")
def win_certificate_store(ctx: ModuleContext) -> None:
    required_if(
        ctx,
        [
            ("state", "absent", ("path", "thumbprint"), True),
            ("state", "exported", ("path", "thumbprint"), False),
            ("state", "present", ("path",), False),
        ],
    )
    p, state = ctx.params, ctx.state
    ctx.result["thumbprints"] = []
    sid = _open_store(ctx)
    records = certstore.certificates(state, sid)
    if p["state"] == "absent":
        wanted = [r["thumbprint"] for r in _cert_file(ctx, p["path"])] if p["path"] is not None else [p["thumbprint"]]
        for thumbprint in wanted:
            ctx.result["thumbprints"].append(thumbprint)  # as given: Find ignores whitespace and case
            for found in certstore.find(records, thumbprint):
                if not ctx.check_mode:
                    certstore.remove(state, sid, found)
                ctx.result["changed"] = True
    elif p["state"] == "exported":
        path, thumbprint = p["path"], p["thumbprint"]
        ctx.result["thumbprints"].append(thumbprint)
        existing = filestore.find(state, path)
        export = True
        if existing is not None and existing[1].get("type") == "directory":
            ctx.fail(f"Cannot export cert to path '{path}' as it is a directory")
        elif existing is not None:
            data = _file_bytes(ctx, path) or b""
            if _file_type(path, data, p["password"]) == p["file_type"]:
                in_file = _cert_file(ctx, path)
                if any(r["thumbprint"].lower() == thumbprint.lower() for r in in_file):  # -eq: case-insensitive
                    export = False
        if export:
            found = certstore.find(records, thumbprint)
            if len(found) != 1:
                ctx.fail(f"Found {len(found)} certs when only expecting 1")
            _new_cert_file(ctx, found[0], path)
    else:
        for record in _cert_file(ctx, p["path"]):
            ctx.result["thumbprints"].append(record["thumbprint"])
            found = certstore.find(records, record["thumbprint"])
            # a certificate with a key replaces one stored without (ansible.windows PR 424, lines 473-481)
            reimport = record["has_private_key"] and any(not f.get("has_private_key") for f in found)
            if not found or reimport:
                if not ctx.check_mode:
                    certstore.add(state, certstore.create_store(state, sid), record)
                ctx.result["changed"] = True


@module("win_certificate_info")
def win_certificate_info(ctx: ModuleContext) -> None:
    p = ctx.params
    records = certstore.certificates(ctx.state, certstore.store_id(p["store_location"], p["store_name"]))
    if p["thumbprint"] is not None:
        records = certstore.find(records, p["thumbprint"])
    ctx.result["exists"] = bool(records)
    ctx.result["certificates"] = sorted((certstore.info(r) for r in records), key=lambda c: c["thumbprint"])

"""win_certificate_info and win_certificate_store (state=absent by thumbprint only)."""

from __future__ import annotations

from typing import Any

from lab.windows.modules import ModuleContext, module


def _store(ctx: ModuleContext, location: str, name: str) -> list[dict[str, Any]]:
    return ctx.state["certificates"].setdefault(f"{location}\\{name}", [])


def _info(cert: dict[str, Any]) -> dict[str, Any]:
    return {
        "thumbprint": cert["thumbprint"].upper(),
        "subject": cert.get("subject", ""),
        "issuer": cert.get("issuer", ""),
        "issued_to": cert.get("issued_to") or cert.get("subject", "").removeprefix("CN="),
        "issued_by": cert.get("issued_by") or cert.get("issuer", "").removeprefix("CN="),
        "friendly_name": cert.get("friendly_name", ""),
        "valid_from": cert.get("valid_from", 1704067200.0),
        "valid_from_iso8601": cert.get("valid_from_iso8601", "2024-01-01T00:00:00.0000000Z"),
        "valid_to": cert.get("valid_to", 1893456000.0),
        "valid_to_iso8601": cert.get("valid_to_iso8601", "2030-01-01T00:00:00.0000000Z"),
        "serial_number": cert.get("serial_number", "01"),
        "archived": False,
        "has_private_key": bool(cert.get("has_private_key", True)),
        "dns_names": list(cert.get("dns_names") or []),
        "extensions": [],
        "intended_purposes": list(cert.get("intended_purposes") or []),
        "key_algorithm": "RSA",
        "public_key": "",
        "signature_algorithm": "sha256RSA",
        "version": 3,
        "path": cert.get("path", ""),
        "ski": cert.get("ski", ""),
    }


@module("win_certificate_info")
def win_certificate_info(ctx: ModuleContext) -> None:
    p = ctx.params
    certs = _store(ctx, p["store_location"], p["store_name"])
    if p["thumbprint"]:
        certs = [c for c in certs if c["thumbprint"].lower() == p["thumbprint"].lower()]
    ctx.result["exists"] = bool(certs)
    ctx.result["certificates"] = [_info(c) for c in certs]


@module("win_certificate_store")
def win_certificate_store(ctx: ModuleContext) -> None:
    p = ctx.params
    if p["state"] != "absent" or p["path"]:
        ctx.fail(
            "lab.windows simulator: win_certificate_store is simulated for state=absent with thumbprint only "
            f"(got state={p['state']}{', path' if p['path'] else ''})"
        )
    if not p["thumbprint"]:
        ctx.fail("state is absent but any of the following are missing: path, thumbprint")
    certs = _store(ctx, p["store_location"], p["store_name"])
    matching = [c for c in certs if c["thumbprint"].lower() == p["thumbprint"].lower()]
    ctx.result["thumbprints"] = [c["thumbprint"].upper() for c in matching]
    if matching:
        ctx.result["changed"] = True
        if not ctx.check_mode:
            for cert in matching:
                certs.remove(cert)

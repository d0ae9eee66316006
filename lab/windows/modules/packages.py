"""win_package: idempotence by product_id / creates_path / creates_service over a simulated product list."""

from __future__ import annotations

from lab.windows import argspec, filestore, service_ops
from lab.windows.defaults import service_entry
from lab.windows.modules import ModuleContext, module

MODELLED = {
    "path",
    "product_id",
    "state",
    "arguments",
    "creates_path",
    "creates_service",
    "creates_version",
    "expected_return_code",
    "provider",
    "checksum_algorithm",
}


def _key(product_id: str) -> str:
    return product_id.strip().strip("{}").lower()


def _installed(ctx: ModuleContext, product_id: str | None) -> bool | None:
    p = ctx.params
    if p["creates_path"]:
        found = filestore.find(ctx.state, p["creates_path"])
        if found is None:
            return False
        return not p["creates_version"] or found[1].get("version") == p["creates_version"]
    if p["creates_service"]:
        return service_ops.find(ctx.state, p["creates_service"]) is not None
    if product_id:
        return any(_key(pkg["product_id"]) == _key(product_id) for pkg in ctx.state["packages"])
    return None


@module("win_package")
def win_package(ctx: ModuleContext) -> None:
    p = ctx.params
    spec = argspec.options("win_package")
    given = sorted(
        k for k, v in p.items() if k not in MODELLED and v is not None and v != spec[k].get("default")
    )
    if given:
        ctx.fail(f"lab.windows simulator: win_package option(s) not simulated: {', '.join(given)}")
    path = p["path"]
    ctx.result["reboot_required"] = False
    if path and path.lower().startswith("http"):
        ctx.fail("lab.windows simulator: win_package from a URL (download) is not simulated")
    product_id = p["product_id"]
    entry = filestore.find(ctx.state, path) if path else None
    if path and entry is None and not ctx.check_mode:
        ctx.fail(f"the file at the path '{path}' cannot be reached")
    if not product_id and entry is not None:
        product_id = entry[1].get("product_id")  # an MSI carries its ProductCode
    installed = _installed(ctx, product_id)
    if installed is None:
        ctx.fail(
            "lab.windows simulator: win_package needs product_id (or an MSI file with product_id in the "
            "scenario), creates_path or creates_service to decide whether the package is installed"
        )
    ctx.result["rc"] = 0
    changed = (p["state"] == "present") != installed
    ctx.result["changed"] = changed
    if not changed or ctx.check_mode:
        return
    if p["state"] == "present":
        ctx.state["packages"].append(
            {"product_id": product_id or path, "path": path, "arguments": p["arguments"]}
        )
        if p["creates_path"]:
            created = filestore.create(ctx.state, p["creates_path"], "file")
            if p["creates_version"]:
                created["version"] = p["creates_version"]
        if p["creates_service"] and service_ops.find(ctx.state, p["creates_service"]) is None:
            ctx.state["services"][p["creates_service"]] = service_entry(
                p["creates_service"], {"state": "running", "start_mode": "auto"}
            )
        return
    if product_id:
        ctx.state["packages"] = [
            pkg for pkg in ctx.state["packages"] if _key(pkg["product_id"]) != _key(product_id)
        ]
    if p["creates_path"]:
        filestore.remove(ctx.state, p["creates_path"])

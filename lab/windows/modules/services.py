"""win_service and win_service_info."""

from __future__ import annotations

import fnmatch
from typing import Any

from lab.windows import argspec, service_ops
from lab.windows.defaults import service_entry
from lab.windows.modules import ModuleContext, module
from lab.windows.service_ops import SYSTEM, ServiceError, canonical_account

DIFF_STATE = {"running": "started", "stopped": "stopped", "paused": "paused"}
# options the simulator models; any other option the module documents fails loudly when given.
MODELLED = {
    "name",
    "state",
    "start_mode",
    "username",
    "password",
    "update_password",
    "display_name",
    "description",
    "path",
    "dependencies",
    "dependency_action",
    "force_dependent_services",
}


def _diff_of(service: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": service["name"],
        "display_name": service["display_name"],
        "description": service.get("description", ""),
        "path": service.get("path"),
        "dependencies": list(service.get("dependencies") or []),
        "desktop_interact": False,
        "error_control": service.get("error_control", "normal"),
        "service_type": service.get("service_type", "win32_own_process"),
        "start_mode": service["start_mode"],
        "state": DIFF_STATE.get(service["state"], service["state"]),
        "username": canonical_account(service.get("username")),
        "password": "REDACTED",
    }


def _returned(after: dict[str, Any], service: dict[str, Any] | None, state: dict[str, Any]) -> dict[str, Any]:
    username = after.get("username")
    result_state = str(after["state"]).replace("_", "")
    if result_state in ("restarted", "started"):
        result_state = "running"
    return {
        "exists": True,
        "name": after["name"],
        "display_name": after["display_name"],
        "description": after["description"],
        "path": after["path"],
        "dependencies": after["dependencies"],
        "desktop_interact": after["desktop_interact"],
        "start_mode": after["start_mode"],
        "state": result_state,
        "username": "LocalSystem" if canonical_account(username) == SYSTEM else username,
        "can_pause_and_continue": bool(service and service.get("can_pause_and_continue")),
        "depended_by": [d["name"] for d in service_ops.dependents(state, after["name"])] if service else [],
    }


@module("win_service")
def win_service(ctx: ModuleContext) -> None:
    p = ctx.params
    given = [k for k, v in p.items() if v is not None and k not in MODELLED and v != _default(ctx, k)]
    if given:
        ctx.fail(f"lab.windows simulator: win_service option(s) not simulated: {', '.join(sorted(given))}")
    state = ctx.state
    service = service_ops.find(state, p["name"])
    ctx.result["exists"] = False
    before = _diff_of(service) if service else ""
    ctx.diff["before"] = before
    if p["state"] == "absent":
        if service:
            if not ctx.check_mode:
                try:
                    service_ops.stop(state, service, force=p["force_dependent_services"], via="win_service")
                except ServiceError as exc:
                    ctx.fail(str(exc))
                del state["services"][service["name"]]
            ctx.result["changed"] = True
        ctx.diff["after"] = ""
        return
    if service is None:
        if p["path"] is None:
            ctx.fail(f"Service '{p['name']}' is not installed, need to set 'path' to create a new service")
        new = service_entry(p["name"], {"path": p["path"], "state": "stopped", "start_mode": "auto"})
        ctx.result["changed"] = True
        if not ctx.check_mode:
            state["services"][new["name"]] = new
            service = new
        work = dict(new)
    else:
        work = dict(service)
    after = _diff_of(work)
    # account
    if p["username"] is not None:
        desired = canonical_account(p["username"])
        after["username"] = desired
        if desired != canonical_account(work.get("username")):
            work["username"] = desired
            ctx.result["changed"] = True
            if p["password"]:
                after["password"] = "CHANGED REDACTED"
        elif p["password"] and p["update_password"] == "always":
            after["password"] = "CHANGED REDACTED"
            ctx.result["changed"] = True
    for option in ("display_name", "description", "path"):
        if p[option] is not None and p[option] != work.get(option):
            work[option] = p[option]
            after[option] = p[option]
            ctx.result["changed"] = True
    if p["dependencies"] is not None:
        current = list(work.get("dependencies") or [])
        wanted = {
            "set": p["dependencies"],
            "add": current + [d for d in p["dependencies"] if d not in current],
            "remove": [d for d in current if d not in p["dependencies"]],
        }[p["dependency_action"]]
        if sorted(wanted) != sorted(current):
            work["dependencies"] = wanted
            ctx.result["changed"] = True
        after["dependencies"] = wanted
    if p["start_mode"] is not None and p["start_mode"] != work["start_mode"]:
        work["start_mode"] = p["start_mode"]
        after["start_mode"] = p["start_mode"]
        ctx.result["changed"] = True
    if service is not None and not ctx.check_mode:
        for key in ("username", "display_name", "description", "path", "dependencies", "start_mode"):
            service[key] = work[key]
    # state, always last
    wanted_state = p["state"]
    after["state"] = wanted_state or DIFF_STATE.get(work["state"], work["state"])
    target = service if (service is not None and not ctx.check_mode) else dict(work)
    try:
        if wanted_state == "started" and work["state"] != "running":
            _act(ctx, target, "start")
        elif wanted_state == "stopped" and work["state"] != "stopped":
            _act(ctx, target, "stop")
        elif wanted_state == "restarted":
            _act(ctx, target, "restart")
        elif wanted_state == "paused" and work["state"] != "paused":
            if not work.get("can_pause_and_continue"):
                ctx.fail(f"failed to pause service {work['name']}: The service does not support pausing")
            if not ctx.check_mode:
                target["state"] = "paused"
            ctx.result["changed"] = True
    except ServiceError as exc:
        ctx.fail(str(exc))
    ctx.diff["after"] = after
    ctx.result.update(_returned(after, service, state))


def _act(ctx: ModuleContext, service: dict[str, Any], action: str) -> None:
    ctx.result["changed"] = True
    if ctx.check_mode:
        return  # the real module passes -WhatIf: nothing is started or stopped, not even checked
    if action == "start":
        service_ops.start(ctx.state, service, via="win_service")
    elif action == "stop":
        service_ops.stop(ctx.state, service, force=ctx.params["force_dependent_services"], via="win_service")
    else:
        service_ops.restart(
            ctx.state, service, force=ctx.params["force_dependent_services"], via="win_service"
        )


def _default(ctx: ModuleContext, option: str) -> Any:
    return argspec.options(ctx.name).get(option, {}).get("default")


@module("win_service_info")
def win_service_info(ctx: ModuleContext) -> None:
    name = ctx.params["name"]
    services = list(ctx.state["services"].values())
    if name:
        pattern = name.lower()
        services = [
            s
            for s in services
            if fnmatch.fnmatchcase(s["name"].lower(), pattern)
            or fnmatch.fnmatchcase(s["display_name"].lower(), pattern)
        ]
    ctx.result["exists"] = bool(services)
    ctx.result["services"] = [_info(ctx.state, s) for s in sorted(services, key=lambda s: s["name"].lower())]


def _info(state: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": service["name"],
        "display_name": service["display_name"],
        "description": service.get("description", ""),
        "path": service.get("path"),
        "state": DIFF_STATE.get(service["state"], service["state"]),
        "start_mode": service["start_mode"],
        "username": canonical_account(service.get("username")),
        "dependencies": list(service.get("dependencies") or []),
        "dependency_of": [d["name"] for d in service_ops.dependents(state, service["name"])],
        "service_type": service.get("service_type", "win32_own_process"),
        "error_control": service.get("error_control", "normal"),
        "checkpoint": 0,
        "controls_accepted": ["stop", "shutdown"],
        "exit_code": 0,
        "service_exit_code": 0,
        "process_id": 1000 + (sum(map(ord, service["name"])) % 8000) if service["state"] == "running" else 0,
        "wait_hint_ms": 0,
        "win32_exit_code": 0,
        "failure_actions": [],
        "failure_actions_on_non_crash_failure": False,
        "failure_command": None,
        "failure_reboot_msg": None,
        "failure_reset_period_sec": 0,
        "launch_protection": "none",
        "load_order_group": "",
        "pre_shutdown_timeout_ms": 180000,
        "preferred_node": None,
        "required_privileges": [],
        "service_flags": [],
        "sid_info": "none",
        "start_mode_delayed": service["start_mode"] == "delayed",
        "triggers": [],
    }

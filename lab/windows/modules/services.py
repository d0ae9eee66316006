"""win_service and win_service_info, following win_service.ps1 / win_service_info.ps1 step by step.

win_service.ps1 runs its Set-Service* functions in a fixed order against the live service (each one applies
its change at once unless in check mode), then Set-ServiceState last; the diff's `after` is built piece by
piece and the result is read from it (lines ~1060-1110). This module keeps that order, so partial changes
before a failure happen as on Windows.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from lab.windows import accounts, environment, service_ops
from lab.windows.defaults import created_service
from lab.windows.modules import ModuleContext, module
from lab.windows.service_ops import ServiceError

STATE_DIFF = {"running": "started", "stopped": "stopped", "paused": "paused"}
START_MODES = ("auto", "delayed", "manual", "disabled")
NOT_TRANSLATED = (
    'Exception calling "Translate" with "1" argument(s): "Some or all identity references could not be '
    'translated."'
)
DESKTOP_INTERACT_ERROR = "Can only set 'desktop_interact' to true when 'username' equals 'SYSTEM'"
TRIGGER_GUIDS = {
    "1f81d131-3fac-4537-9e0c-7e7b0c2f4b55": "named_pipe_event",
    "bc90d167-9470-4139-a9ba-be0bbbf5b74d": "rpc_interface_event",
    "1ce20aba-9851-4421-9430-1ddeb766e809": "domain_join",
    "ddaf516e-58c2-4866-9574-c3b615d42ea1": "domain_leave",
    "b7569e07-8421-4ee0-ad10-86915afdad09": "firewall_port_open",
    "a144ed38-8e12-4de4-9d96-e64740b1a524": "firewall_port_close",
    "659fcae6-5bdb-4da9-b1ff-ca2a178d46e0": "machine_policy_present",
    "54fb46c8-f089-464c-b1fd-59d1b62c3b50": "user_policy_present",
    "4f27f2de-14e2-430b-a549-7cd48cbc8245": "network_first_ip_arrival",
    "cc4ba62a-162e-4648-847a-b6bdf993e335": "network_last_ip_removal",
}


class Unhandled(Exception):
    """An exception the module does not catch: module_wrapper.ps1 reports
    `Unhandled exception while executing module: <error record>` and nothing of the module's result."""


def _unhandled(ctx: ModuleContext, exc: Unhandled) -> None:
    ctx.result.clear()
    ctx.result["changed"] = False
    ctx.diff.update(before={}, after={})
    ctx.fail(f"Unhandled exception while executing module: {exc}")


def _sid(ctx: ModuleContext, name: str) -> str:
    try:
        return service_ops.account_sid(ctx.state, name)
    except accounts.AccountNotFound as exc:
        raise Unhandled(NOT_TRANSLATED) from exc


def _name_of(ctx: ModuleContext, sid: str) -> str:
    name = accounts.name_of(ctx.state, sid)
    if name is None:
        raise Unhandled(NOT_TRANSLATED)
    return name


# -- the diff (Get-ServiceDiff) -----------------------------------------------------------------------------
def _failure_actions(service: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": a["type"], "delay_ms": a["delay_ms"]} for a in service.get("failure_actions") or []]


def _diff_of(service: dict[str, Any]) -> dict[str, Any]:
    diff = {
        "dependencies": list(service.get("dependencies") or []),
        "description": service.get("description"),
        "desktop_interact": bool(service.get("desktop_interact")),
        "display_name": service["display_name"],
        "error_control": service.get("error_control", "normal"),
        "failure_actions": _failure_actions(service),
        "failure_actions_on_non_crash_failure": bool(service.get("failure_actions_on_non_crash_failure")),
        "failure_command": service.get("failure_command"),
        "failure_reboot_msg": service.get("failure_reboot_msg"),
        "failure_reset_period_sec": service.get("failure_reset_period_sec", 0),
        "load_order_group": service.get("load_order_group", ""),
        "name": service["name"],
        "path": service.get("path"),
        "pre_shutdown_timeout_ms": service.get("pre_shutdown_timeout_ms"),
        "required_privileges": list(service.get("required_privileges") or []),
        "service_type": service.get("service_type", "win32_own_process"),
        "sid_info": service.get("sid_info", "none"),
        "start_mode": service["start_mode"],
        "state": STATE_DIFF.get(service["state"], service["state"]),
    }
    if not service_ops.is_driver(service):
        diff["username"] = service_ops.account_value(service)
        diff["password"] = "REDACTED"
    return diff


# -- Get-ServiceFromName ----------------------------------------------------------------------------------------
def _service_from_name(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    """`Get-Service | Where-Object { ServiceName -eq $Name -or DisplayName -eq $Name }`, else
    `Get-Service -Name $Name` (which also finds drivers and expands wildcards)."""
    lowered = name.lower()
    for service in service_ops.listed(state):
        if service["name"].lower() == lowered or str(service["display_name"]).lower() == lowered:
            return service
    try:
        matches = service_ops.get_service_by_name(state, name)
    except ValueError:  # an invalid wildcard pattern: -ErrorAction SilentlyContinue
        return None
    if len(matches) > 1:
        # several services match the pattern: Get-ServiceDiff -Service gets an array (parameter binding fails)
        raise Unhandled(
            "Cannot process argument transformation on parameter 'Service'. Cannot convert the \"System.Object[]\" "
            "value of type \"System.Object[]\" to type \"Ansible.Windows.SCManager.Service\"."
        )
    return matches[0] if matches else None


# -- win_service ------------------------------------------------------------------------------------------------
DETECT_OPTIONS = (
    "description", "display_name", "dependencies", "error_control", "failure_actions",
    "failure_actions_on_non_crash_failure", "failure_command", "failure_reboot_msg", "failure_reset_period_sec",
    "load_order_group", "path", "pre_shutdown_timeout_ms", "required_privileges", "service_type", "sid_info",
    "start_mode", "state", "username", "password",
)


@module("win_service")
def win_service(ctx: ModuleContext) -> None:
    try:
        _win_service(ctx)
    except Unhandled as exc:
        _unhandled(ctx, exc)


def _win_service(ctx: ModuleContext) -> None:
    p = dict(ctx.params)
    if p["path"] is not None:  # win_service.ps1 line 91: ExpandEnvironmentVariables with the process' variables
        p["path"] = environment.expand(ctx.host, p["path"])
    state = ctx.state
    ctx.result["exists"] = False
    service = _service_from_name(state, p["name"])
    ctx.diff["before"] = _diff_of(service) if service else ""
    after: Any
    if p["state"] == "absent":
        if service:
            if not ctx.check_mode:
                _cmdlet(lambda: service_ops.stop(
                    state, service, force=p["force_dependent_services"], via="win_service"))
                del state["services"][service["name"]]
            ctx.result["changed"] = True
        after = ""
    else:
        detect = (
            service is not None
            or p["dependency_action"] != "set"
            or p["desktop_interact"] is True
            or any(p[option] is not None for option in DETECT_OPTIONS)
        )
        if detect:
            service, after = _configure(ctx, p, service)
        else:
            after = ctx.diff["before"]
    ctx.diff["after"] = after
    if after:
        _result(ctx, after, service)


def _cmdlet(action: Any) -> Any:
    """A service cmdlet run with $ErrorActionPreference = 'Stop': its error ends the module unhandled."""
    try:
        return action()
    except ServiceError as exc:
        raise Unhandled(str(exc)) from exc


def _configure(
    ctx: ModuleContext, p: dict[str, Any], service: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    update_password = p["update_password"] == "always"
    if service is None:
        update_password = True
        if p["path"] is None:
            ctx.fail(f"Service '{p['name']}' is not installed, need to set 'path' to create a new service")
        ctx.result["changed"] = True
        if not ctx.check_mode:  # New-Service -Name $name -BinaryPathName $path
            service = created_service(p["name"], p["path"])
            ctx.state["services"][service["name"]] = service
    after: dict[str, Any] = {"name": service["name"] if service else p["name"]}
    live = service if service is not None else None
    if live is not None and not service_ops.is_driver(live):
        _set_account(ctx, p, live, after, update_password)
    _set_dependencies(ctx, p, live, after)
    _set_text(ctx, live, after, "description", p["description"], empty_is_null=True)
    _set_string(ctx, live, after, "display_name", p["display_name"])
    _set_string(ctx, live, after, "error_control", p["error_control"], case_sensitive=False)
    _set_failure_actions(ctx, p, live, after)
    _set_text(ctx, live, after, "load_order_group", p["load_order_group"], empty_is_null=False)
    _set_string(ctx, live, after, "path", p["path"])
    _set_number(ctx, live, after, "pre_shutdown_timeout_ms", p["pre_shutdown_timeout_ms"])
    _set_privileges(ctx, p, live, after)
    _set_string(ctx, live, after, "sid_info", p["sid_info"], case_sensitive=False)
    start_mode = live.get("start_mode") if live is not None else None
    _set_string(ctx, live, after, "start_mode", p["start_mode"], case_sensitive=False)
    if live is not None and not ctx.check_mode and live.get("start_mode") != start_mode:
        service_ops.record_start_type(ctx.state, live)
    _set_service_type(ctx, live, after, p["service_type"], p["desktop_interact"], p["username"])
    _set_state(ctx, p, live, after)
    return service, after


def _apply(ctx: ModuleContext, service: dict[str, Any], key: str, value: Any) -> None:
    if not ctx.check_mode:
        service[key] = copy.deepcopy(value)
    ctx.result["changed"] = True


def _set_account(
    ctx: ModuleContext, p: dict[str, Any], service: dict[str, Any], after: dict[str, Any], update_password: bool
) -> None:
    """Set-ServiceAccount (the service has a start name; drivers are skipped by the caller)."""
    current = service_ops.account_value(service)
    if current is None:
        return
    username, password = p["username"], p["password"]
    after["username"] = username
    after["password"] = "REDACTED"
    desired = None
    if username:
        desired = _sid(ctx, username)
        after["username"] = _name_of(ctx, desired)
    actual = _sid(ctx, current)
    if desired is None:
        after["username"] = current
    elif desired != actual:
        if desired != service_ops.SYSTEM_SID:  # leaving SYSTEM drops the interactive flag first
            _set_service_type(ctx, service, after, None, False, username)
        _apply(ctx, service, "username", service_ops.start_name(ctx.state, desired))
        update_password = True
    if update_password and password:  # a password cannot be compared: it is set again (update_password)
        after["password"] = "CHANGED REDACTED"
        ctx.result["changed"] = True


def _set_dependencies(
    ctx: ModuleContext, p: dict[str, Any], service: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    """Set-ServiceDependency: Linq Except/Intersect (ordinal, case-sensitive)."""
    wanted = p["dependencies"]
    after["dependencies"] = wanted
    if service is None:
        return
    existing = list(service.get("dependencies") or [])
    after["dependencies"] = existing
    if wanted is None:
        return
    action = p["dependency_action"]
    added, removed = [], []
    if action == "add":
        added = [d for d in dict.fromkeys(wanted) if d not in existing]
    elif action == "remove":
        removed = [d for d in dict.fromkeys(wanted) if d in existing]
    else:
        added = [d for d in dict.fromkeys(wanted) if d not in existing]
        removed = [d for d in dict.fromkeys(existing) if d not in wanted]
    if added or removed:
        new = list(existing)
        for name in removed:
            new.remove(name)
        new.extend(added)
        after["dependencies"] = new
        _apply(ctx, service, "dependencies", new)


def _set_text(
    ctx: ModuleContext,
    service: dict[str, Any] | None,
    after: dict[str, Any],
    key: str,
    value: str | None,
    *,
    empty_is_null: bool,
) -> None:
    """Set-ServiceDescription / Set-ServiceLoadOrderGroup: untyped parameters ($null = keep), `-cne` compare;
    an empty description removes it (null)."""
    after[key] = value
    if service is None:
        return
    if value is None:
        after[key] = service.get(key)
        return
    stored = (value or None) if empty_is_null else value
    if stored != service.get(key):
        _apply(ctx, service, key, stored)


def _set_string(
    ctx: ModuleContext,
    service: dict[str, Any] | None,
    after: dict[str, Any],
    key: str,
    value: str | None,
    *,
    case_sensitive: bool = True,
) -> None:
    """Set-ServiceDisplayName / ErrorControl / Path / SidInfo / StartMode: [String] parameters ($null becomes
    ''), an empty value keeps the current one. Enums (error_control, sid_info, start_mode) compare
    case-insensitively."""
    after[key] = value or ""
    if service is None:
        return
    if not value:
        after[key] = service.get(key)
        return
    current = service.get(key)
    differs = value != current if case_sensitive else value.lower() != str(current).lower()
    if differs:
        _apply(ctx, service, key, value)


def _set_number(
    ctx: ModuleContext, service: dict[str, Any] | None, after: dict[str, Any], key: str, value: int | None
) -> None:
    after[key] = value
    if service is None:
        return
    if value is None:
        after[key] = service.get(key)
    elif value != service.get(key):
        _apply(ctx, service, key, value)


def _set_privileges(
    ctx: ModuleContext, p: dict[str, Any], service: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    wanted = p["required_privileges"]
    after["required_privileges"] = wanted
    if service is None:
        return
    existing = list(service.get("required_privileges") or [])
    if wanted is None:
        after["required_privileges"] = existing
        return
    if set(wanted) - set(existing) or set(existing) - set(wanted):
        _apply(ctx, service, "required_privileges", list(wanted))


def _set_failure_actions(
    ctx: ModuleContext, p: dict[str, Any], service: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    """Set-ServiceFailureAction. Quirk kept from win_service.ps1: the diff's
    failure_actions_on_non_crash_failure is set from a misspelt variable ($ActionOnCrashFailure), so it is null
    whenever the option is given."""
    actions, on_non_crash = p["failure_actions"], p["failure_actions_on_non_crash_failure"]
    command, reboot_msg, reset = p["failure_command"], p["failure_reboot_msg"], p["failure_reset_period_sec"]
    after.update(
        failure_actions=actions,
        failure_actions_on_non_crash_failure=None,
        failure_command=command,
        failure_reboot_msg=reboot_msg,
        failure_reset_period_sec=reset,
    )
    if service is None:
        return
    if on_non_crash is None:
        after["failure_actions_on_non_crash_failure"] = bool(service.get("failure_actions_on_non_crash_failure"))
    elif on_non_crash != bool(service.get("failure_actions_on_non_crash_failure")):
        _apply(ctx, service, "failure_actions_on_non_crash_failure", on_non_crash)
    update: dict[str, Any] = {}  # the FailureActions object handed to the setter; absent = null
    current = _failure_actions(service)
    if actions is None:
        after["failure_actions"] = current
    else:
        new = [{"type": a["type"], "delay_ms": a["delay_ms"]} for a in actions]
        if new != current:
            update["actions"] = new
    for key, value in (("failure_command", command), ("failure_reboot_msg", reboot_msg)):
        if value is None:
            after[key] = service.get(key)
        elif (value or None) != service.get(key):
            update[key] = value or ""  # PowerShell hands $null to a [string] field as "" (= delete)
    if reset is None:
        after["failure_reset_period_sec"] = service.get("failure_reset_period_sec", 0)
    elif reset != service.get("failure_reset_period_sec", 0):
        update["reset"] = reset
    if update:
        if not ctx.check_mode:
            _change_failure_actions(service, update)
        ctx.result["changed"] = True


def _change_failure_actions(service: dict[str, Any], update: dict[str, Any]) -> None:
    """SCManager.cs FailureActions setter + ChangeServiceConfig2(SERVICE_CONFIG_FAILURE_ACTIONS): a null command
    or reboot message is kept, an empty one deleted; the reset period and the actions go together (no actions
    given = keep both; an empty list deletes both)."""
    reset, actions = update.get("reset"), update.get("actions")
    if (reset is None) != (actions is None):
        if reset is not None and not service.get("failure_actions"):
            raise Unhandled(
                'Exception setting "FailureActions": "Cannot set FailureAction ResetPeriod without explicit '
                'Actions and no existing Actions"'
            )
        reset = service.get("failure_reset_period_sec", 0) if reset is None else reset
        actions = _failure_actions(service) if actions is None else actions
    if actions is not None:
        service["failure_actions"] = actions
        service["failure_reset_period_sec"] = reset if actions else 0
    for key in ("failure_command", "failure_reboot_msg"):
        if key in update:
            service[key] = update[key] or None


def _set_service_type(
    ctx: ModuleContext,
    service: dict[str, Any] | None,
    after: dict[str, Any],
    service_type: str | None,
    desktop_interact: bool,
    username: str | None,
) -> None:
    """Set-ServiceType: the type and the interactive flag (only for SYSTEM; always cleared when not asked)."""
    after["desktop_interact"] = desktop_interact
    after["service_type"] = service_type or ""
    if service is None:
        return
    desired_type = service_type or service.get("service_type", "win32_own_process")
    after["service_type"] = desired_type
    if desktop_interact:
        if username:
            actual = _sid(ctx, username)
        else:
            current = service_ops.account_value(service)
            if current is None:
                raise Unhandled("You cannot call a method on a null-valued expression.")
            actual = _sid(ctx, current)
        if actual != service_ops.SYSTEM_SID:
            ctx.fail(DESKTOP_INTERACT_ERROR)
    changed = desired_type != service.get("service_type", "win32_own_process") or bool(desktop_interact) != bool(
        service.get("desktop_interact")
    )
    if changed:
        if not ctx.check_mode:
            service["service_type"] = desired_type
            service["desktop_interact"] = bool(desktop_interact)
        ctx.result["changed"] = True


def _set_state(
    ctx: ModuleContext, p: dict[str, Any], service: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    """Set-ServiceState: the cmdlets run with -WhatIf in check mode (nothing happens, nothing fails)."""
    wanted = p["state"]
    after["state"] = wanted or ""
    if service is None:
        return
    current = service["state"]
    state, force = ctx.state, p["force_dependent_services"]
    if not wanted:
        after["state"] = STATE_DIFF[current]
        return
    if wanted == "started" and current != "running":
        if current == "paused":
            if not ctx.check_mode:
                service_ops.resume(state, service, via="win_service")
        elif not ctx.check_mode:
            _cmdlet(lambda: service_ops.start(state, service, via="win_service"))
        ctx.result["changed"] = True
    elif wanted == "stopped" and current != "stopped":
        if not ctx.check_mode:
            _cmdlet(lambda: service_ops.stop(state, service, force=force, via="win_service"))
        ctx.result["changed"] = True
    elif wanted == "restarted":
        if not ctx.check_mode:
            _cmdlet(lambda: service_ops.restart(state, service, force=force, via="win_service"))
        ctx.result["changed"] = True
    elif wanted == "paused" and current != "paused":
        if "pause_continue" not in service_ops.controls_accepted(service):
            ctx.fail(f"failed to pause service {service['name']}: The service does not support pausing")
        if not ctx.check_mode:
            try:
                service_ops.pause(state, service, via="win_service")
            except ServiceError as exc:
                ctx.fail(f"failed to pause service {service['name']}: {exc}")
        ctx.result["changed"] = True


def _result(ctx: ModuleContext, after: dict[str, Any], service: dict[str, Any] | None) -> None:
    """win_service.ps1 lines ~1060-1110: the result is read from the diff's after."""
    result = ctx.result
    result["exists"] = True
    for key in ("dependencies", "description", "desktop_interact", "display_name", "name", "path", "start_mode"):
        result[key] = after.get(key)
    username = after.get("username")
    result["username"] = username
    if username and _sid(ctx, username) == service_ops.SYSTEM_SID:
        result["username"] = service_ops.LOCAL_SYSTEM
    state = str(after.get("state") or "").replace("_", "")
    result["state"] = "running" if state in ("restarted", "started") else state
    result["can_pause_and_continue"] = None
    result["depended_by"] = []
    if service is not None and service["name"] in ctx.state["services"]:
        result["depended_by"] = [d["name"] for d in service_ops.all_dependents(ctx.state, service["name"])]
        result["can_pause_and_continue"] = "pause_continue" in service_ops.controls_accepted(service)


# -- win_service_info -------------------------------------------------------------------------------------------
@module("win_service_info")
def win_service_info(ctx: ModuleContext) -> None:
    """`Get-Service | Where-Object { -not $name -or $_.Name -eq $name }`, else `Get-Service -Name $name`
    (win_service_info.ps1 lines 22-30): an exact name first, then wildcards on service names only, or a plain
    name opened as a service or display name."""
    name = ctx.params["name"]
    state = ctx.state
    services = [s for s in service_ops.listed(state) if not name or s["name"].lower() == name.lower()]
    if not services and name:
        try:
            services = service_ops.get_service_by_name(state, name)
        except ValueError:  # an invalid wildcard pattern: -ErrorAction SilentlyContinue
            services = []
    ctx.result["exists"] = bool(services)
    ctx.result["services"] = [_info(state, s) for s in services]


def _triggers(service: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for trigger in service.get("triggers") or []:
        items = []
        for item in trigger["data_items"]:
            data = item["data"]
            if item["type"] == "binary":
                data = base64.b64encode(bytes.fromhex(data)).decode()
            items.append({"type": item["type"], "data": data})
        out.append(
            {
                "action": trigger["action"],
                "type": trigger["type"],
                "sub_type": TRIGGER_GUIDS.get(trigger["sub_type_guid"], "custom"),
                "sub_type_guid": trigger["sub_type_guid"],
                "data_items": items,
            }
        )
    return out


def _info(state: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    running = service["state"] != "stopped"
    return {
        "checkpoint": 0,
        "controls_accepted": service_ops.controls_accepted(service),
        "dependencies": list(service.get("dependencies") or []),
        "dependency_of": [d["name"] for d in service_ops.all_dependents(state, service["name"])],
        "description": service.get("description"),
        "desktop_interact": bool(service.get("desktop_interact")),
        "display_name": service["display_name"],
        "error_control": service.get("error_control", "normal"),
        "failure_actions": _failure_actions(service),
        "failure_actions_on_non_crash_failure": bool(service.get("failure_actions_on_non_crash_failure")),
        "failure_command": service.get("failure_command"),
        "failure_reboot_msg": service.get("failure_reboot_msg"),
        "failure_reset_period_sec": service.get("failure_reset_period_sec", 0),
        "launch_protection": "none",
        "load_order_group": service.get("load_order_group", ""),
        "name": service["name"],
        "path": service.get("path"),
        "pre_shutdown_timeout_ms": service.get("pre_shutdown_timeout_ms"),
        "preferred_node": None,
        "process_id": 1000 + (sum(map(ord, service["name"])) % 8000) if running else 0,
        "required_privileges": list(service.get("required_privileges") or []),
        "service_exit_code": 0,
        "service_flags": [],
        "service_type": service.get("service_type", "win32_own_process"),
        "sid_info": service.get("sid_info", "none"),
        "start_mode": service["start_mode"],
        "state": STATE_DIFF.get(service["state"], service["state"]),
        "triggers": _triggers(service),
        "username": service_ops.account_value(service),
        "wait_hint_ms": 0,
        "win32_exit_code": service.get("win32_exit_code", 0),
    }

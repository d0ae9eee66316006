"""Simulated ansible.windows modules: registry of handlers and the result envelope of their module util.

Most modules use Ansible.Basic (Ansible.Basic.cs): the argument spec is validated, and a module that does not
support check mode is skipped in check mode right after the unsupported-parameter check (CheckArguments), before
required/type/choice checks. Legacy modules (`#Requires -Module Ansible.ModuleUtils.Legacy`) parse their own
arguments with Get-AnsibleParam (`legacy_param`), accept unknown options and return no `invocation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lab.windows import argspec, environment
from lab.windows.payload import Invocation

Handler = Callable[["ModuleContext"], None]
HANDLERS: dict[str, Handler] = {}
NO_CHECK_MODE: set[str] = set()
LEGACY: set[str] = set()


class ModuleFailed(Exception):
    def __init__(self, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.extra = extra


class UnhandledError(Exception):
    """A PowerShell error the module does not catch: module_wrapper.ps1 reports it instead of the module."""


@dataclasses.dataclass
class ModuleContext:
    host: Any
    name: str
    params: dict[str, Any]
    check_mode: bool
    diff_mode: bool
    result: dict[str, Any] = dataclasses.field(default_factory=lambda: {"changed": False})
    diff: dict[str, Any] = dataclasses.field(default_factory=lambda: {"before": {}, "after": {}})
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def state(self) -> dict[str, Any]:
        return self.host.state

    def fail(self, msg: str, **extra: Any) -> None:
        raise ModuleFailed(msg, **extra)

    def unhandled(self, error: str) -> None:
        """An uncaught terminating error with this text (e.g. a failed cast): the whole result is replaced."""
        raise UnhandledError(error)


def module(name: str, *, check_mode: bool = True, legacy: bool = False) -> Callable[[Handler], Handler]:
    """Register a module handler; check_mode=False is `supports_check_mode = $false`, legacy=True a module on
    Ansible.ModuleUtils.Legacy (ctx.params are then the raw arguments, read with legacy_param)."""

    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        if not check_mode:
            NO_CHECK_MODE.add(name)
        if legacy:
            LEGACY.add(name)
        return func

    return register


def required_if(ctx: ModuleContext, rules: list[tuple[str, str, tuple[str, ...], bool]]) -> None:
    """Ansible.Basic CheckRequiredIf (Ansible.Basic.cs lines 1256-1299) for a module spec's `required_if`:
    (option, value, requirements, any one is enough)."""
    for key, value, requirements, any_one in rules:
        if ctx.params.get(key) is None or str(ctx.params[key]) != value:
            continue
        missing = [name for name in requirements if ctx.params.get(name) is None]
        if len(missing) >= (len(requirements) if any_one else 1):
            term = "any" if any_one else "all"
            ctx.fail(f"{key} is {value} but {term} of the following are missing: {', '.join(missing)}")


def legacy_param(
    ctx: ModuleContext,
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    kind: str | None = None,
    default: Any = None,
    failifempty: bool = False,
    validateset: tuple[str, ...] = (),
) -> Any:
    """Get-AnsibleParam (Ansible.ModuleUtils.Legacy.psm1 lines 140-273).

    The first of name/aliases present in the (case-insensitive) arguments wins; missing → default, or with
    failifempty "Get-AnsibleParam: Missing required argument: NAME". A present null stays null (no check). str
    uses .ToString(), bool ConvertTo-Bool, list splits a string on commas, path expands environment variables
    (`kind` is Get-AnsibleParam's -type).
    """
    present = {k.lower(): k for k in ctx.params}
    found = next((present[n.lower()] for n in (name, *aliases) if n.lower() in present), None)
    if found is None:
        if failifempty:
            ctx.fail(f"Get-AnsibleParam: Missing required argument: {name}")
        return default
    value = ctx.params[found]
    if validateset and not any(str(value).lower() == v.lower() for v in validateset):
        ctx.fail(f"Get-AnsibleParam: Argument {found} needs to be one of {','.join(validateset)} but was {value}.")
    if value is None:
        return None
    try:
        return argspec.legacy_typed(found, kind, value, environment.variables(ctx.host))
    except argspec.ArgumentError as exc:
        ctx.fail(str(exc))


def run_module(host: Any, invocation: Invocation) -> dict[str, Any]:
    from lab.windows.modules import (  # noqa: F401  (importing registers the handlers)
        basic,
        certificates,
        copy,
        files,
        find,
        packages,
        registry,
        scripts,
        services,
    )

    name = invocation.name
    if (
        invocation.fqcn.split(".")[:2] not in (["ansible", "windows"], ["ansible", "builtin"])
        or name not in HANDLERS
    ):
        if invocation.fqcn.startswith("ansible.legacy.") and invocation.source:
            from lab.windows.modules.library import run_library_module

            return run_library_module(host, invocation)
        return {
            "failed": True,
            "msg": f"lab.windows simulator: module {invocation.fqcn or name} is not simulated",
        }
    args = invocation.args
    check_mode = bool(args.get("_ansible_check_mode"))
    if name in LEGACY:
        return _run_legacy(host, name, args, check_mode)
    module_name = str(args.get("_ansible_module_name") or name)
    skip_check_mode = check_mode and name in NO_CHECK_MODE
    try:
        params = argspec.validate(name, args, environment=environment.variables(host, invocation))
    except argspec.ArgumentError as exc:
        # Ansible.Basic CheckArguments: unsupported parameters fail first, then a module without check mode
        # support is skipped; the other checks (required, types, choices, ...) come after the skip.
        if not skip_check_mode or str(exc).startswith("Unsupported parameters"):
            return {"failed": True, "msg": str(exc)}
        params = {}
    if skip_check_mode:
        result: dict[str, Any] = {
            "changed": False,
            "skipped": True,
            "msg": f"remote module ({module_name}) does not support check mode",
        }
        if not args.get("_ansible_no_log"):
            result["invocation"] = {"module_args": _redact(name, _supplied(name, args))}
        return result
    ctx = ModuleContext(
        host=host, name=name, params=params, check_mode=check_mode, diff_mode=bool(args.get("_ansible_diff"))
    )
    _run_handler(ctx)
    result = ctx.result
    if result.get("msg", "").startswith("Unhandled exception while executing module: "):
        return result
    if ctx.diff_mode and "diff" not in result and (ctx.diff["before"] or ctx.diff["after"]):
        result["diff"] = ctx.diff
    if not args.get("_ansible_no_log"):
        result.setdefault("invocation", {"module_args": _redact(name, params)})
    return result


def _run_handler(ctx: ModuleContext) -> None:
    try:
        HANDLERS[ctx.name](ctx)
    except ModuleFailed as exc:
        ctx.result.update(exc.extra)
        ctx.result.update({"failed": True, "msg": exc.msg})
    except UnhandledError as exc:
        # module_wrapper.ps1 (Write-AnsibleErrorDetail): only failed/msg/exception, no module result
        message = f"Unhandled exception while executing module: {exc}"
        ctx.result = {"failed": True, "msg": message, "exception": str(exc)}
        return
    if ctx.warnings:
        ctx.result["warnings"] = ctx.warnings


def _run_legacy(host: Any, name: str, args: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Parse-Args (Legacy.psm1 lines 306-333): the check-mode skip, then the module reads its own arguments."""
    if check_mode and name in NO_CHECK_MODE:
        return {"skipped": True, "changed": False, "msg": "remote module does not support check mode"}
    ctx = ModuleContext(
        host=host, name=name, params=dict(args), check_mode=check_mode, diff_mode=bool(args.get("_ansible_diff"))
    )
    _run_handler(ctx)
    return ctx.result


def _supplied(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Ansible.Basic's Params before validation: the given options, aliases copied to their option (GetAliases)."""
    supplied = {k: v for k, v in args.items() if not k.startswith("_ansible_")}
    for option, spec in argspec.options(name).items():
        for alias in spec.get("aliases") or []:
            if alias in supplied:
                supplied[option] = supplied[alias]
    return supplied


def _redact(module: str, params: dict[str, Any]) -> dict[str, Any]:
    """Hide no_log options (from the docs) and anything named like a password, as Ansible.Basic does."""
    secret = {name for name, option in argspec.options(module).items() if option.get("no_log")}
    return {
        k: (
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" if (k in secret or "password" in k) and v is not None else v
        )
        for k, v in params.items()
    }

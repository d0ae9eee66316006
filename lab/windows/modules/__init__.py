"""Simulated ansible.windows modules: registry of handlers and the Ansible.Basic-like result envelope."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lab.windows import argspec
from lab.windows.payload import Invocation

Handler = Callable[["ModuleContext"], None]
HANDLERS: dict[str, Handler] = {}
NO_CHECK_MODE: set[str] = set()


class ModuleFailed(Exception):
    def __init__(self, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.extra = extra


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


def module(name: str, *, check_mode: bool = True) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        if not check_mode:
            NO_CHECK_MODE.add(name)
        return func

    return register


def run_module(host: Any, invocation: Invocation) -> dict[str, Any]:
    from lab.windows.modules import (  # noqa: F401  (importing registers the handlers)
        basic,
        certificates,
        files,
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
    if check_mode and name in NO_CHECK_MODE:
        return {
            "changed": False,
            "skipped": True,
            "msg": f"remote module ({name}) does not support check mode",
        }
    try:
        params = argspec.validate(name, args)
    except argspec.ArgumentError as exc:
        return {"failed": True, "msg": str(exc)}
    ctx = ModuleContext(
        host=host, name=name, params=params, check_mode=check_mode, diff_mode=bool(args.get("_ansible_diff"))
    )
    try:
        HANDLERS[name](ctx)
    except ModuleFailed as exc:
        ctx.result.update(exc.extra)
        ctx.result.update({"failed": True, "msg": exc.msg})
    result = ctx.result
    if ctx.diff_mode and "diff" not in result and (ctx.diff["before"] or ctx.diff["after"]):
        result["diff"] = ctx.diff
    if ctx.warnings:
        result["warnings"] = ctx.warnings
    if not args.get("_ansible_no_log"):
        result.setdefault("invocation", {"module_args": _redact(name, params)})
    return result


def _redact(module: str, params: dict[str, Any]) -> dict[str, Any]:
    """Hide no_log options (from the docs) and anything named like a password, as Ansible.Basic does."""
    secret = {name for name, option in argspec.options(module).items() if option.get("no_log")}
    return {
        k: (
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" if (k in secret or "password" in k) and v is not None else v
        )
        for k, v in params.items()
    }

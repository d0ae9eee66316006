"""A small, strict PowerShell subset for the simulated Windows host (README.md, "PowerShell subset").

`run(host, script)` parses and runs a script against `host.state` and returns a Result: the output objects, the
console text (stdout), the error records and stderr text, and the exit code powershell.exe would give. Anything
outside the subset (syntax, command, parameter, member, type, provider) raises NotSimulated naming it.

Extending it: a cmdlet is one `@cmdlet(...)` function (commands.py), a native executable one `@native(...)`
function, a .NET type one `types.register(TypeInfo(...))`, a provider one `@provider` class (providers.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.windows.powershell.errors import (
    BreakSignal,
    ContinueSignal,
    ExitSignal,
    NotSimulated,
    PSError,
    ReturnSignal,
)

if TYPE_CHECKING:  # the interpreter is imported when a script runs (lab.windows.acl imports errors from here)
    from lab.windows.powershell.interpreter import Interpreter

__all__ = ["NotSimulated", "PSError", "Result", "context", "run"]

_LOADED = False


def _load() -> None:
    """Register the cmdlets, natives, types and providers (imports are deferred to avoid import cycles)."""
    global _LOADED
    if _LOADED:
        return
    from lab.windows.commands import native, sources, statements  # noqa: F401
    from lab.windows.powershell import certificates, cmdlets, providers, security  # noqa: F401

    _LOADED = True


@dataclasses.dataclass
class Result:
    objects: list[Any]
    stdout: str
    stderr: str
    rc: int
    errors: list[PSError]
    terminated: bool  # an uncaught terminating error stopped the script
    host_out: str
    warnings: list[str]
    interpreter: Interpreter
    exit_value: Any = None  # what ended the script early (a role-library module's Exit-Json result)


def context(host: Any, location: str | None = None) -> Interpreter:
    """A session on host without a script: for callers that use the providers directly (Test-AnsiblePath)."""
    _load()
    from lab.windows.powershell.interpreter import Interpreter

    interp = Interpreter(host)
    if location is not None:
        interp.location = location
    return interp


def run(
    host: Any,
    script: str,
    *,
    location: str | None = None,
    parameters: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    module_args: dict[str, Any] | None = None,
    recorder: Callable[[str], None] | None = None,
    error_action: str | None = None,
) -> Result:
    _load()
    from lab.windows.powershell.cmdlets.legacy import LegacyExit
    from lab.windows.powershell.output import render
    from lab.windows.powershell.parser import parse

    body = parse(script)
    interp = context(host, location)
    interp.recorder = recorder
    interp.module_args = module_args
    interp.global_scope.vars["args"] = []  # a script run without arguments
    for name, value in (variables or {}).items():
        interp.global_scope.vars[name.lower()] = value
    if error_action:
        interp.global_scope.vars["erroractionpreference"] = error_action
    out: list[Any] = []
    terminated = False
    exit_code: int | None = None
    exit_value = None
    try:
        if body.params is not None:
            interp.bind_params(body, [("param", k, v) for k, v in (parameters or {}).items()], None)
        elif parameters:  # a script without param(): named parameters land in $args as `-Name:` and the value
            interp.global_scope.vars["args"] = [x for k, v in parameters.items() for x in (f"-{k}:", v)]
        if body.begin or body.process or body.end:
            raise NotSimulated("begin/process/end blocks at the script level")
        interp.run_body(body, out, record=True)
    except ExitSignal as signal:
        exit_code = signal.code
    except LegacyExit as signal:
        exit_value = signal.result
    except (BreakSignal, ContinueSignal, ReturnSignal):
        pass
    except PSError as error:
        interp.error_sinks[0].append(error)
        terminated = True
    errors = interp.error_sinks[0]
    stderr = "".join(interp.stderr_chunks) + "".join(error.display() + "\r\n" for error in errors)
    if exit_code is None:
        if terminated:
            exit_code = 1
        elif interp.last_native:
            exit_code = interp.last_exit_code
        else:
            exit_code = 1 if interp.last_failed else 0
    return Result(
        objects=out,
        stdout=render(out),
        stderr=stderr,
        rc=exit_code,
        errors=errors,
        terminated=terminated,
        host_out="".join(interp.host_out),
        warnings=interp.warnings,
        interpreter=interp,
        exit_value=exit_value,
    )

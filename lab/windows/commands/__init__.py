"""Recognised command lines of win_command / win_shell / win_powershell / raw (listed in README.md).

Anything else raises NotSimulated, which the calling module turns into a failed task naming the command.
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows.commands.base import NotSimulated, Outcome, split_outside, unquote
from lab.windows.commands.native import NATIVE
from lab.windows.commands.pipeline import apply_segment, render
from lab.windows.commands.sources import (
    SID_TO_NAME,
    SOURCES,
    VERSION_FORMS,
    file_version,
    get_mppreference,
    sid_to_name,
)
from lab.windows.commands.statements import run_statement

__all__ = ["NotSimulated", "Outcome", "run_raw", "run_script"]


def run_powershell_line(host: Any, line: str) -> Outcome:
    """One PowerShell statement (possibly a pipeline) → Outcome with objects and rendered text."""
    for pattern, handler in NATIVE:
        match = pattern.match(line)
        if match:
            return handler(host, match)
    expressions = [(form, lambda m: file_version(host, m["path"], m["prop"])) for form in VERSION_FORMS]
    expressions.append((SID_TO_NAME, lambda m: sid_to_name(host, m["sid"])))
    for form, evaluate in expressions:
        match = form.match(line)
        if match:
            objects, errors = evaluate(match)
            return Outcome(
                stdout=render(objects, None),
                objects=objects,
                errors=errors,
                stderr="\r\n".join(errors),
                rc=1 if errors else 0,
            )
    statement = run_statement(host, line)
    if statement is not None:
        objects, errors = statement
        return Outcome(errors=errors, stderr="\r\n".join(errors), rc=1 if errors else 0)
    segments = split_outside(line, "|")
    head = segments[0]
    mp_shortcut = re.match(r"^\(Get-MpPreference\)\.(?P<prop>\w+)$", head, re.I)
    if mp_shortcut:
        objects, errors = get_mppreference(host, "")
        objects, _ = apply_segment(objects, f"Select-Object -ExpandProperty {mp_shortcut['prop']}")
    else:
        name, _, args = head.partition(" ")
        source = SOURCES.get(name.lower())
        if source is None:
            raise NotSimulated(line)
        objects, errors = source(host, args)
    mode = None
    for segment in segments[1:]:
        objects, rendering = apply_segment(objects, segment)
        mode = rendering or mode
    return Outcome(
        stdout=render(objects, mode),
        objects=objects,
        errors=errors,
        stderr="\r\n".join(errors),
        rc=1 if errors else 0,
    )


def statements(script: str) -> list[str]:
    lines = []
    for raw in script.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


POWERSHELL_WRAPPER = re.compile(
    r"^(?:powershell|pwsh)(?:\.exe)?(?:\s+-(?:NoProfile|NonInteractive|NoLogo|ExecutionPolicy\s+\w+))*"
    r"\s+-Command\s+(?P<script>.+)$",
    re.I,
)


def run_script(host: Any, script: str, *, shell: str) -> Outcome:
    """Run each statement; shell is 'cmd' (win_command: native executables only) or 'powershell'."""
    total = Outcome()
    lines = statements(script)
    if not lines:
        raise NotSimulated("(empty command)")
    for line in lines:
        wrapper = POWERSHELL_WRAPPER.match(line)
        if wrapper:
            outcome = run_script(host, unquote(wrapper["script"]), shell="powershell")
        elif shell == "cmd":
            if not any(pattern.match(line) for pattern, _ in NATIVE):
                raise NotSimulated(line)
            outcome = run_powershell_line(host, line)
        else:
            outcome = run_powershell_line(host, line)
        total.stdout += outcome.stdout
        total.stderr += outcome.stderr + (
            "\r\n" if outcome.stderr and not outcome.stderr.endswith("\n") else ""
        )
        total.objects.extend(outcome.objects)
        total.errors.extend(outcome.errors)
        total.rc = outcome.rc
        host.state["commands_run"].append(line)
        del host.state["commands_run"][:-200]
    return total


def run_raw(host: Any, script: str) -> tuple[str, str, int]:
    try:
        outcome = run_script(host, script, shell="powershell")
    except NotSimulated as exc:
        return "", f"lab.windows simulator: command not simulated: {exc}\r\n", 1
    return outcome.stdout, outcome.stderr, outcome.rc

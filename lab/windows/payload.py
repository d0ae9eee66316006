"""Decode what Ansible's winrm connection sends into an Invocation (the ansible-core 2.19+ wire format).

This is the contract with ansible-core: the contract test in tests/lab/windows fails loudly if it changes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import Any

SEPARATOR = b"\n\0\0\0\0\n"
MODULE_SCRIPT = re.compile(
    r"^ansible_collections\.(?P<ns>\w+)\.(?P<coll>\w+)\.plugins\.modules\.(?P<name>\w+)\.ps1$"
)
BUILTIN_SCRIPT = re.compile(r"^ansible\.modules\.(?P<name>\w+)\.ps1$")


class PayloadError(ValueError):
    """The command line or stdin does not match the format this simulator understands."""


@dataclasses.dataclass
class Invocation:
    """One thing Ansible asked the host to run."""

    kind: str  # "module" | "exec_script" | "raw"
    name: str  # module short name, exec script name (winrm_put_file.ps1 ...) or "raw"
    fqcn: str = ""
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    script: str = ""  # the decoded PowerShell of a raw command
    extra_input: bytes = b""
    actions: list[str] = dataclasses.field(default_factory=list)
    source: str = ""  # the module's PowerShell source (from the exec manifest), for role-library modules


def decode_command_line(command: str, arguments: list[str]) -> str:
    """Return the PowerShell script carried by -EncodedCommand, else the plain command line."""
    line = " ".join([command, *arguments])
    match = re.search(r"-EncodedCommand\s+(\S+)", line, re.IGNORECASE)
    if not match:
        return line
    token = match.group(1)
    for quote in ('^"', '"', "'"):
        token = token.replace(quote, "")
    try:
        return base64.b64decode(token).decode("utf-16-le")
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"cannot decode -EncodedCommand: {exc}") from exc


def decode(command: str, arguments: list[str], stdin: bytes) -> Invocation:
    script = decode_command_line(command, arguments)
    if not stdin:
        return Invocation(kind="raw", name="raw", script=script.strip())
    if not script.lstrip().startswith("param([string]$InputFile)"):
        raise PayloadError("stdin given to a command that is not Ansible's bootstrap wrapper")
    parts = stdin.split(SEPARATOR, 2)
    if len(parts) < 2:
        raise PayloadError("stdin has no exec manifest after the bootstrap JSON (format changed?)")
    try:
        bootstrap = json.loads(parts[0])
        manifest = json.loads(parts[1])
    except json.JSONDecodeError as exc:
        raise PayloadError(f"stdin JSON not parseable: {exc}") from exc
    if bootstrap.get("name") != "exec_wrapper":
        raise PayloadError(f"bootstrap manifest name is {bootstrap.get('name')!r}, expected 'exec_wrapper'")
    actions = manifest.get("actions")
    if not isinstance(actions, list) or not actions or "scripts" not in manifest:
        raise PayloadError("exec manifest lacks 'scripts'/'actions' (format changed?)")
    extra = parts[2] if len(parts) > 2 else b""
    names = [str(action.get("name")) for action in actions]
    last = actions[-1]
    if last.get("name") != "module_wrapper.ps1":
        return Invocation(
            kind="exec_script",
            name=str(last.get("name")),
            params=dict(last.get("params") or {}),
            extra_input=extra,
            actions=names,
        )
    params = last.get("params") or {}
    script_name = str(params.get("Script", ""))
    match = MODULE_SCRIPT.match(script_name)
    if match:
        fqcn = f"{match['ns']}.{match['coll']}.{match['name']}"
        name = match["name"]
    elif builtin := BUILTIN_SCRIPT.match(script_name):
        fqcn = f"ansible.builtin.{builtin['name']}"
        name = builtin["name"]
    else:
        fqcn = name = script_name.removesuffix(".ps1")
    variables = params.get("Variables") or []
    args: dict[str, Any] | None = None
    for variable in variables:
        if variable.get("Name") == "complex_args":
            args = dict(variable.get("Value") or {})
    if args is None:
        raise PayloadError(
            f"module {fqcn}: no complex_args variable in module_wrapper params (format changed?)"
        )
    script = (manifest.get("scripts") or {}).get(script_name) or {}
    try:
        source = base64.b64decode(script.get("script") or "").decode("utf-8-sig")
    except (ValueError, UnicodeDecodeError):
        source = ""
    return Invocation(
        kind="module", name=name, fqcn=fqcn, args=args, params=params, extra_input=extra, actions=names,
        source=source,
    )

"""The process environment a module sees on the simulated host, and ExpandEnvironmentVariables.

A module runs as the WinRM user, so the user part of the environment (TEMP, USERPROFILE, APPDATA, ...) is that
user's, like a real WinRM session. `expand` follows [System.Environment]::ExpandEnvironmentVariables (Win32
ExpandEnvironmentStrings): `%NAME%` is replaced when NAME is defined (names compare case-insensitively), anything
else - an undefined `%NAME%`, a lone `%` - is kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"%([^%]+)%")


def machine(host: Any) -> dict[str, str]:
    """The machine and WinRM user part of a module process' environment (names keep their Windows spelling)."""
    state = host.state
    user = host.user
    profile = f"C:\\Users\\{user}"
    domain = state.get("domain") or "WORKGROUP"
    return {
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "APPDATA": f"{profile}\\AppData\\Roaming",
        "CommonProgramFiles": "C:\\Program Files\\Common Files",
        "CommonProgramFiles(x86)": "C:\\Program Files (x86)\\Common Files",
        "CommonProgramW6432": "C:\\Program Files\\Common Files",
        "COMPUTERNAME": state["hostname"],
        "ComSpec": "C:\\Windows\\system32\\cmd.exe",
        "DriverData": "C:\\Windows\\System32\\Drivers\\DriverData",
        "LOCALAPPDATA": f"{profile}\\AppData\\Local",
        "NUMBER_OF_PROCESSORS": "2",
        "OS": "Windows_NT",
        "Path": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;"
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\;C:\\Windows\\System32\\OpenSSH\\;"
        f"{profile}\\AppData\\Local\\Microsoft\\WindowsApps",
        "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC;.CPL",
        "PROCESSOR_ARCHITECTURE": "AMD64",
        "ProgramData": "C:\\ProgramData",
        "ProgramFiles": "C:\\Program Files",
        "ProgramFiles(x86)": "C:\\Program Files (x86)",
        "ProgramW6432": "C:\\Program Files",
        "PUBLIC": "C:\\Users\\Public",
        "SystemDrive": "C:",
        "SystemRoot": "C:\\Windows",
        "TEMP": f"{profile}\\AppData\\Local\\Temp",
        "TMP": f"{profile}\\AppData\\Local\\Temp",
        "USERDOMAIN": state["hostname"] if domain == "WORKGROUP" else domain.split(".")[0].upper(),
        "USERNAME": user,
        "USERPROFILE": profile,
        "windir": "C:\\Windows",
    }


def variables(host: Any, invocation: Any = None) -> dict[str, str]:
    """The environment of a module process: the machine's variables, then the task's `environment:`, which
    ansible-core hands to module_wrapper.ps1 in the `Environment` parameter of its exec manifest entry;
    module_wrapper.ps1 (line ~115) sets each with [Environment]::SetEnvironmentVariable before the module runs.
    Without an explicit invocation, the one being run: a host runs one at a time (under its lock) and appends it
    to `host.invocations` before dispatching it."""
    environment = machine(host)
    if invocation is None:
        invocations = getattr(host, "invocations", None) or []
        invocation = invocations[-1] if invocations else None
    params = getattr(invocation, "params", None) or {}
    task = params.get("Environment") or {}
    lowered = {k.lower(): k for k in environment}
    for name, value in task.items():
        environment.pop(lowered.get(str(name).lower(), ""), None)
        environment[str(name)] = "" if value is None else str(value)
    return environment


def lookup(host: Any, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in variables(host).items() if key.lower() == wanted), None)


def expand_with(text: str, environment: Mapping[str, str]) -> str:
    """[Environment]::ExpandEnvironmentVariables with a given environment block."""
    env = {key.lower(): value for key, value in environment.items()}
    return _REFERENCE.sub(lambda m: env.get(m.group(1).lower(), m.group(0)), text)


def expand(host: Any, text: str) -> str:
    """[System.Environment]::ExpandEnvironmentVariables(text) in the module process on host."""
    return expand_with(text, variables(host))

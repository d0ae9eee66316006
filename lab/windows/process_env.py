"""The environment variables a module process sees on the simulated host.

The machine's variables, then the task's `environment:`, which ansible-core hands to module_wrapper.ps1 in the
`Environment` parameter of its exec manifest entry; module_wrapper.ps1 (line ~115) sets each one with
[Environment]::SetEnvironmentVariable before the module runs, so [Environment]::ExpandEnvironmentVariables in a
module (and Ansible.Basic's `path` type) sees them.
"""

from __future__ import annotations

from typing import Any

from lab.windows.payload import Invocation


def machine(state: dict[str, Any], user: str) -> dict[str, str]:
    profile = f"C:\\Users\\{user}"
    temp = f"{profile}\\AppData\\Local\\Temp"
    return {
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "APPDATA": f"{profile}\\AppData\\Roaming",
        "CommonProgramFiles": "C:\\Program Files\\Common Files",
        "COMPUTERNAME": str(state["hostname"]).upper(),
        "ComSpec": "C:\\Windows\\system32\\cmd.exe",
        "LOCALAPPDATA": f"{profile}\\AppData\\Local",
        "NUMBER_OF_PROCESSORS": "2",
        "OS": "Windows_NT",
        "PROCESSOR_ARCHITECTURE": "AMD64",
        "ProgramData": "C:\\ProgramData",
        "ProgramFiles": "C:\\Program Files",
        "ProgramFiles(x86)": "C:\\Program Files (x86)",
        "PUBLIC": "C:\\Users\\Public",
        "SystemDrive": "C:",
        "SystemRoot": "C:\\Windows",
        "TEMP": temp,
        "TMP": temp,
        "USERDOMAIN": str(state["hostname"]).upper(),
        "USERNAME": user,
        "USERPROFILE": profile,
        "windir": "C:\\Windows",
    }


def for_invocation(host: Any, invocation: Invocation | None) -> dict[str, str]:
    """Machine variables overlaid with the task's environment (names are case-insensitive on Windows)."""
    environment = machine(host.state, host.user)
    task = (invocation.params.get("Environment") if invocation is not None else None) or {}
    lowered = {k.lower(): k for k in environment}
    for name, value in task.items():
        environment.pop(lowered.get(str(name).lower(), ""), None)
        environment[str(name)] = "" if value is None else str(value)
    return environment


def current(host: Any) -> dict[str, str]:
    """The environment of the module being run: the host runs one invocation at a time (under its lock) and
    appends it to `host.invocations` before dispatching it."""
    invocations = getattr(host, "invocations", None) or []
    return for_invocation(host, invocations[-1] if invocations else None)

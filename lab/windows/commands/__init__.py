"""What win_command / win_shell / win_powershell / raw run (listed in README.md, "Commands").

- win_command (`shell="cmd"`): one process per line: a native executable of the registry (vssadmin, net, msdtc,
  msiexec, reg, icacls) with its arguments, or `powershell[.exe] [-NoProfile] [-NonInteractive] [-NoLogo]
  [-ExecutionPolicy X] -Command <script>`, which runs the script in the PowerShell subset.
- win_shell, win_powershell, raw (`shell="powershell"`): the script runs in the PowerShell subset
  (lab.windows.powershell), where the same native executables and the simulated cmdlets are available.

Anything else raises NotSimulated, which the calling module turns into a failed task naming the command.
"""

from __future__ import annotations

from typing import Any

from lab.windows import powershell
from lab.windows.commands import native, sources, statements  # noqa: F401  (importing registers them)
from lab.windows.commands.base import NotSimulated, Outcome, argv
from lab.windows.powershell.commands import NATIVES, NativeCall, native_name

__all__ = ["NotSimulated", "Outcome", "run_raw", "run_script"]

POWERSHELL_NAMES = ("powershell", "powershell.exe", "pwsh", "pwsh.exe")
POWERSHELL_FLAGS = ("-noprofile", "-noninteractive", "-nologo")


def record(host: Any, line: str) -> None:
    host.state["commands_run"].append(line)
    del host.state["commands_run"][:-200]


def run_command_line(host: Any, line: str, location: str | None = None) -> Outcome:
    """One line of win_command: a native executable, or powershell.exe -Command."""
    words = argv(line)
    if not words:
        raise NotSimulated("(empty command)")
    exe = words[0].replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if exe in POWERSHELL_NAMES:
        index = 1
        while index < len(words) and words[index].lower() in POWERSHELL_FLAGS + ("-executionpolicy",):
            index += 2 if words[index].lower() == "-executionpolicy" else 1
        if index < len(words) and words[index].lower() in ("-command", "-c"):
            index += 1  # powershell.exe takes the remaining arguments as -Command when none is named
        elif index >= len(words) or words[index].startswith("-"):
            raise NotSimulated(line)
        return run_script(host, " ".join(words[index:]), shell="powershell", location=location)
    key = native_name(words[0])
    if key is None:
        raise NotSimulated(line)
    result = NATIVES[key](NativeCall(host, words[0], words[1:]))
    record(host, line)
    return Outcome(stdout=result.stdout, stderr=result.stderr, rc=result.rc)


def run_script(host: Any, script: str, *, shell: str, location: str | None = None) -> Outcome:
    """Run a command (`cmd`: native executables only) or a PowerShell script (`powershell`), PowerShell in
    `location` (default: the user's profile directory)."""
    if shell == "cmd":
        lines = [line.strip() for line in script.replace("\r\n", "\n").split("\n") if line.strip()]
        if not lines:
            raise NotSimulated("(empty command)")
        total = Outcome()
        for line in lines:
            outcome = run_command_line(host, line, location)
            total.stdout += outcome.stdout
            total.stderr += outcome.stderr
            total.objects.extend(outcome.objects)
            total.errors.extend(outcome.errors)
            total.rc = outcome.rc
        return total
    if not script.strip():
        raise NotSimulated("(empty command)")
    result = powershell.run(host, script, location=location, recorder=lambda text: record(host, text))
    return Outcome(
        stdout=result.stdout,
        stderr=result.stderr,
        rc=result.rc,
        objects=result.objects,
        errors=[error.display() for error in result.errors],
    )


def run_raw(host: Any, script: str) -> tuple[str, str, int]:
    try:
        outcome = run_script(host, script, shell="powershell")
    except NotSimulated as exc:
        return "", f"lab.windows simulator: command not simulated: {exc}\r\n", 1
    return outcome.stdout, outcome.stderr, outcome.rc

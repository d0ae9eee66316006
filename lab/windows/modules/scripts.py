"""win_command, win_shell and win_powershell: commands and scripts run by lab.windows.commands, whose PowerShell
scripts run in the lab's PowerShell subset (lab.windows.powershell)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from lab.windows import powershell, process
from lab.windows.commands import NotSimulated, Outcome, record, run_script
from lab.windows.modules import ModuleContext, module
from lab.windows.powershell.output import ansible_value
from lab.windows.powershell.records import AnsibleObject

SHOULD_PROCESS = re.compile(
    r"\[CmdletBinding\((?:[\w=\$]+,\s*)?SupportsShouldProcess(?:=\$true)?(?:,\s*[\w=\$]+)?\)\]"
)
ERROR_ACTIONS = {"stop": "Stop", "continue": "Continue", "silently_continue": "SilentlyContinue"}


def _guards(ctx: ModuleContext) -> bool:
    """creates / removes with Test-AnsiblePath (files, directories, registry keys, Cert:, Env:)."""
    creates, removes = ctx.params.get("creates"), ctx.params.get("removes")
    if creates and process.test_ansible_path(ctx.host, creates):
        ctx.result.update(msg=f"skipped, since {creates} exists", skipped=True, rc=0)
        return True
    if removes and not process.test_ansible_path(ctx.host, removes):
        ctx.result.update(msg=f"skipped, since {removes} does not exist", skipped=True, rc=0)
        return True
    return False


def _unsupported(ctx: ModuleContext, names: tuple[str, ...]) -> None:
    given = [n for n in names if ctx.params.get(n) not in (None, False, [], {})]
    if given:
        ctx.fail(f"lab.windows simulator: {ctx.name} option(s) not simulated: {', '.join(given)}")


def _run(ctx: ModuleContext, command: str, shell: str, reported: str) -> Outcome:
    """Start-AnsibleWindowsProcess: chdir / output_encoding_override checks first (`reported` is the command the
    module names in "Failed to run: '...'"), then the command in `chdir` (the PowerShell location; native
    executables get their arguments as given); stdin is accepted (no recognised command reads it)."""
    encoding = ctx.params.get("output_encoding_override")
    chdir = ctx.params.get("chdir")
    error = process.start_error(ctx.host, chdir, encoding)
    if error is not None:
        ctx.result["rc"] = error[1]
        ctx.fail(f"Failed to run: '{reported}': {error[0]}")
    start = datetime.datetime.now(datetime.UTC)
    try:
        outcome = run_script(ctx.host, command, shell=shell,
                             location=process.full_path(ctx.host, chdir) if chdir else None)
    except NotSimulated as exc:
        ctx.fail(f"lab.windows simulator: command not simulated by {ctx.name}: {exc}", rc=1, cmd=command)
        raise  # unreachable, ctx.fail raises
    end = datetime.datetime.now(datetime.UTC)
    ctx.result.update(
        cmd=command,
        changed=True,
        rc=outcome.rc,
        stdout=process.decode_output(outcome.stdout, encoding),
        stderr=process.decode_output(outcome.stderr, encoding),
        start=start.strftime("%Y-%m-%d %H:%M:%S.%f"),
        end=end.strftime("%Y-%m-%d %H:%M:%S.%f"),
        delta=str(end - start),
    )
    return outcome


@module("win_command", check_mode=False)
def win_command(ctx: ModuleContext) -> None:
    p = ctx.params
    if p["cmd"]:
        command = p["cmd"]
    elif p["_raw_params"]:
        command = p["_raw_params"].strip()
    elif p["argv"]:
        command = " ".join(f'"{a}"' if " " in a else a for a in p["argv"])
    else:
        ctx.fail("one of the following is required: _raw_params, argv, cmd")
        return
    ctx.result.update(cmd=command, rc=0)
    if _guards(ctx):
        return
    outcome = _run(ctx, command, "cmd", command)
    if outcome.rc != 0:
        ctx.fail("non-zero return code")


@module("win_shell", check_mode=False)
def win_shell(ctx: ModuleContext) -> None:
    p = ctx.params
    if p["executable"] and not re.match(r"^(powershell|pwsh)(\.exe)?$", p["executable"], re.I):
        ctx.fail(f"lab.windows simulator: win_shell executable {p['executable']} is not simulated")
    command = p["cmd"].strip()  # win_shell.ps1 line 69: $module.Params.cmd.Trim()
    ctx.result.update(cmd=command)
    if _guards(ctx):
        return
    outcome = _run(ctx, command, "powershell", "")  # sic: win_shell.ps1 line 170 names the unset $rawCmdLine
    if outcome.rc != 0:
        ctx.fail("non-zero return code")


def _error_record(error: powershell.PSError, depth: int) -> dict[str, Any]:
    """One entry of win_powershell's `error` (the ErrorRecord fields the module returns)."""
    return {
        "output": error.display() + "\r\n",
        "error_details": None,
        "exception": {
            "message": error.message,
            "type": error.exception_type,
            "inner_exception": None if error.inner is None else {
                "message": error.inner.message, "type": error.inner.exception_type,
            },
        },
        "target_object": ansible_value(error.target, depth),
        "category_info": {"category": error.category, "reason": error.exception_type.rsplit(".", 1)[-1],
                          "target_name": "" if error.target is None else str(error.target)},
        "fully_qualified_error_id": error.error_id + (f",{error.command}" if error.command else ""),
        "script_stack_trace": "",
    }


@module("win_powershell")
def win_powershell(ctx: ModuleContext) -> None:
    p = ctx.params
    _unsupported(ctx, ("arguments", "chdir", "path", "remote_src", "sensitive_parameters"))
    if p["executable"] and not re.match(r"^(powershell|pwsh)(\.exe)?$", p["executable"], re.I):
        ctx.fail(f"lab.windows simulator: win_powershell executable {p['executable']} is not simulated")
    script = p["script"]
    if not script:
        ctx.fail("one of the following is required: path, script")
    base: dict[str, Any] = {
        "result": {},
        "host_out": "",
        "host_err": "",
        "output": [],
        "error": [],
        "warning": [],
        "verbose": [],
        "debug": [],
        "information": [],
    }
    ctx.result.update(base)
    # win_powershell.ps1 lines 614-650: its own Test-AnsiblePath (GetAttributes, else Test-Path)
    if p["creates"] and process.test_ansible_path(ctx.host, p["creates"]):
        ctx.result["msg"] = f"skipped, since {p['creates']} exists"
        return
    if p["removes"] and not process.test_ansible_path(ctx.host, p["removes"]):
        ctx.result["msg"] = f"skipped, since {p['removes']} does not exist"
        return
    if ctx.check_mode and not SHOULD_PROCESS.search(script):
        ctx.result["changed"] = True
        ctx.result["msg"] = "skipped, running in check mode"
        return
    if ctx.check_mode:
        ctx.fail(
            "lab.windows simulator: win_powershell scripts with SupportsShouldProcess in check mode are not "
            "simulated"
        )
    ansible = AnsibleObject(ctx.check_mode, f"C:\\Users\\{ctx.host.user}\\AppData\\Local\\Temp")
    depth = int(p["depth"])
    try:
        result = powershell.run(
            ctx.host,
            script,
            parameters=p["parameters"] or None,
            variables={"Ansible": ansible},
            error_action=ERROR_ACTIONS[p["error_action"]],
            recorder=lambda text: record(ctx.host, text),
        )
    except NotSimulated as exc:
        ctx.fail(f"lab.windows simulator: command not simulated by win_powershell: {exc}")
        return
    values = ansible.values
    ctx.result["changed"] = bool(values["changed"])
    try:
        ctx.result["result"] = ansible_value(values["result"], depth)
        ctx.result["output"] = [ansible_value(item, depth - 1) for item in result.objects]
        ctx.result["error"] = [_error_record(error, depth) for error in result.errors]
    except NotSimulated as exc:
        ctx.fail(f"lab.windows simulator: output not simulated by win_powershell: {exc}")
    ctx.result["host_out"] = result.host_out
    ctx.result["host_err"] = "".join(result.interpreter.stderr_chunks)
    ctx.result["warning"] = list(result.warnings)
    ctx.result["verbose"] = list(result.interpreter.verbose)
    if isinstance(values["diff"], dict) and values["diff"]:
        ctx.diff.update({k: ansible_value(v, depth) for k, v in values["diff"].items()})
    if result.terminated or values["failed"]:
        ctx.result["failed"] = True
        if result.errors and result.terminated:
            ctx.result.setdefault("msg", result.errors[-1].display())

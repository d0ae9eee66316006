"""win_command, win_shell and win_powershell over the recognised commands of lab.windows.commands."""

from __future__ import annotations

import datetime
import re
from typing import Any

from lab.windows import filestore, process
from lab.windows.commands import NotSimulated, Outcome, run_script
from lab.windows.commands.base import ps_output
from lab.windows.modules import ModuleContext, module

SHOULD_PROCESS = re.compile(
    r"\[CmdletBinding\((?:[\w=\$]+,\s*)?SupportsShouldProcess(?:=\$true)?(?:,\s*[\w=\$]+)?\)\]"
)


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
    given = [n for n in names if ctx.params.get(n) not in (None, False)]
    if given:
        ctx.fail(f"lab.windows simulator: {ctx.name} option(s) not simulated: {', '.join(given)}")


def _run(ctx: ModuleContext, command: str, shell: str, reported: str) -> Outcome:
    """Start-AnsibleWindowsProcess: chdir / output_encoding_override checks first (`reported` is the command the
    module names in "Failed to run: '...'"), then the command; stdin is accepted (no recognised command reads it)."""
    encoding = ctx.params.get("output_encoding_override")
    error = process.start_error(ctx.host, ctx.params.get("chdir"), encoding)
    if error is not None:
        ctx.result["rc"] = error[1]
        ctx.fail(f"Failed to run: '{reported}': {error[0]}")
    start = datetime.datetime.now(datetime.UTC)
    try:
        outcome = run_script(ctx.host, command, shell=shell)
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


@module("win_powershell")
def win_powershell(ctx: ModuleContext) -> None:
    p = ctx.params
    _unsupported(ctx, ("arguments", "chdir", "parameters", "path", "remote_src", "sensitive_parameters"))
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
    if p["creates"] and filestore.find(ctx.state, p["creates"]) is not None:
        ctx.result["msg"] = f"skipped, since {p['creates']} exists"
        return
    if p["removes"] and filestore.find(ctx.state, p["removes"]) is None:
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
    body = "\n".join(
        line
        for line in script.splitlines()
        if not re.match(r"^\s*(\[CmdletBinding\(.*\)\]|param\(\s*\))\s*$", line, re.I)
    )
    changed = True
    if re.search(r"^\s*\$Ansible\.Changed\s*=\s*\$false\s*$", body, re.I | re.M):
        changed = False
        body = re.sub(r"^\s*\$Ansible\.Changed\s*=\s*\$false\s*$", "", body, flags=re.I | re.M)
    try:
        outcome = run_script(ctx.host, body, shell="powershell")
    except NotSimulated as exc:
        ctx.fail(f"lab.windows simulator: command not simulated by win_powershell: {exc}")
        return
    ctx.result["changed"] = changed
    try:
        ctx.result["output"] = ps_output(outcome.objects, p["depth"])
    except NotSimulated as exc:
        ctx.fail(f"lab.windows simulator: not simulated by win_powershell: {exc}")
    ctx.result["error"] = [
        {"output": e, "exception": {"message": e.split(" : ", 1)[-1]}} for e in outcome.errors
    ]
    if outcome.errors and p["error_action"] == "stop":
        ctx.fail(outcome.errors[0])

"""Role-library modules (`library/*.ps1` next to a playbook or role, sent as `ansible.legacy.<name>`).

The lab runs their real PowerShell source in its PowerShell subset when they are legacy modules
(`#Requires -Module Ansible.ModuleUtils.Legacy`, or `# POWERSHELL_COMMON`, which Ansible sends as
`#AnsibleRequires -PowerShell Ansible.ModuleUtils.Legacy`), with Parse-Args, Get-AnsibleParam,
Exit-Json and Fail-Json from lab.windows.powershell.cmdlets.legacy; module_wrapper.ps1 runs them with
`$ErrorActionPreference = 'Stop'`. Modules needing other module utils (Ansible.Basic, C# utils) are not simulated.
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows import powershell
from lab.windows.commands import record
from lab.windows.payload import Invocation
from lab.windows.powershell.output import json_value

LEGACY = re.compile(
    r"^\s*(#Requires\s+-Modules?|#AnsibleRequires\s+-PowerShell)\s+Ansible\.ModuleUtils\.Legacy\b", re.I | re.M
)
REQUIRES = re.compile(r"^\s*#(?:Requires\s+-Modules?|AnsibleRequires\s+-\w+)\s+(\S+)", re.I | re.M)
SUPPORTED_UTILS = {"ansible.moduleutils.legacy"}


def run_library_module(host: Any, invocation: Invocation) -> dict[str, Any]:
    name = invocation.fqcn
    source = invocation.source
    needs = [u for u in REQUIRES.findall(source) if u.lower() not in SUPPORTED_UTILS]
    if not LEGACY.search(source) or needs:
        utils = ", ".join(needs) or "no Ansible.ModuleUtils.Legacy"
        return {"failed": True, "msg": f"lab.windows simulator: module {name} is not simulated ({utils})"}
    args = {k: v for k, v in invocation.args.items()}
    try:
        result = powershell.run(
            host, source, module_args=args, error_action="Stop", recorder=lambda text: record(host, text)
        )
    except powershell.NotSimulated as exc:
        return {"failed": True, "msg": f"lab.windows simulator: module {name}: {exc} is not simulated"}
    if result.exit_value is not None:
        return json_value(result.exit_value, 0, 99)  # Exit-Json: ConvertTo-Json -Compress -Depth 99
    if result.terminated:
        return {
            "failed": True,
            "msg": f"Unhandled exception while executing module: {result.errors[-1].message}",
        }
    return {"failed": True, "msg": "MODULE FAILURE", "module_stdout": result.stdout, "module_stderr": result.stderr}

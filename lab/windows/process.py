"""What win_command / win_shell do around the command: Test-AnsiblePath for creates/removes and
Start-AnsibleWindowsProcess (ansible.windows module_utils/Process.psm1 + Process.cs) for chdir, stdin and the
output decoding.

The recognised commands produce text; the lab treats it as what the process wrote in UTF-8, which is what
Process.cs arranges (it allocates a console with SetConsoleOutputCP(65001)) and what it decodes by default.
"""

from __future__ import annotations

import codecs
from typing import Any

from lab.windows import filestore, powershell
from lab.windows.powershell.cmdlets.items import expand
from lab.windows.powershell.errors import PSError
from lab.windows.powershell.providers import resolve

DIRECTORY_INVALID = 267  # ERROR_DIRECTORY


def full_path(host: Any, path: str) -> str:
    """A file-system path as the module process sees it: relative to its current directory (%USERPROFILE%, where a
    WinRS shell starts)."""
    return resolve(powershell.context(host), path).path


def test_ansible_path(host: Any, path: str) -> bool:
    """Test-AnsiblePath (Ansible.ModuleUtils.FileUtil.psm1 lines 12-44; win_powershell.ps1 line 614 has the same
    rule): a path on a drive that does not exist is False; on the file system [IO.File]::GetAttributes (the literal
    path: a file or a directory); on the other providers (registry keys, Cert:, Env:) Test-Path -Path (wildcards)."""
    ctx = powershell.context(host)
    try:
        resolved = resolve(ctx, path)
    except PSError:  # DriveNotFoundException
        return False
    if resolved.provider.name == "FileSystem":
        return resolved.provider.exists(ctx, resolved.path)
    return bool(expand(ctx, path))


def start_error(host: Any, chdir: str | None, output_encoding: str | None) -> tuple[str, int] | None:
    """Why Start-AnsibleWindowsProcess would fail before the command runs: (message, rc), or None.

    Process.psm1 line 192: a -WorkingDirectory that Test-Path does not find is a Write-Error (terminating under
    the module's ErrorActionPreference Stop; the module's catch reports rc 2). A file as working directory makes
    CreateProcessW fail with ERROR_DIRECTORY (rc 267). Process.cs line 740: an unknown output encoding throws
    from Encoding.GetEncoding after the process was created suspended, so the command never runs (rc 2).
    """
    if chdir:
        found = filestore.find(host.state, full_path(host, chdir))
        if found is None:
            return f"Could not find specified -WorkingDirectory '{chdir}'", 2
        if found[1].get("type") != "directory":
            return (
                'Exception calling "CreateProcess" with "7" argument(s): "CreateProcessW() failed (The directory '
                f'name is invalid, Win32ErrorCode {DIRECTORY_INVALID} - 0x{DIRECTORY_INVALID:08X})"',
                DIRECTORY_INVALID,
            )
    if output_encoding and _codec(output_encoding) is None:
        return (
            f"Exception calling \"CreateProcess\" with \"7\" argument(s): \"'{output_encoding}' is not a supported "
            "encoding name. For information on defining a custom encoding, see the documentation for the "
            'Encoding.RegisterProvider method.\r\nParameter name: name"',
            2,
        )
    return None


def _codec(name: str) -> codecs.CodecInfo | None:
    """Encoding.GetEncoding(name), approximated by Python's codec registry (same IANA / code page names)."""
    try:
        return codecs.lookup(name)
    except LookupError:
        return None


def decode_output(text: str, output_encoding: str | None) -> str:
    """The process wrote `text` as UTF-8; Process.cs decodes it with the override (default utf-8)."""
    if not output_encoding:
        return text
    codec = _codec(output_encoding)
    return text.encode("utf-8").decode(codec.name if codec else "utf-8", errors="replace")

"""Ansible's file-transfer helpers over WinRM: powershell_mkdtemp.ps1 and winrm_put_file.ps1.

Action plugins (win_copy, win_template, ...) use them before calling their module; the module itself must
still be simulated, otherwise the task fails naming it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from lab.windows import environment, filestore
from lab.windows.payload import Invocation


def _expand(host: Any, path: str) -> str:
    """The helpers' paths use %TEMP% / $env:TEMP forms: the WinRM user's environment."""
    path = re.sub(r"\$env:(\w+)", lambda m: environment.lookup(host, m.group(1)) or m.group(0), path, flags=re.I)
    return environment.expand(host, path)


def _mkdtemp(host: Any, params: dict[str, Any]) -> tuple[bytes, bytes, int]:
    directory = _expand(host, str(params.get("Directory") or "%TEMP%"))
    path = f"{directory.rstrip(chr(92))}\\{params.get('Name')}"
    filestore.create(host.state, path, "directory")
    return f"{path}\r\n".encode(), b"", 0


def store_bytes(entry: dict[str, Any], content: bytes) -> None:
    """Keep a file's bytes in its entry: `content` (text) when they are UTF-8, else `content_base64`."""
    entry.pop("content", None)
    entry.pop("content_base64", None)
    entry["size"] = len(content)
    try:
        entry["content"] = content.decode("utf-8")
    except UnicodeDecodeError:
        entry["content_base64"] = base64.b64encode(content).decode("ascii")


def checksum(entry: dict[str, Any], algorithm: str) -> str:
    """Get-FileChecksum of win_stat / win_find: the hex digest of the file's bytes (text or binary)."""
    return hashlib.new(algorithm, content_bytes(entry)).hexdigest()


def content_bytes(entry: dict[str, Any]) -> bytes:
    """The bytes of a file entry (the reverse of store_bytes)."""
    if "content_base64" in entry:
        return base64.b64decode(entry["content_base64"])
    return str(entry.get("content", "")).encode("utf-8")


def _put_file(host: Any, params: dict[str, Any], data: bytes) -> tuple[bytes, bytes, int]:
    path = _expand(host, str(params.get("Path") or ""))
    try:
        content = b"".join(base64.b64decode(line) for line in data.split(b"\r\n") if line.strip())
    except (binascii.Error, ValueError) as exc:
        return b"", f"lab.windows simulator: put_file chunk is not base64: {exc}".encode(), 1
    store_bytes(filestore.create(host.state, path, "file"), content)
    return json.dumps({"sha1": hashlib.sha1(content).hexdigest()}).encode(), b"", 0


def run_exec_script(host: Any, invocation: Invocation) -> tuple[bytes, bytes, int]:
    if invocation.name == "powershell_mkdtemp.ps1":
        return _mkdtemp(host, invocation.params)
    if invocation.name == "winrm_put_file.ps1":
        return _put_file(host, invocation.params, invocation.extra_input)
    message = f"lab.windows simulator: exec script {invocation.name} is not simulated (e.g. fetch_file)"
    return json.dumps({"failed": True, "msg": message}).encode(), message.encode(), 1

"""One simulated Windows host: its state, its lock, persistence and the entry point running an invocation."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

from lab.windows.commands import NotSimulated, run_raw
from lab.windows.defaults import build_state
from lab.windows.modules import run_module
from lab.windows.payload import Invocation
from lab.windows.transfer import run_exec_script

log = logging.getLogger("lab.windows")
TRANSPARENT_ACTIONS = {"become_wrapper.ps1", "exec_wrapper.ps1", "module_wrapper.ps1"}


class SimulatedHost:
    def __init__(
        self, name: str, spec: dict[str, Any], *, workdir: Path | None, user: str, password: str
    ) -> None:
        self.name = name
        self.spec = dict(spec)
        self.user = user
        self.password = password
        self.workdir = workdir
        self.lock = threading.RLock()
        self.state = build_state(name, self.spec)
        self.invocations: list[Invocation] = []  # in memory only, for the contract test and debugging
        self.save()

    @property
    def faults(self) -> dict[str, Any]:
        return self.state.get("faults") or {}

    # -- persistence --------------------
    def state_file(self) -> Path | None:
        return self.workdir / f"{self.name}.json" if self.workdir else None

    def save(self) -> None:
        path = self.state_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.state, indent=2, sort_keys=True, default=str)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.state, default=str))

    # -- execution --------------------
    def execute(self, invocation: Invocation) -> tuple[bytes, bytes, int]:
        with self.lock:
            self.invocations.append(invocation)
            del self.invocations[:-50]
            before = json.dumps(self.state, sort_keys=True, default=str)
            try:
                if invocation.kind == "raw":
                    stdout, stderr, rc = run_raw(self, invocation.script)
                    out: tuple[bytes, bytes, int] = (stdout.encode("utf-8"), stderr.encode("utf-8"), rc)
                elif invocation.kind == "exec_script":
                    out = run_exec_script(self, invocation)
                else:
                    unsupported = [a for a in invocation.actions if a not in TRANSPARENT_ACTIONS]
                    if unsupported:
                        result = {
                            "failed": True,
                            "msg": f"lab.windows simulator: {', '.join(unsupported)} "
                            "(async / coverage) is not simulated",
                        }
                    else:
                        result = run_module(self, invocation)
                    out = (
                        json.dumps(result, default=str).encode("utf-8"),
                        b"",
                        1 if result.get("failed") else 0,
                    )
            except NotSimulated as exc:  # e.g. a creates/removes path on a provider or share the lab does not have
                result = {"failed": True, "msg": f"lab.windows simulator: {invocation.name}: not simulated: {exc}"}
                out = (json.dumps(result).encode("utf-8"), b"", 1)
            except Exception as exc:  # a simulator bug must fail the task loudly, never pass silently
                log.error("internal error on %s: %s", self.name, traceback.format_exc())
                result = {
                    "failed": True,
                    "msg": f"lab.windows simulator internal error: {type(exc).__name__}: {exc}",
                }
                out = (json.dumps(result).encode("utf-8"), b"", 1)
            if json.dumps(self.state, sort_keys=True, default=str) != before:
                self.save()
            return out

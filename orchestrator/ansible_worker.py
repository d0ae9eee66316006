"""The warm executor: one long-lived process that has imported Ansible, forking one child per playbook run.

`python -m orchestrator.ansible_worker`, started by orchestrator/ansible_run.py (the only client) with the
environment every run shares (ANSIBLE_CONFIG, callbacks, ...): Ansible reads its configuration once, at import.
Start-up pays the imports and loads the plugins every run uses (connections, strategies, the project's filters,
the ansible.windows action plugins); each run is then a fork of this warm process that runs the real
`ansible-playbook` command line (PlaybookCLI) with the run's arguments, so every run starts from the same clean
state and nothing one run does leaks into the next. A start-up and a warm-up per playbook is what a hand run
pays, and what this process saves.

Protocol (one JSON document per line; this process is single-threaded, so forking is safe):
- stdout: `{"ready": pid}` once warm; then, per run, the child's events (lines written by the remediate_events
  callback) followed by `{"done": ID, "rc": N, "status": "successful|failed|timeout|canceled|error"}`;
- stdin: `{"run": ID, "args": [...], "cwd": DIR, "env": {...}, "artifacts": DIR, "timeout": S}`, and
  `{"cancel": ID}` while that run goes on. End of input: the current run is killed, then the process exits;
- `{"inventory": ID, "path": FILE, "env": {...}}` reads an inventory (orchestrator.inventory.read_with_ansible, in
  a forked child): answered `{"inventory": ID, "data": {...}}` or `{"inventory": ID, "error": "..."}`.
The child runs in its own process group (its Ansible workers too), so a timeout or a cancel kills them all.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
import traceback
import warnings

CALLBACK = "remediate_events"
WARM_ACTIONS = ("ansible.windows.win_command", "ansible.windows.win_powershell", "ansible.windows.win_service",
                "ansible.windows.win_regedit", "ansible.windows.win_shell", "ansible.builtin.set_fact",
                "ansible.builtin.debug", "ansible.builtin.command", "ansible.builtin.template",
                "ansible.builtin.assert", "ansible.builtin.fail")


def warm_up() -> None:
    """Import and load what every run would otherwise load again in each child (and each task's worker)."""
    from ansible.cli.playbook import PlaybookCLI  # noqa: F401 - the import is the warm-up
    from ansible.plugins.loader import (
        action_loader,
        callback_loader,
        connection_loader,
        filter_loader,
        init_plugin_loader,
        inventory_loader,
        strategy_loader,
        test_loader,
    )

    init_plugin_loader([])
    list(filter_loader.all())
    list(test_loader.all())
    for name in ("winrm", "ssh", "local"):
        connection_loader.get(name, class_only=True)
    for name in ("linear", "free"):
        strategy_loader.get(name, class_only=True)
    for name in WARM_ACTIONS:
        action_loader.get(name, class_only=True)
    for name in ("yaml", "ini", "auto", "host_list"):
        inventory_loader.get(name)
    callback_loader.get("ansible.builtin.default", class_only=True)
    callback_loader.get(CALLBACK, class_only=True)
    import winrm  # noqa: F401 - pywinrm and requests, used by every WinRM task's worker


class LineReader:
    """Lines from a file descriptor, with select() telling the truth: no line waits in a hidden buffer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def fileno(self) -> int:
        return self.fd

    def has_line(self) -> bool:
        return b"\n" in self.buffer or (self.eof and bool(self.buffer))

    def readline(self) -> str:
        """The next line ("" at end of input); blocks until one is complete."""
        while not self.has_line() and not self.eof:
            chunk = os.read(self.fd, 65536)
            self.buffer += chunk
            self.eof = not chunk
        line, sep, self.buffer = self.buffer.partition(b"\n")
        return (line + sep).decode()


def _write(out: int, doc: dict) -> None:
    payload = (json.dumps(doc) + "\n").encode()
    while payload:
        payload = payload[os.write(out, payload):]


def _use_env(env: dict[str, str]) -> None:
    """The request's environment, but the Ansible settings this process was started with (read at import)."""
    for key in [k for k in os.environ if not k.startswith("ANSIBLE_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if not k.startswith("ANSIBLE_")})


def _inventory(req: dict, out: int) -> None:
    """Read an inventory in a forked child (orchestrator.inventory.read_with_ansible) and answer
    `{"inventory": ID, "data": {...}}` or `{"inventory": ID, "error": "..."}`."""
    pid = os.fork()
    if pid == 0:
        answer: dict = {"inventory": req["inventory"], "error": "the inventory could not be read"}
        try:
            _use_env(req["env"])
            from orchestrator.errors import InventoryError
            from orchestrator.inventory import read_with_ansible

            try:
                answer = {"inventory": req["inventory"], "data": read_with_ansible(req["path"])}
            except InventoryError as exc:
                answer = {"inventory": req["inventory"], "error": exc.message}
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                _write(out, answer)
            finally:
                os._exit(0)
    os.waitpid(pid, 0)


def _child(req: dict, events_fd: int) -> None:
    """In the forked child: become the ansible-playbook run (never returns)."""
    rc = 250
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        artifacts = req["artifacts"]
        os.makedirs(artifacts, mode=0o700, exist_ok=True)
        out = os.open(os.path.join(artifacts, "stdout"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        _use_env(req["env"])
        os.environ["REMEDIATE_EVENTS_DIR"] = os.path.join(artifacts, "job_events")
        os.environ["REMEDIATE_EVENTS_FD"] = str(events_fd)
        os.chdir(req["cwd"])
        from ansible.cli.playbook import PlaybookCLI

        rc = PlaybookCLI(["ansible-playbook", *req["args"]]).run()
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 250
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run(req: dict, stdin: LineReader, out: int) -> bool:
    """Fork the child for one run and wait for it; returns False when the input ended (time to exit)."""
    pid = os.fork()
    if pid == 0:
        _child(req, out)
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + float(req.get("timeout") or 900)
    status, alive = None, True
    try:
        while True:
            wait = 0.0 if stdin.has_line() else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([pidfd, stdin], [], [], wait)
            if stdin.has_line() and stdin not in ready:
                ready.append(stdin)
            if pidfd in ready:
                break
            if stdin in ready:
                line = stdin.readline()
                if not line:
                    status, alive = "canceled", False
                    _kill(pid)
                    break
                if json.loads(line).get("cancel") == req["run"]:
                    status = "canceled"
                    _kill(pid)
                    break
            if not ready and time.monotonic() >= deadline:
                status = "timeout"
                _kill(pid)
                break
    finally:
        os.close(pidfd)
    try:
        _, code = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(code)
    except ChildProcessError:
        rc = -1
    if status is None:
        status = "successful" if rc == 0 else "failed" if rc > 0 and rc != 250 else "error"
    _write(out, {"done": req["run"], "rc": rc, "status": status})
    return alive


def main() -> int:
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client cancels runs; Ctrl-C at a terminal is its business
    out = os.dup(1)
    os.dup2(2, 1)  # anything Ansible prints here goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    warm_up()
    _write(out, {"ready": os.getpid()})
    stdin = LineReader(0)
    while True:
        line = stdin.readline()
        if not line:
            return 0
        req = json.loads(line)
        if "inventory" in req:
            _inventory(req, out)
        elif "run" in req and not _run(req, stdin, out):
            return 0


if __name__ == "__main__":
    sys.exit(main())

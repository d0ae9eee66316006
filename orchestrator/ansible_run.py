"""The one place that runs Ansible, and knows its quirks.

- Playbooks run in a warm executor (orchestrator/ansible_worker.py): one process per orchestrator process that
  imported Ansible once and forks one real `ansible-playbook` run (PlaybookCLI) per playbook, so a remediation
  of several steps does not pay Python and Ansible start-up for each. Its settings (ANSIBLE_*) are read once:
  other settings start another executor;
- events come from our callback plugin (ansible_plugins/callback/remediate_events.py) shaped like
  ansible-runner's, and the artifacts are laid out like ansible-runner's (artifacts/run/stdout, job_events/,
  command, rc, status);
- Ctrl-C cancels the run (its whole process group is killed), it is not orphaned; failure is a status, not an
  exception: we turn the events into a PlaybookRun;
- the run gets the whole process environment (that is how inventories read credentials such as
  REMEDIATE_WINRM_PASSWORD or AZURE_CLIENT_SECRET) plus our settings; the `command` artifact keeps only harmless
  variables, so no secret lands on disk.
Ansible is imported only in the executor, only when a playbook runs.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .changes import describe
from .paths import project_dir

_KEEP_IN_ARTIFACT = ("PATH", "HOME", "LANG", "ANSIBLE_CONFIG", "ANSIBLE_STDOUT_CALLBACK", "NO_PROXY")


@dataclass
class TaskResult:
    host: str
    task: str
    action: str
    status: str  # ok | changed | failed | skipped | unreachable
    changed: bool
    item: str | None = None
    msg: str | None = None
    diff: list[dict] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # readable lines: what changed / would change
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"host": self.host, "name": self.task, "action": self.action,
                                "status": self.status, "changed": self.changed}
        if self.item is not None:
            d["item"] = self.item
        if self.msg:
            d["msg"] = self.msg
        if self.changes:
            d["changes"] = self.changes
        if self.warnings:
            d["warnings"] = self.warnings
        if self.diff:
            d["diff"] = self.diff
        return d


@dataclass
class PlaybookRun:
    playbook: str
    status: str  # successful | failed | timeout | canceled | error
    rc: int | None
    artifacts: Path
    tasks: list[TaskResult] = field(default_factory=list)
    facts: dict[str, dict] = field(default_factory=dict)  # host -> remediate_diagnosis
    results: dict[str, dict[str, dict]] = field(default_factory=dict)  # host -> {remediate_<name> fact: value}
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> message
    failed: dict[str, str] = field(default_factory=dict)  # host -> first failure message
    duration: float = 0.0

    @property
    def changed(self) -> bool:
        return any(t.changed for t in self.tasks)

    def changed_on(self, host: str) -> bool:
        return any(t.changed for t in self.tasks if t.host == host)

    def broke(self, host: str) -> bool:
        """Whether the run did not succeed on this host (one run may serve several hosts: another host's failure
        makes the run's status `failed`, not this host's)."""
        return (host in self.unreachable or host in self.failed
                or self.status not in ("successful", "failed"))

    def why(self, host: str) -> str:
        return self.unreachable.get(host) or self.failed.get(host) or self.status

    def ok(self) -> bool:
        return self.status == "successful" and not self.failed and not self.unreachable


EventSink = Callable[[TaskResult], None]


class _Cancel:
    """SIGINT sets a flag that ansible-runner polls through cancel_callback."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


def _item_label(res: dict, event_data: dict) -> str | None:
    label = (res.get("_ansible_item_label") if isinstance(res, dict) else None) or event_data.get("item")
    if label is None:
        return None
    if isinstance(label, dict):
        return str(label.get("label") or label.get("name") or json.dumps(label, sort_keys=True))
    return str(label)


def _short(msg: object) -> str:
    text = str(msg or "").strip()
    return text if len(text) <= 2000 else text[:2000] + "…"


def _env(extra_env: dict[str, str] | None) -> dict[str, str]:
    """The process environment with our settings over it (inventories read credentials such as
    REMEDIATE_WINRM_PASSWORD or AZURE_CLIENT_SECRET from it)."""
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update({
        "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_CONFIG": str(project_dir() / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).resolve().parent / "ansible_plugins" / "callback"),
        "ANSIBLE_CALLBACKS_ENABLED": "remediate_events",
        "PYTHONWARNINGS": "ignore",
    })
    # inventories are parsed strictly (orchestrator/inventory.py sets these too): the same settings in every run,
    # so that the warm executor started before the inventory is read is the one the playbooks run in
    env.setdefault("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
    env.setdefault("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
    if extra_env:
        env.update(extra_env)
    return env


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


class _Executor:
    """The client of one warm executor process (orchestrator/ansible_worker.py); runs one playbook at a time."""

    def __init__(self, env: dict[str, str]) -> None:
        self.config = {k: v for k, v in env.items() if k.startswith("ANSIBLE_")}
        self.errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.ansible_worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.errors, env=env | {"PYTHONPATH": _package_root(env)}, cwd=str(project_dir()),
            start_new_session=True)  # Ctrl-C reaches us, not it: we cancel the run
        self.buffer = b""
        self.ready = False
        self.seq = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _line(self, deadline: float, cancel: _Cancel | None = None, on_cancel: Callable[[], None] | None = None
              ) -> dict | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            if cancel is not None and cancel.requested and on_cancel is not None:
                on_cancel()
                on_cancel = None
            wait = min(0.2, max(0.0, deadline - time.monotonic()))
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                if time.monotonic() >= deadline:
                    return None
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def _why(self) -> str:
        self.errors.seek(0)
        tail = self.errors.read()[-2000:].decode(errors="replace").strip()
        return tail.splitlines()[-1] if tail else f"exit status {self.proc.poll()}"

    def _wait_ready(self) -> None:
        if not self.ready:
            first = self._line(time.monotonic() + 120)
            if not first or "ready" not in first:
                raise ExecutorError(f"the Ansible executor did not start: {self._why()}")
            self.ready = True

    def inventory(self, path: str, env: dict[str, str]) -> dict:
        """Ansible's reading of an inventory, done by the executor: {"data": ...} or {"error": "..."}."""
        self._wait_ready()
        self.seq += 1
        self._send({"inventory": self.seq, "path": path, "env": env})
        while True:
            doc = self._line(time.monotonic() + 300)
            if doc is None:
                self.close()
                raise ExecutorError(f"the Ansible executor stopped answering: {self._why()}")
            if doc.get("inventory") == self.seq:
                return doc

    def run(self, request: dict, handle: Callable[[dict], object], cancel: _Cancel) -> tuple[str, int | None]:
        """Send one run; feed its events to `handle`; return (status, rc)."""
        self._wait_ready()
        self.seq += 1
        run_id = self.seq
        self._send({"run": run_id, **request})
        deadline = time.monotonic() + float(request["timeout"]) + 60  # the executor enforces the timeout itself
        while True:
            doc = self._line(deadline, cancel, lambda: self._send({"cancel": run_id}))
            if doc is None:
                self.close()
                raise ExecutorError(f"the Ansible executor stopped answering: {self._why()}")
            if doc.get("done") == run_id:
                return str(doc["status"]), doc.get("rc")
            if "event" in doc:
                handle(doc)

    def _send(self, doc: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(doc) + "\n").encode())
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.errors.close()


class ExecutorError(RuntimeError):
    pass


def _package_root(env: dict[str, str]) -> str:
    """PYTHONPATH for the executor: this package's parent first (a run from a source tree imports this tree)."""
    root = str(Path(__file__).resolve().parent.parent)
    rest = env.get("PYTHONPATH")
    return root + (os.pathsep + rest if rest else "")


_executor: _Executor | None = None
_executor_lock = threading.Lock()


def _executor_for(env: dict[str, str]) -> _Executor:
    """The warm executor of this process; a new one when the Ansible settings (read once, at import) changed."""
    global _executor
    config = {k: v for k, v in env.items() if k.startswith("ANSIBLE_")}
    if _executor is not None and (_executor.config != config or not _executor.alive()):
        _executor.close()
        _executor = None
    if _executor is None:
        _executor = _Executor(env)
    return _executor


def prewarm(extra_env: dict[str, str] | None = None) -> None:
    """Start the warm executor now (it imports Ansible while the caller does other work). Never raises."""
    try:
        with _executor_lock:
            _executor_for(_env(extra_env))
    except OSError:
        pass


def read_inventory(path: Path) -> dict:
    """An inventory as orchestrator.inventory.read_with_ansible reads it, read by the warm executor (this process
    does not import Ansible): the data, or {"error": "..."}. Raises ExecutorError when the executor cannot."""
    env = _env(None)
    try:
        with _executor_lock:
            doc = _executor_for(env).inventory(str(path), env)
    except OSError as exc:  # it could not start, or died under us
        raise ExecutorError(f"the Ansible executor is not available: {exc}") from exc
    return doc["data"] if "data" in doc else {"error": doc.get("error") or "the inventory could not be read"}


@atexit.register
def shutdown() -> None:
    """Stop the warm executor (also at exit)."""
    global _executor
    with _executor_lock:
        if _executor is not None:
            _executor.close()
            _executor = None


def run_playbook(
    playbook: Path,
    *,
    inventory: Path,
    limit: list[str],
    data_dir: Path,
    check: bool = False,
    extravars: dict[str, object] | None = None,
    timeout: int = 900,
    on_task: EventSink | None = None,
    extra_env: dict[str, str] | None = None,
    forks: int | None = None,
) -> PlaybookRun:
    """Run one playbook with a private data dir; return what happened. Never raises for a failed playbook."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = project_dir() / "playbooks"
    result = PlaybookRun(playbook=str(playbook.relative_to(root)), status="error", rc=None,
                         artifacts=data_dir / "artifacts")
    cancel = _Cancel()
    first_failure: dict[str, str] = {}  # host -> the first failed task's message
    stats: dict[str, dict] = {}

    def handle(event: dict) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        host = data.get("host") or ""
        if kind == "playbook_on_stats":  # the final word on which hosts failed (a rescued failure is not one)
            stats.update({k: data.get(k) or {} for k in ("failures", "dark", "rescued", "processed")})
            return True
        status = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
                  "runner_on_unreachable": "unreachable", "runner_item_on_ok": "ok",
                  "runner_item_on_failed": "failed", "runner_item_on_skipped": "skipped"}.get(kind)
        if status is None:
            return True
        if kind == "runner_on_failed" and data.get("ignore_errors"):
            status = "ok"
        elif status == "failed" and isinstance(res, dict) and (res.get("azure_error") or {}).get("kind") == "auth":
            status = "unreachable"  # Azure refused our credentials: like a host refusing them (exit 6)
        changed = bool(res.get("changed")) if isinstance(res, dict) else False
        if status == "ok" and changed:
            status = "changed"
        is_item = kind.startswith("runner_item_")
        if not is_item and isinstance(res, dict) and res.get("results") is not None:
            # a loop's summary event: its items were reported one by one already
            if status == "failed":
                first_failure.setdefault(host, _short(res.get("msg") or "one or more items failed"))
            return True
        diff = res.get("diff") if isinstance(res, dict) else None
        diffs = (diff if isinstance(diff, list) else [diff]) if diff else []
        item = _item_label(res, data) if is_item else None
        module_args = ((res.get("invocation") or {}).get("module_args") if isinstance(res, dict) else None) or {}
        tr = TaskResult(
            host=host, task=data.get("task") or "", action=data.get("task_action") or "",
            status=status, changed=changed, item=item,
            msg=(_short(res.get("msg") or res.get("stderr") or "") if status in ("failed", "unreachable")
                 else _short(res.get("msg")) if isinstance(res, dict) and isinstance(res.get("msg"), str)
                 and not (data.get("task_action") or "").endswith("debug") else None) or None,
            warnings=[_short(w) for w in (res.get("warnings") or [])] if isinstance(res, dict) else [],
            diff=diffs,
            changes=describe(data.get("task_action") or "", module_args, diffs, item) if changed else [],
        )
        result.tasks.append(tr)
        if status == "unreachable":
            result.unreachable[host] = tr.msg or "unreachable"
        elif status == "failed" and not is_item:
            first_failure.setdefault(host, tr.msg or f"task {tr.task!r} failed")
        elif status == "failed":
            first_failure.setdefault(host, tr.msg or f"task {tr.task!r} failed on {tr.item}")
        facts = res.get("ansible_facts") if isinstance(res, dict) else None
        if isinstance(facts, dict):
            if isinstance(facts.get("remediate_diagnosis"), dict):
                result.facts[host] = facts["remediate_diagnosis"]
            for name, value in facts.items():  # other contracts with the engine, e.g. remediate_backup
                if name.startswith("remediate_") and name != "remediate_diagnosis" and isinstance(value, dict):
                    result.results.setdefault(host, {})[name] = value
        if on_task:
            on_task(tr)
        return True  # ansible-runner drops the event unless the handler returns True

    artifacts = data_dir / "artifacts" / "run"
    env = _env(extra_env)
    if extravars:
        _write_private(data_dir / "env" / "extravars", json.dumps(extravars))
    args = ["-i", str(inventory), "--limit", ",".join(limit), "--diff", *(["--check"] if check else []),
            *(["-e", f"@{data_dir / 'env' / 'extravars'}"] if extravars else []),
            *(["--forks", str(forks)] if forks else []), result.playbook]
    _write_private(artifacts / "command", json.dumps({
        "command": ["ansible-playbook", *args], "cwd": str(root),
        "env": {k: (v if k in _KEEP_IN_ARTIFACT else "<redacted>") for k, v in env.items()}}))
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum: int, frame: object) -> None:
            cancel.requested = True
        previous = signal.signal(signal.SIGINT, on_sigint)
    started = time.monotonic()
    try:
        with _executor_lock:
            executor = _executor_for(env)
            try:
                result.status, result.rc = executor.run(
                    {"args": args, "cwd": str(root), "env": env, "artifacts": str(artifacts), "timeout": timeout},
                    handle, cancel)
            except ExecutorError as exc:
                result.status = "error"
                _write_private(artifacts / "stdout", f"{exc}\n")
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        result.duration = time.monotonic() - started
    for name, value in (("rc", str(result.rc)), ("status", result.status)):
        _write_private(artifacts / name, value)
    result.artifacts = artifacts
    if stats:  # a failure a block's rescue handled does not fail the host; the stats say which did
        for host, count in stats["failures"].items():
            if count and host not in result.unreachable:  # a refusal reclassified as unreachable stays that
                result.failed[host] = first_failure.get(host, "a task failed")
        if result.status == "failed":  # a host the run never reached (a play that stopped before it)
            for h in limit:
                if h not in stats["processed"] and h not in result.unreachable:
                    result.failed.setdefault(h, f"ansible-playbook exited {result.rc} before {h} ran")
    else:
        result.failed.update(first_failure)
    if cancel.requested:
        raise KeyboardInterrupt
    if result.status in ("failed", "error") and not result.failed and not result.unreachable:
        stdout = ""
        try:
            stdout = (result.artifacts / "stdout").read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass
        tail = " ".join(line.strip() for line in stdout.strip().splitlines()[-3:])
        for h in limit:
            result.failed.setdefault(h, _short(f"ansible-playbook exited {result.rc}: {tail}"))
    if result.status == "timeout":
        for h in limit:
            result.failed.setdefault(h, f"timed out after {timeout}s")
    return result

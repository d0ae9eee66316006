"""The one place that knows ansible-runner and its quirks.

- event_handler must return True or events are not written to artifacts;
- cancel_callback keeps Ctrl-C working (the run is cancelled, not orphaned);
- failure is a status, not an exception: we turn the events into a PlaybookRun;
- ansible-runner starts ansible-playbook with the whole process environment (that is how inventories read
  credentials such as REMEDIATE_WINRM_PASSWORD or AZURE_CLIENT_SECRET) plus our settings, and writes that
  environment into artifacts/<id>/command: we scrub that file after the run, so no secret lands on disk.
Ansible is imported only here, only when a playbook runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
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


def _scrub_command_artifact(artifact_dir: Path) -> None:
    path = artifact_dir / "command"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    env = data.get("env") or {}
    data["env"] = {k: (v if k in _KEEP_IN_ARTIFACT else "<redacted>") for k, v in env.items()}
    path.write_text(json.dumps(data), encoding="utf-8")


def _env(extra_env: dict[str, str] | None) -> dict[str, str]:
    """Our settings over the process environment (ansible-runner starts from a copy of os.environ)."""
    bindir = str(Path(sys.executable).parent)
    env: dict[str, str] = {}
    env.update({
        "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_CONFIG": str(project_dir() / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "PYTHONWARNINGS": "ignore",
    })
    if extra_env:
        env.update(extra_env)
    return env


def prewarm(extra_env: dict[str, str] | None = None) -> None:
    """Import ansible-runner now, while the caller loads the catalog, the inventory and the store."""
    import ansible_runner  # noqa: F401


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
    """Run one playbook with a private data dir; return what happened. Never raises for a failed playbook.
    Several hosts in `limit` share the run (`forks` of them at a time); the result is per host."""
    import ansible_runner

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
            stats.update({k: data.get(k) or {} for k in ("failures", "dark", "rescued")})
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

    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum: int, frame: object) -> None:
            cancel.requested = True
        previous = signal.signal(signal.SIGINT, on_sigint)
    started = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=str(data_dir),
            project_dir=str(root),
            playbook=result.playbook,
            inventory=str(inventory),
            limit=",".join(limit),
            extravars=extravars or {},
            cmdline=("--check --diff" if check else "--diff") + (f" --forks {int(forks)}" if forks else ""),
            envvars=_env(extra_env),
            event_handler=handle,
            cancel_callback=cancel,
            timeout=timeout,
            quiet=True,
            suppress_env_files=True,
            ident="run",
            rotate_artifacts=0,
        )
        result.status = runner.status
        result.rc = runner.rc
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        result.duration = time.monotonic() - started
        _scrub_command_artifact(result.artifacts / "run")
    result.artifacts = result.artifacts / "run"
    if stats:  # a failure a block's rescue handled does not fail the host; the stats say which did
        for host, count in stats["failures"].items():
            if count and host not in result.unreachable:  # a refusal reclassified as unreachable stays that
                result.failed[host] = first_failure.get(host, "a task failed")
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

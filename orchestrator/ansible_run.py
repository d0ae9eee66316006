"""The one place that knows ansible-runner and its quirks.

- event_handler must return True or events are not written to artifacts;
- cancel_callback keeps Ctrl-C working (the run is cancelled, not orphaned);
- failure is a status, not an exception: we turn the events into a PlaybookRun;
- ansible-runner closes ansible-playbook's pty after the process has exited, and ptyprocess then sleeps 0.1 s "to
  give the kernel time to update process status" (_no_sleep_after_exit);
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
    left_out: set[str] = field(default_factory=set)  # hosts a combined run's guard kept out of this part
    duration: float = 0.0
    host_artifacts: dict[str, Path] = field(default_factory=dict)  # when lanes ran the part: host -> its lane's

    def artifacts_of(self, host: str) -> Path:
        return self.host_artifacts.get(host, self.artifacts)

    @classmethod
    def merged(cls, runs: list[PlaybookRun], hosts: list[list[str]]) -> PlaybookRun:
        """One part run in several lanes (`hosts[i]`: the hosts of lane i) as one result, still per host."""
        first = runs[0]
        out = cls(playbook=first.playbook, status="successful", rc=max((r.rc or 0) for r in runs),
                  artifacts=first.artifacts, duration=max(r.duration for r in runs))
        for run, names in zip(runs, hosts, strict=True):
            out.tasks += run.tasks
            out.facts.update(run.facts)
            out.results.update(run.results)
            out.unreachable.update(run.unreachable)
            out.failed.update(run.failed)
            out.left_out |= run.left_out
            out.host_artifacts.update((h, run.artifacts) for h in names)
            if run.status != "successful":
                out.status = "failed"  # a lane's timeout or error is in its hosts' `failed`
        return out

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


def _on_sigint(cancel: _Cancel) -> object:
    """Ctrl-C cancels the run(s) instead of orphaning them; returns the previous handler (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigint(signum: int, frame: object) -> None:
        cancel.requested = True
    return signal.signal(signal.SIGINT, on_sigint)


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
    preload = project_dir() / "playbooks" / "callback_plugins" / "remediate_preload.py"
    if preload.is_file():  # the Jinja2 plugins loaded once in ansible-playbook, not again in every task's worker
        callbacks = [c for c in os.environ.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if c.strip()]
        paths = [p for p in os.environ.get("ANSIBLE_CALLBACK_PLUGINS", "").split(os.pathsep) if p]
        env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join([str(preload.parent), *paths])  # + ansible-runner's own
        env["ANSIBLE_CALLBACKS_ENABLED"] = ",".join([*callbacks, "remediate_preload"])
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


def _no_sleep_after_exit() -> None:
    """ptyprocess's close() sleeps `delayafterclose` (0.1 s) before checking that the child is gone, even when it
    has already reaped it, which is always so when ansible-runner closes the pty (after its `isalive()` loop and
    the last read to EOF): a tenth of a second per run for nothing. Skip the sleep for a child known to have
    exited; a child still alive is waited for and terminated as before."""
    from ptyprocess import PtyProcess

    original = PtyProcess.close
    if getattr(original, "_skips_sleep_after_exit", False):
        return

    def close(self: PtyProcess, force: bool = True) -> None:
        if getattr(self, "terminated", False):
            self.delayafterclose = 0
        original(self, force)

    close._skips_sleep_after_exit = True  # type: ignore[attr-defined]
    PtyProcess.close = close  # type: ignore[method-assign]


def prewarm(extra_env: dict[str, str] | None = None) -> None:
    """Import ansible-runner now, while the caller loads the catalog, the inventory and the store."""
    import ansible_runner  # noqa: F401


@dataclass
class Part:
    """One playbook of a combined run, limited to some of the run's hosts. A run of several parts is one
    ansible-playbook process (one start-up, one set of connections) whose plays follow each other; each part
    keeps its own result. A host that fails or is unreachable in a part is not in the later ones (Ansible drops
    it from the rest of the run).

    unhealthy_only: only on the hosts whose diagnosis, earlier in the run, says unhealthy or cannot tell (decided
    when the part starts); after: only on the hosts that part (an index) ran on; diagnosed_by: the part (an index)
    whose playbook diagnosed these hosts earlier in the run. Its path is given to this part's plays as
    `remediate_diagnosed_by`: a fix playbook that imports that same diagnose playbook to act on its findings keeps
    the diagnosis just made instead of reading everything again (the diagnose playbook's first task ends its play
    for such a host)."""

    playbook: Path
    hosts: list[str]
    unhealthy_only: bool = False
    after: int | None = None
    diagnosed_by: int | None = None


_MARK = "remediate part "


def _wrapper(parts: list[Part], limit: list[str], root: Path) -> list[dict]:
    """The plays of a combined run: a marker play before each part but an unguarded first (its start event tells
    which part the next events belong to; when the part is guarded, it decides per host whether the part runs
    there, as a fact the part's `when` reads), then the part's playbook imported."""
    plays: list[dict] = []
    for n, part in enumerate(parts):
        guards = []
        if part.hosts != limit:
            guards.append("inventory_hostname in remediate_part_hosts")
        if part.unhealthy_only:
            # exactly the engine's unhealthy (false) or unknown (null); a missing or malformed diagnosis is neither
            guards.append("remediate_diagnosis is defined and remediate_diagnosis is mapping and 'healthy' in "
                          "remediate_diagnosis and (remediate_diagnosis.healthy is sameas false or "
                          "remediate_diagnosis.healthy is none)")
        if part.after is not None:
            guards.append(f"remediate_part_{part.after} | default(false)")
        marker: dict[str, object] = {"name": f"{_MARK}{n}: {part.playbook.name}", "hosts": "all",
                                     "gather_facts": False, "tasks": []}
        entry: dict[str, object] = {"ansible.builtin.import_playbook": str(part.playbook)}
        if part.diagnosed_by is not None:
            assert part.diagnosed_by < n, "a diagnosis is kept from an earlier part only"
            entry["vars"] = {"remediate_diagnosed_by": str(parts[part.diagnosed_by].playbook.relative_to(root))}
        # every host still in the run answers the marker (its guard, or true): the hosts that do not were dropped
        # by the part before (a failure no rescue handled), which is then complete
        marker["tasks"] = [{
            "name": f"{_MARK}{n}", "vars": {"remediate_part_hosts": part.hosts},
            "ansible.builtin.set_fact": {f"remediate_part_{n}": "{{ " + (" and ".join(guards) or "true") + " }}"},
        }]
        if guards:
            entry["when"] = f"remediate_part_{n}"
        # the first part needs no marker unless it is guarded: its events come first, and no part is before it
        plays += [marker, entry] if n or guards else [entry]
    return plays


def run_playbook(playbook: Path, *, inventory: Path, limit: list[str], data_dir: Path, **kwargs: object
                 ) -> PlaybookRun:
    """Run one playbook on the hosts in `limit`; see run_parts."""
    return run_parts([Part(playbook, list(limit))], inventory=inventory, data_dir=data_dir, **kwargs)[0]


def run_parts(
    parts: list[Part],
    *,
    inventory: Path,
    data_dir: Path,
    check: bool = False,
    extravars: dict[str, object] | None = None,
    timeout: int = 900,
    on_task: EventSink | None = None,
    extra_env: dict[str, str] | None = None,
    forks: int | None = None,
    cancel: _Cancel | None = None,
    on_part_done: Callable[[int, PlaybookRun], None] | None = None,
) -> list[PlaybookRun]:
    """Run playbooks with a private data dir, one after the other in one ansible-playbook process; return what
    happened in each. Never raises for a failed playbook. Several hosts may share the run (`forks` of them at a
    time); every result is per host. A host that fails or is unreachable in one part is not in the later ones
    (Ansible drops it from the rest of the run). `on_part_done(index, result)` is called as soon as a part is
    complete, while the run goes on (the last part's result, and any part's when the run ends early, come with
    the return value only)."""
    import ansible_runner

    _no_sleep_after_exit()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = project_dir() / "playbooks"
    limit = list(dict.fromkeys(h for part in parts for h in part.hosts))
    artifacts = data_dir / "artifacts"
    results = [PlaybookRun(playbook=str(part.playbook.relative_to(root)), status="error", rc=None,
                           artifacts=artifacts) for part in parts]
    if len(parts) == 1 and not parts[0].unhealthy_only and parts[0].after is None and parts[0].hosts == limit:
        playbook = results[0].playbook
    else:
        wrapper = data_dir / "ladder.yml"
        wrapper.write_text(json.dumps(_wrapper(parts, limit, root), indent=1), encoding="utf-8")
        playbook = str(wrapper)
    own_cancel = cancel is None
    cancel = cancel or _Cancel()
    first_failure: list[dict[str, str]] = [{} for _ in parts]  # per part: host -> its first failed task's message
    last_part: dict[str, int] = {}  # host -> the last part it had an event in
    runs_on: list[dict[str, bool]] = [{} for _ in parts]  # per guarded part: host -> whether its guard let it run
    guarded = [p.unhealthy_only or p.after is not None or p.hosts != limit for p in parts]
    stats: dict[str, dict] = {}
    current, in_marker = [0], [False]
    started = [time.monotonic()] + [0.0] * (len(parts) - 1)
    reached = [True] + [False] * (len(parts) - 1)

    done_early: set[int] = set()

    def part_done(n: int) -> None:
        """Part n is complete (its next marker has been answered by the hosts still in the run)."""
        if on_part_done is None or n in done_early:
            return
        result, alive = results[n], set(runs_on[n + 1])
        for host, message in first_failure[n].items():
            if host not in alive and host not in result.unreachable:
                result.failed.setdefault(host, message)
        result.status = "failed" if result.failed or result.unreachable else "successful"
        result.artifacts = artifacts / "run"
        result.left_out = {h for h, ran in runs_on[n].items() if not ran}
        done_early.add(n)
        on_part_done(n, result)

    def handle(event: dict) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        host = data.get("host") or ""
        if kind == "playbook_on_stats":  # the final word on which hosts failed (a rescued failure is not one)
            stats.update({k: data.get(k) or {} for k in ("failures", "dark", "rescued")})
            return True
        if kind == "playbook_on_play_start":
            name = str(data.get("name") or data.get("play") or "")
            if in_marker[0] and not name.startswith(_MARK) and current[0] > 0:
                part_done(current[0] - 1)
            in_marker[0] = name.startswith(_MARK)
            if in_marker[0]:
                n = int(name[len(_MARK):].split(":", 1)[0])
                if n != current[0]:
                    now = time.monotonic()
                    results[current[0]].duration = now - started[current[0]]
                    current[0], started[n], reached[n] = n, now, True
            return True
        if in_marker[0]:  # the part's guard, decided per host
            facts = res.get("ansible_facts") if isinstance(res, dict) else None
            if kind == "runner_on_ok" and isinstance(facts, dict):
                runs_on[current[0]][host] = facts.get(f"remediate_part_{current[0]}") is True
            return True
        status = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped",
                  "runner_on_unreachable": "unreachable", "runner_item_on_ok": "ok",
                  "runner_item_on_failed": "failed", "runner_item_on_skipped": "skipped"}.get(kind)
        if status is None:
            return True
        n = current[0]
        part, result = parts[n], results[n]
        if host not in part.hosts or (guarded[n] and not runs_on[n].get(host)):
            return True  # skipped by the part's guard: not this host's part
        last_part[host] = n
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
                first_failure[n].setdefault(host, _short(res.get("msg") or "one or more items failed"))
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
            first_failure[n].setdefault(host, tr.msg or f"task {tr.task!r} failed")
        elif status == "failed":
            first_failure[n].setdefault(host, tr.msg or f"task {tr.task!r} failed on {tr.item}")
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

    previous = _on_sigint(cancel) if own_cancel else None
    status, rc = "error", None
    try:
        runner = ansible_runner.run(
            private_data_dir=str(data_dir),
            project_dir=str(root),
            playbook=playbook,
            inventory=str(inventory),
            limit=",".join(limit),
            extravars=extravars or {},
            cmdline=("--check --diff" if check else "--diff") + (f" --forks {int(forks)}" if forks else ""),
            # several hosts go through each play at their own pace: a slow host does not hold the others at every
            # task (our playbooks use no run_once, serial or cross-host ordering)
            envvars=_env(extra_env) | ({"ANSIBLE_STRATEGY": "free"} if forks and forks > 1 else {}),
            event_handler=handle,
            cancel_callback=cancel,
            timeout=timeout,
            quiet=True,
            suppress_env_files=True,
            ident="run",
            rotate_artifacts=0,
        )
        status, rc = runner.status, runner.rc
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        results[current[0]].duration = time.monotonic() - started[current[0]]
        _scrub_command_artifact(artifacts / "run")
    if cancel.requested and own_cancel:
        raise KeyboardInterrupt
    if stats:  # a failure a block's rescue handled does not fail the host; the stats say which did
        for host, count in stats["failures"].items():
            n = last_part.get(host, 0)
            if count and host not in results[n].unreachable:  # a refusal reclassified as unreachable stays that
                results[n].failed[host] = first_failure[n].get(host, "a task failed")
    else:
        for result, failures in zip(results, first_failure, strict=True):
            result.failed.update(failures)
    hosts_broke = any(r.failed or r.unreachable for r in results)
    tail = None
    for n, (part, result) in enumerate(zip(parts, results, strict=True)):
        result.artifacts = artifacts / "run"
        result.rc = rc
        result.left_out = {h for h, ran in runs_on[n].items() if not ran}
        if not reached[n] and status in ("successful", "failed"):
            # Ansible ends a run when every host of a play failed: a later part never started
            result.status = "failed"
            for h in part.hosts:
                result.failed.setdefault(h, "not run: ansible-playbook ended before this playbook started (an "
                                            "earlier play failed on every host, or the run itself failed)")
            continue
        if (reached[n] and n < current[0]) or (status in ("successful", "failed") and hosts_broke):
            # a part that ran to its end, or a run that failed because of hosts: each part by its own hosts
            result.status = "failed" if result.failed or result.unreachable else "successful"
            continue
        result.status = status
        if status in ("failed", "error"):  # ansible-playbook failed before or outside any host's task
            if tail is None:
                try:
                    stdout = (artifacts / "run" / "stdout").read_text(encoding="utf-8", errors="replace")
                except OSError:
                    stdout = ""
                tail = " ".join(line.strip() for line in stdout.strip().splitlines()[-3:])
            for h in part.hosts:
                result.failed.setdefault(h, _short(f"ansible-playbook exited {rc}: {tail}"))
        elif status == "timeout":
            for h in part.hosts:
                result.failed.setdefault(h, f"timed out after {timeout}s")
    return results


@dataclass
class Lane:
    """The parts of a run for one group of hosts (e.g. one platform), run by its own ansible-playbook process."""

    parts: list[Part]
    data_dir: Path
    forks: int | None = None


def run_lanes(lanes: list[Lane], *, on_task: EventSink | None = None,
              on_part_done: Callable[[int, int, PlaybookRun], None] | None = None,
              **kwargs: object) -> list[list[PlaybookRun]]:
    """Run lanes at the same time (independent host groups: Windows and Linux hosts, say), one ansible-playbook
    process each; results per lane as run_parts gives them (`on_part_done(lane, part, result)` as soon as a
    part of a lane is complete; it may be called from the lanes' threads). Ctrl-C cancels every lane."""
    def done_in(lane: int) -> Callable[[int, PlaybookRun], None] | None:
        return None if on_part_done is None else (lambda n, result: on_part_done(lane, n, result))

    if len(lanes) == 1:
        return [run_parts(lanes[0].parts, data_dir=lanes[0].data_dir, forks=lanes[0].forks, on_task=on_task,
                          on_part_done=done_in(0), **kwargs)]
    from concurrent.futures import ThreadPoolExecutor

    cancel = _Cancel()
    lock = threading.Lock()

    def task(result: TaskResult) -> None:
        with lock:
            on_task(result)  # type: ignore[misc]

    previous = _on_sigint(cancel)
    try:
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="lane") as pool:
            futures = [pool.submit(run_parts, lane.parts, data_dir=lane.data_dir, forks=lane.forks,
                                   on_task=task if on_task else None, on_part_done=done_in(i), cancel=cancel,
                                   **kwargs) for i, lane in enumerate(lanes)]
            results = [f.result() for f in futures]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]
    if cancel.requested:
        raise KeyboardInterrupt
    return results

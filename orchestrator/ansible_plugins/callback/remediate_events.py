"""Streams the events of a playbook run to the orchestrator and keeps them as artifacts.

Enabled by the warm executor (orchestrator/ansible_worker.py) beside the configured stdout callback, whose text
goes to artifacts/<run>/stdout. Each event is one JSON object shaped like ansible-runner's job events
(`event`, `counter`, `uuid`, `event_data` with `host`, `task`, `task_action`, `res`, ...): written to
artifacts/<run>/job_events/<counter>-<uuid>.json and, as one line, to the file descriptor named by
REMEDIATE_EVENTS_FD. A result marked no_log is censored as ansible-runner censors it.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import uuid

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: remediate_events
    type: notification
    short_description: playbook events for the remediate orchestrator
    description: Writes every task result as a JSON event (job_events/ and a pipe to the orchestrator).
    requirements: [REMEDIATE_EVENTS_DIR and REMEDIATE_EVENTS_FD in the environment]
"""

CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


def _default(value: object) -> object:
    ciphertext = getattr(value, "_ciphertext", None)
    if ciphertext is not None:  # a vaulted value stays encrypted
        return {"__ansible_vault": ciphertext.decode() if isinstance(ciphertext, bytes) else str(ciphertext)}
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _censor(res: dict) -> dict:
    if res.get("_ansible_no_log"):
        return {"censored": CENSORED}
    if isinstance(res.get("results"), list):
        res = dict(res, results=[{"censored": CENSORED} if isinstance(i, dict) and i.get("_ansible_no_log") else i
                                 for i in res["results"]])
    return res


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "remediate_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._dir = os.environ.get("REMEDIATE_EVENTS_DIR")
        fd = os.environ.get("REMEDIATE_EVENTS_FD")
        self._fd = int(fd) if fd else None
        self._counter = 0
        self._lock = threading.Lock()
        if self._dir:
            os.makedirs(self._dir, mode=0o700, exist_ok=True)

    def _emit(self, event: str, **data: object) -> None:
        with self._lock:
            self._counter += 1
            doc = {"event": event, "counter": self._counter, "uuid": str(uuid.uuid4()),
                   "created": datetime.datetime.now(datetime.UTC).isoformat(), "event_data": data}
            line = json.dumps(doc, default=_default)
            if self._dir:
                path = os.path.join(self._dir, f"{self._counter}-{doc['uuid']}.json")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(line)
            if self._fd is not None:
                payload = (line + "\n").encode()
                while payload:
                    payload = payload[os.write(self._fd, payload):]

    def _result(self, event: str, result: object, **extra: object) -> None:
        task = result.task  # type: ignore[attr-defined]
        res = _censor(dict(result.result))  # type: ignore[attr-defined]
        self._emit(event, host=result.host.get_name(), task=task.get_name(), task_action=task.action,  # type: ignore[attr-defined]
                   task_uuid=str(task._uuid), res=res, **extra)

    def v2_playbook_on_start(self, playbook: object) -> None:
        self._emit("playbook_on_start", playbook=os.path.basename(getattr(playbook, "_file_name", "") or ""))

    def v2_playbook_on_play_start(self, play: object) -> None:
        self._emit("playbook_on_play_start", play=play.get_name())  # type: ignore[attr-defined]

    def v2_playbook_on_task_start(self, task: object, is_conditional: bool) -> None:
        self._emit("playbook_on_task_start", task=task.get_name(), task_action=task.action)  # type: ignore[attr-defined]

    def v2_runner_on_ok(self, result: object) -> None:
        self._result("runner_on_ok", result)

    def v2_runner_on_failed(self, result: object, ignore_errors: bool = False) -> None:
        self._result("runner_on_failed", result, ignore_errors=ignore_errors)

    def v2_runner_on_skipped(self, result: object) -> None:
        self._result("runner_on_skipped", result)

    def v2_runner_on_unreachable(self, result: object) -> None:
        self._result("runner_on_unreachable", result)

    def v2_runner_item_on_ok(self, result: object) -> None:
        self._result("runner_item_on_ok", result)

    def v2_runner_item_on_failed(self, result: object) -> None:
        self._result("runner_item_on_failed", result)

    def v2_runner_item_on_skipped(self, result: object) -> None:
        self._result("runner_item_on_skipped", result)

    def v2_playbook_on_stats(self, stats: object) -> None:
        self._emit("playbook_on_stats", **{k: dict(getattr(stats, k, {}) or {}) for k in (
            "changed", "dark", "failures", "ignored", "ok", "processed", "rescued", "skipped")})

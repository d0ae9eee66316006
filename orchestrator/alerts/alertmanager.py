"""Prometheus Alertmanager webhooks (webhook_config payload, version "4").

Shape followed (Alertmanager docs, "webhook_config"):
  {"version": "4", "groupKey", "truncatedAlerts", "status": "firing"|"resolved", "receiver", "groupLabels",
   "commonLabels", "commonAnnotations", "externalURL",
   "alerts": [{"status": "firing"|"resolved", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
               "fingerprint"}]}
Each alert of the group is one request (a group never fires as a whole): alerts[i].status decides firing or
resolved; alert_id = alerts[i].fingerprint. Labels read from alerts[i].labels (Alertmanager copies the group's
labels into every alert): the code from `code`, else `error_code`; the VM from `host`, else `vm`, and/or
`azure_resource_id` (the VM's ARM id: map_hosts() tries it first, then the host/vm name). Other labels
(instance, job...) are never used to guess a host.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Catalog
from .codes import lookup_code
from .fields import Draft, alert_id, choice, need_list, need_object, vm_name
from .model import AlertRequest

SOURCE = "alertmanager"
VERSIONS = ("4",)
STATUS = {"firing": "firing", "resolved": "resolved"}
CODE_LABELS = ("code", "error_code")
HOST_LABELS = ("host", "vm")
RESOURCE_ID_LABEL = "azure_resource_id"


def detect(doc: object) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("alerts"), list)
            and ("version" in doc or "groupKey" in doc or "receiver" in doc))


def parse(doc: dict[str, Any], catalog: Catalog) -> list[AlertRequest]:
    version = doc.get("version", "4")
    choice(version, "version", {v: v for v in VERSIONS})
    if "status" in doc:
        choice(doc["status"], "status", STATUS)
    alerts = need_list(doc["alerts"], "alerts", non_empty=True)
    return [_request(need_object(alert, f"alerts[{i}]"), f"alerts[{i}]", catalog) for i, alert in enumerate(alerts)]


def _first(labels: dict[str, Any], names: tuple[str, ...]) -> tuple[object, str] | None:
    for name in names:
        if labels.get(name) not in (None, ""):
            return labels[name], name
    return None


def _request(alert: dict[str, Any], path: str, catalog: Catalog) -> AlertRequest:
    draft = Draft(SOURCE, choice(alert.get("status"), f"{path}.status", STATUS))
    draft.alert_id = draft.take(alert_id, alert.get("fingerprint"), f"{path}.fingerprint")
    labels = need_object(alert.get("labels", {}), f"{path}.labels")
    code = _first(labels, CODE_LABELS)
    if code is None:
        draft.refuse(f"no error code: the alert has no label {' or '.join(CODE_LABELS)}")
    else:
        found = draft.take(lookup_code, catalog, code[0], f"{path}.labels.{code[1]}", "label")
        if found:
            draft.code, draft.matched_by = found
    rid = labels.get(RESOURCE_ID_LABEL)
    if rid not in (None, ""):
        draft.set_vm_id(rid, f"{path}.labels.{RESOURCE_ID_LABEL}")
    host = _first(labels, HOST_LABELS)
    if host is not None:
        name = draft.take(vm_name, host[0], f"{path}.labels.{host[1]}")
        draft.vm_name = name or draft.vm_name
    elif rid in (None, ""):
        draft.refuse(f"no VM: the alert has no label {', '.join(HOST_LABELS)} or {RESOURCE_ID_LABEL}")
    return draft.finish()

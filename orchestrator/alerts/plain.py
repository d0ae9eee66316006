"""The plain form, for pipelines that already know the code and the host (Logic Apps, EDA rulebooks, scripts).

Shape (this project's own): one object `{"code": "...", "host": "..."}`, a list of such objects, or
`{"requests": [...]}`. Per object: `code` (required; a code, an alias such as 320001 as string or number),
`host` or `vm` (the inventory host / VM name) and/or `resource_id` / `azure_resource_id` (the VM's ARM id), optional
`alert_id` and `status` ("firing", the default, or "resolved"). Any other key is a schema error: a typo must not
silently drop a field.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Catalog
from .codes import lookup_code
from .fields import Draft, alert_id, choice, need_list, need_object, payload_error, quote, vm_name
from .model import AlertRequest

SOURCE = "plain"
KEYS = ("code", "host", "vm", "resource_id", "azure_resource_id", "alert_id", "status")
STATUS = {"firing": "firing", "resolved": "resolved"}


def detect(doc: object) -> bool:
    if isinstance(doc, list):
        return True
    if not isinstance(doc, dict):
        return False
    if set(doc) == {"requests"}:
        return True
    return "code" in doc and not {"data", "alerts", "schemaId"} & set(doc)


def parse(doc: dict[str, Any] | list[Any], catalog: Catalog) -> list[AlertRequest]:
    if isinstance(doc, list):
        items, path = need_list(doc, "(top level)", non_empty=True), ""
    elif set(doc) == {"requests"}:
        items, path = need_list(doc["requests"], "requests", non_empty=True), "requests"
    else:
        return [_request(doc, "", catalog)]
    return [_request(need_object(item, f"{path}[{i}]"), f"{path}[{i}]", catalog) for i, item in enumerate(items)]


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _request(item: dict[str, Any], path: str, catalog: Catalog) -> AlertRequest:
    unknown = sorted(k for k in item if k not in KEYS)
    if unknown:
        raise payload_error(_field(path, "*"), f"unknown key {quote(unknown[0])}; expected {', '.join(KEYS)}")
    status = choice(item.get("status", "firing"), _field(path, "status"), STATUS)
    draft = Draft(SOURCE, status)
    draft.alert_id = draft.take(alert_id, item.get("alert_id"), _field(path, "alert_id"))
    if item.get("code") is None:
        raise payload_error(_field(path, "code"), "required")
    found = draft.take(lookup_code, catalog, item["code"], _field(path, "code"), "field")
    if found:
        draft.code, draft.matched_by = found
    rid_key = next((k for k in ("resource_id", "azure_resource_id") if item.get(k) not in (None, "")), None)
    if rid_key:
        draft.set_vm_id(item[rid_key], _field(path, rid_key))
    host_key = next((k for k in ("host", "vm") if item.get(k) not in (None, "")), None)
    if host_key:
        draft.vm_name = draft.take(vm_name, item[host_key], _field(path, host_key)) or draft.vm_name
    elif not rid_key:
        raise payload_error(_field(path, "host"), "required (or vm, resource_id)")
    return draft.finish()

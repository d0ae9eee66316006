"""Alert payloads → remediation requests (issue 11). One module per payload kind behind one `parse()`:

  azure_monitor  built-in Azure Backup alerts, Azure Monitor common alert schema (monitoringService "Azure Backup")
  log_analytics  log search alerts on AddonAzureBackupJobs, common schema (Log Alerts V2, and the V1 shape)
  alertmanager   Prometheus Alertmanager webhooks, version 4
  plain          {"code": ..., "host": ...}, a list of them, or {"requests": [...]}

`parse()` returns one AlertRequest per (alert, dimension row); `map_hosts()` then maps each VM to an inventory host.
Nothing here runs anything or imports Ansible: the caller records every request (refused ones too) and decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import ModuleType

from ..catalog import Catalog
from ..errors import ExitStatus
from ..inventory import Inventory
from . import alertmanager, azure_monitor, log_analytics, plain
from .common import COMMON_SCHEMA_ID, envelope
from .fields import MAX_REQUESTS, load_json, need_object, quote
from .model import MAX_PAYLOAD_BYTES, AlertError, AlertRequest

__all__ = ["MAX_PAYLOAD_BYTES", "AlertError", "AlertRequest", "detect_kind", "map_hosts", "parse", "resolve_codes"]

# Fixed order: the most specific shapes first; `plain` last, it accepts any list.
PARSERS: tuple[tuple[str, ModuleType], ...] = (
    (azure_monitor.SOURCE, azure_monitor),
    (log_analytics.SOURCE, log_analytics),
    (alertmanager.SOURCE, alertmanager),
    (plain.SOURCE, plain),
)


def detect_kind(doc: object) -> str:
    """The payload kind of a decoded document ("azure-monitor", "log-analytics", "alertmanager", "plain"), or
    "unknown". Never raises: meant for logs and for the server's reply."""
    for name, module in PARSERS:
        if module.detect(doc):
            return name
    return "unknown"


def parse(payload: bytes | str, catalog: Catalog) -> list[AlertRequest]:
    """Bytes or text of one JSON alert → its requests, in payload order.

    Raises AlertError when the payload as a whole is unusable (not JSON, too large, not an object or list, of no
    known kind, structurally wrong). A request whose own value is bad (hostile VM name, unknown code...) comes back
    with `problem` set, so one bad row of a group does not hide the good ones."""
    doc = load_json(payload)
    if not isinstance(doc, (dict, list)):
        raise AlertError("alert payload: field (top level): expected an object, got a single value")
    kind = detect_kind(doc)
    module = dict(PARSERS).get(kind)
    if module is None:
        raise _unknown_kind(doc)
    requests = module.parse(doc, catalog)
    if len(requests) > MAX_REQUESTS:
        raise AlertError(f"alert payload: {len(requests)} alerts; at most {MAX_REQUESTS} per payload")
    return requests


def _unknown_kind(doc: object) -> AlertError:
    if isinstance(doc, dict) and doc.get("schemaId") == COMMON_SCHEMA_ID:  # say which part of the envelope is wrong
        need_object(need_object(doc.get("data"), "data").get("essentials"), "data.essentials")
    env = envelope(doc)
    if env is not None:
        path = env.path("essentials", "monitoringService")
        wanted = ", ".join([azure_monitor.MONITORING_SERVICE, *log_analytics.MONITORING_SERVICES])
        return AlertError(f"alert payload: field {path}: expected {wanted}, got "
                          f"{quote(env.essentials.get('monitoringService'))}", field=path)
    return AlertError("alert payload: unknown kind: expected the Azure Monitor common alert schema "
                      "(schemaId azureMonitorCommonAlertSchema), an Alertmanager webhook (version 4) or "
                      '{"code": ..., "host": ...}')


def map_hosts(requests: list[AlertRequest], inventory: Inventory) -> list[AlertRequest]:
    """Fill `host` for each request via Inventory.find_vm (resource id first, case-insensitively, then VM name).

    An unmapped VM gets the problem "VM <name or id> is not in the inventory <path>; nothing was run" (exit 2).
    A VM matched only by name to a host whose azure_resource_id names another VM (same name, another subscription
    or resource group) is refused too. A request that already has a problem keeps it; its host is still filled
    when found, for the record."""
    return [_map_one(request, inventory) for request in requests]


def _map_one(request: AlertRequest, inventory: Inventory) -> AlertRequest:
    if request.vm_name is None and request.resource_id is None:
        if request.problem:
            return request
        return replace(request, problem="no VM in the alert; nothing was run", exit_status=int(ExitStatus.USAGE))
    host = inventory.find_vm(name=request.vm_name, resource_id=request.resource_id)
    label = request.vm_name or request.resource_id
    if host is None:
        problem = f"VM {label} is not in the inventory {inventory.path}; nothing was run"
    elif request.resource_id and host.resource_id and _rid(host.resource_id) != _rid(request.resource_id):
        problem = (f"VM {request.resource_id} is not inventory host {host.name}, whose azure_resource_id is "
                   f"{host.resource_id}; nothing was run")
        host = None
    else:
        return replace(request, host=host.name)
    if request.problem:
        return replace(request, host=host.name if host else None)
    return replace(request, host=None, problem=problem, exit_status=int(ExitStatus.USAGE))


def _rid(resource_id: str) -> str:
    return resource_id.strip().rstrip("/").casefold()


def resolve_codes(requests: list[AlertRequest], catalog: Catalog, env: Mapping[str, str]) -> list[AlertRequest]:
    """Requests that name a failed Azure Backup job but no error code get the job's code from Azure, when
    REMEDIATE_AZURE_ENDPOINT is configured (orchestrator.azure.resolve_by_job); otherwise they stay refused with
    the hint. Without such requests nothing is imported or called."""
    if not any(r.code_missing and r.job_id and r.vault_id for r in requests):
        return requests
    from ..azure import lookup_from_env, resolve_by_job

    lookup = lookup_from_env(env)
    return resolve_by_job(requests, catalog, lookup) if lookup else requests

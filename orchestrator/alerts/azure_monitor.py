"""Built-in Azure Backup alerts ("Azure Monitor based alerts for Azure Backup") in the common alert schema.

Shape followed (common alert schema + a captured built-in "Backup Failure" alert; facts §6):
  data.essentials.monitoringService   "Azure Backup" (this is how the kind is detected)
  data.essentials.monitorCondition    Fired | Resolved (Resolved → status "resolved": acknowledged, nothing runs)
  data.essentials.alertId             the alert id (an ARM id of Microsoft.AlertsManagement/alerts)
  data.essentials.alertTargetIDs      the *vault*, not the VM
  data.essentials.originAlertId       holds the error code in lower case ("..._extensionfailedvsswriterinbadstate_vm")
  data.essentials.description         the error message, English or French
  data.alertContext.linkedResourceId  the VM's ARM id
  data.alertContext.sourceId          the VM's ARM id followed by /providers/Microsoft.RecoveryServices/...
  data.alertContext.extendedInfo      jobId, recommendedActions (ending in an aka.ms/AB-<code> link), ...

The error code, in this order (the first source present decides):
  1. an explicit field. Microsoft documents none for these alerts and captured payloads carry none, so these are
     the names accepted from enriched payloads and from custom properties set on the alert rule or action, first
     present wins: alertContext.errorCode | ErrorCode | JobFailureCode, alertContext.extendedInfo.errorCode |
     ErrorCode, customProperties.errorCode | ErrorCode | JobFailureCode | code. A bad value there is refused, never
     silently replaced by a guess;
  2. a known code inside essentials.originAlertId;
  3. essentials.description matched against the catalog's English and French messages;
  4. the aka.ms/AB-<code> link in alertContext.extendedInfo.recommendedActions.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Catalog
from .codes import code_from_message, code_in_link, code_in_origin_id, lookup_code, runbook_of_message
from .common import Envelope, envelope
from .fields import Draft, alert_id, job_id, opt_object, vault_id
from .model import AlertRequest

SOURCE = "azure-monitor"
MONITORING_SERVICE = "Azure Backup"
CODE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("alertContext", "errorCode"), ("alertContext", "ErrorCode"), ("alertContext", "JobFailureCode"),
    ("alertContext", "extendedInfo", "errorCode"), ("alertContext", "extendedInfo", "ErrorCode"),
    ("customProperties", "errorCode"), ("customProperties", "ErrorCode"), ("customProperties", "JobFailureCode"),
    ("customProperties", "code"),
)


def detect(doc: object) -> bool:
    env = envelope(doc)
    return env is not None and env.monitoring_service() == MONITORING_SERVICE


def parse(doc: dict[str, Any], catalog: Catalog) -> list[AlertRequest]:
    env = envelope(doc)
    assert env is not None, "detect() first"
    draft = Draft(SOURCE, env.status())
    draft.alert_id = draft.take(alert_id, env.essentials.get("alertId"), env.path("essentials", "alertId"))
    context = env.context
    _find_vm(draft, env, context)
    _find_code(draft, env, context, catalog)
    return [draft.finish()]


def _explicit_code(env: Envelope) -> tuple[object, str] | None:
    for names in CODE_FIELDS:
        node: object = env.data
        for name in names:
            node = node.get(name) if isinstance(node, dict) else None
        if node is not None:
            return node, env.path(*names)
    return None


def _find_code(draft: Draft, env: Envelope, context: dict[str, Any], catalog: Catalog) -> None:
    explicit = _explicit_code(env)
    if explicit is not None:
        found = draft.take(lookup_code, catalog, explicit[0], explicit[1], "field")
        if found:
            draft.code, draft.matched_by = found
        return
    origin, description = env.text("originAlertId"), env.text("description")
    extended = opt_object(context, "extendedInfo", env.path("alertContext", "extendedInfo")) or {}
    actions = extended.get("recommendedActions")
    for how, text, finder in (("origin-alert-id", origin, code_in_origin_id), ("message", description,
                              code_from_message), ("link", actions, code_in_link)):
        code = finder(catalog, text) if isinstance(text, str) and text else None
        if code:
            draft.code, draft.matched_by = code, how
            return
    manual = runbook_of_message(catalog, description) if description else None
    if manual:
        draft.refuse(f"field {env.path('essentials', 'description')} matches runbook {manual!r}, which has no error "
                     f"code and only manual guidance (see `remediate explain {manual}`)")
        return
    draft.job_id = job_id(extended.get("jobId"))
    targets = env.essentials.get("alertTargetIDs")
    draft.vault_id = vault_id(targets[0]) if isinstance(targets, list) and len(targets) == 1 else None
    lookup = (f"; the job {draft.job_id} can tell (set REMEDIATE_AZURE_ENDPOINT to let remediate look it up)"
              if draft.job_id and draft.vault_id else "")
    draft.refuse_no_code(f"no error code in the alert: no explicit code field, no known code in "
                         f"{env.path('essentials', 'originAlertId')}, and {env.path('essentials', 'description')} "
                         f"matches no documented message (English or French){lookup}")


def _find_vm(draft: Draft, env: Envelope, context: dict[str, Any]) -> None:
    linked, source = context.get("linkedResourceId"), context.get("sourceId")
    linked_path, source_path = env.path("alertContext", "linkedResourceId"), env.path("alertContext", "sourceId")
    if linked is None and source is None:
        draft.refuse(f"no virtual machine in the alert: {linked_path} and {source_path} are both missing")
        return
    if linked is not None:
        draft.set_vm_id(linked, linked_path)
    else:
        draft.set_vm_id(source, source_path)
        return
    if source is not None and draft.resource_id:
        other = Draft(SOURCE, draft.status)
        other.set_vm_id(source, source_path)
        if other.resource_id and other.resource_id.casefold() != draft.resource_id.casefold():
            draft.resource_id = draft.vm_name = None
            draft.refuse(f"{linked_path} and {source_path} name different virtual machines")

"""Log search alerts on Azure Backup's Log Analytics tables (AddonAzureBackupJobs), in the common alert schema.

Shapes followed (Azure Monitor "Common alert schema" and "Sample payloads for log search alerts"):
  Log alerts V2 (API 2021-08-01+, data.essentials.monitoringService "Log Alerts V2"):
    data.alertContext.conditionType            "LogQueryCriteria"
    data.alertContext.condition.allOf[]        one entry per dimension combination that fired → one request each
    data.alertContext.condition.allOf[i].dimensions[]   [{"name": "JobFailureCode", "value": "..."}, ...]
  Log alerts V1 (monitoringService "Log Analytics" or "Application Insights"):
    data.alertContext.SearchResults.tables[]   {"name", "columns": [{"name", "type"}], "rows": [[...], ...]}
                                               → one request per row of every table
    data.alertContext.Dimensions[]             [{"name", "value"}]: one row, used when the search results were
                                               left out (IncludedSearchResults "False", payloads over 256 KB)
  data.essentials.monitorCondition Fired | Resolved applies to every row.

Dimensions / columns read (names case-insensitive; the `_s` suffix of AzureDiagnostics-mode columns is ignored):
  JobFailureCode        the error code: a name, or a numeric alias such as 320001 (string or number)
  DatasourceResourceId  the VM's ARM id (resource-specific AddonAzureBackupJobs)
  BackupItemUniqueId    '<region>;<item id>;iaasvmcontainerv2;<resource group>;<vm>' (fields.vm_from_backup_item)
Split the alert rule by JobFailureCode and DatasourceResourceId (or BackupItemUniqueId) so both arrive. A row that
names no VM uses the rule's target when essentials.alertTargetIDs is exactly one VM; otherwise it is refused.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Catalog
from .codes import lookup_code
from .common import Envelope, envelope
from .fields import (
    MAX_REQUESTS,
    VM_ID_RE,
    Draft,
    FieldProblem,
    alert_id,
    need_list,
    need_object,
    payload_error,
    vm_from_backup_item,
    vm_from_resource_id,
)
from .model import AlertRequest

SOURCE = "log-analytics"
MONITORING_SERVICES = ("Log Alerts V2", "Log Analytics", "Application Insights")
CODE, DATASOURCE, BACKUP_ITEM = "JobFailureCode", "DatasourceResourceId", "BackupItemUniqueId"
WANTED = {name.casefold(): name for name in (CODE, DATASOURCE, BACKUP_ITEM)}
CONFLICT = object()

Row = dict[str, tuple[object, str]]  # wanted column name -> (value, field path)


def detect(doc: object) -> bool:
    env = envelope(doc)
    if env is None:
        return False
    if env.monitoring_service() in MONITORING_SERVICES:
        return True
    context = env.data.get("alertContext")
    return isinstance(context, dict) and (context.get("conditionType") == "LogQueryCriteria"
                                          or "SearchResults" in context)


def parse(doc: dict[str, Any], catalog: Catalog) -> list[AlertRequest]:
    env = envelope(doc)
    assert env is not None, "detect() first"
    status = env.status()
    rows = _rows(env, env.context)
    target = _single_vm_target(env)
    return [_request(env, status, row, catalog, target) for row in rows]


def _column(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    return WANTED.get(name.casefold().removesuffix("_s"))


def _put(row: Row, name: str, value: object, path: str) -> None:
    if value is None or value == "":
        return
    if name in row and row[name][0] != value:
        row[name] = (CONFLICT, path)
    else:
        row.setdefault(name, (value, path))


def _dimension_row(dims: object, path: str) -> Row:
    row: Row = {}
    for j, dim in enumerate(need_list(dims, path)):
        dim = need_object(dim, f"{path}[{j}]")
        if not isinstance(dim.get("name"), str):
            raise payload_error(f"{path}[{j}].name", "expected a string")
        name = _column(dim["name"])
        if name:
            _put(row, name, dim.get("value"), f"{path}[{name}]")
    return row


def _rows(env: Envelope, context: dict[str, Any]) -> list[Row]:
    if context.get("condition") is not None:
        return _v2_rows(env, context)
    rows: list[Row] = []
    if context.get("SearchResults") is not None:
        rows = _v1_rows(env, context["SearchResults"])
    if not rows and context.get("Dimensions") is not None:
        rows = [_dimension_row(context["Dimensions"], env.path("alertContext", "Dimensions"))]
    if not rows:
        raise payload_error(env.path("alertContext"), "expected condition.allOf (log alerts V2), SearchResults or "
                            "Dimensions (log alerts V1) naming the failed jobs")
    return rows


def _v2_rows(env: Envelope, context: dict[str, Any]) -> list[Row]:
    path = env.path("alertContext", "condition")
    condition = need_object(context["condition"], path)
    rows = []
    for i, entry in enumerate(need_list(condition.get("allOf"), f"{path}.allOf", non_empty=True)):
        entry = need_object(entry, f"{path}.allOf[{i}]")
        dims = entry.get("dimensions")
        rows.append(_dimension_row([] if dims is None else dims, f"{path}.allOf[{i}].dimensions"))
    return rows


def _v1_rows(env: Envelope, results: object) -> list[Row]:
    path = env.path("alertContext", "SearchResults")
    tables = need_list(need_object(results, path).get("tables"), f"{path}.tables")
    rows: list[Row] = []
    for t, table in enumerate(tables):
        tpath = f"{path}.tables[{t}]"
        table = need_object(table, tpath)
        columns = [_column(need_object(c, f"{tpath}.columns[{k}]").get("name"))
                   for k, c in enumerate(need_list(table.get("columns"), f"{tpath}.columns"))]
        for r, values in enumerate(need_list(table.get("rows") or [], f"{tpath}.rows")):
            values = need_list(values, f"{tpath}.rows[{r}]")
            if len(values) != len(columns):
                raise payload_error(f"{tpath}.rows[{r}]", f"expected {len(columns)} values, one per column")
            row: Row = {}
            for name, value in zip(columns, values, strict=True):
                if name:
                    _put(row, name, value, f"{tpath}.rows[{r}][{name}]")
            rows.append(row)
        if len(rows) > MAX_REQUESTS:
            raise payload_error(path, f"more than {MAX_REQUESTS} rows; at most {MAX_REQUESTS} alerts per payload")
    return rows


def _single_vm_target(env: Envelope) -> tuple[str, str] | None:
    targets = env.target_ids()
    if len(targets) == 1 and isinstance(targets[0], str) and VM_ID_RE.fullmatch(targets[0]):
        try:
            return vm_from_resource_id(targets[0], env.path("essentials", "alertTargetIDs[0]"))
        except FieldProblem:
            return None
    return None


def _request(env: Envelope, status: str, row: Row, catalog: Catalog, target: tuple[str, str] | None) -> AlertRequest:
    draft = Draft(SOURCE, status)
    draft.alert_id = draft.take(alert_id, env.essentials.get("alertId"), env.path("essentials", "alertId"))
    for name, (value, path) in sorted(row.items()):
        if value is CONFLICT:
            draft.refuse(f"field {path}: two different {name} values in one row")
    _row_code(draft, row, catalog)
    _row_vm(draft, row, target)
    return draft.finish()


def _row_code(draft: Draft, row: Row, catalog: Catalog) -> None:
    if CODE not in row:
        draft.refuse(f"no {CODE} in this row: split the log alert rule by the {CODE} dimension")
    elif row[CODE][0] is not CONFLICT:
        found = draft.take(lookup_code, catalog, row[CODE][0], row[CODE][1], "dimension")
        if found:
            draft.code, draft.matched_by = found


def _row_vm(draft: Draft, row: Row, target: tuple[str, str] | None) -> None:
    has_ds, has_item = DATASOURCE in row, BACKUP_ITEM in row
    if has_ds and row[DATASOURCE][0] is not CONFLICT:
        draft.set_vm_id(*row[DATASOURCE])
    if has_item and row[BACKUP_ITEM][0] is not CONFLICT:
        name = draft.take(vm_from_backup_item, *row[BACKUP_ITEM])
        if name and draft.vm_name and name.casefold() != draft.vm_name.casefold():
            draft.resource_id = draft.vm_name = None
            draft.refuse(f"{DATASOURCE} and {BACKUP_ITEM} name different virtual machines")
        elif name and not has_ds:
            draft.vm_name = name
    if not has_ds and not has_item:
        if target:
            draft.resource_id, draft.vm_name = target
        else:
            draft.refuse(f"no VM in this row: split the log alert rule by {DATASOURCE} or {BACKUP_ITEM}")

"""The Azure Monitor common alert schema envelope, shared by the Azure Backup and the log search parsers.

Documented shape (Azure Monitor "Common alert schema"): `{"schemaId": "azureMonitorCommonAlertSchema", "data":
{"essentials": {...}, "alertContext": {...}, "customProperties": {...} | null}}`. `data.essentials` holds
alertId, alertRule, severity, signalType, monitorCondition (Fired | Resolved), monitoringService, alertTargetIDs,
originAlertId, firedDateTime, description. The bare `data` object (what a Logic App passes on as
`triggerBody()?['data']`) is accepted too: then the paths in messages start at `essentials`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .fields import choice, need_list, need_object, opt_object, opt_text

COMMON_SCHEMA_ID = "azureMonitorCommonAlertSchema"
CONDITIONS = {"Fired": "firing", "Resolved": "resolved"}


@dataclass(frozen=True)
class Envelope:
    data: dict[str, Any]
    prefix: str  # "data" for the full payload, "" for a bare data object

    def path(self, *names: str) -> str:
        return ".".join(n for n in (self.prefix, *names) if n)

    @property
    def essentials(self) -> dict[str, Any]:
        return need_object(self.data.get("essentials"), self.path("essentials"))

    @property
    def context(self) -> dict[str, Any]:
        return need_object(self.data.get("alertContext"), self.path("alertContext"))

    @property
    def custom_properties(self) -> dict[str, Any] | None:
        return opt_object(self.data, "customProperties", self.path("customProperties"))

    def monitoring_service(self) -> str | None:
        value = self.essentials.get("monitoringService")
        return value if isinstance(value, str) else None

    def status(self) -> str:
        return choice(self.essentials.get("monitorCondition"), self.path("essentials", "monitorCondition"),
                      CONDITIONS)

    def text(self, name: str) -> str | None:
        return opt_text(self.essentials, name, self.path("essentials", name))

    def target_ids(self) -> list[object]:
        value = self.essentials.get("alertTargetIDs")
        return [] if value is None else need_list(value, self.path("essentials", "alertTargetIDs"))


def envelope(doc: object) -> Envelope | None:
    """The common-schema envelope of a document, or None when it is not one (never raises)."""
    if not isinstance(doc, dict):
        return None
    if doc.get("schemaId") == COMMON_SCHEMA_ID and isinstance(doc.get("data"), dict):
        if isinstance(doc["data"].get("essentials"), dict):
            return Envelope(doc["data"], "data")
    if "schemaId" not in doc and isinstance(doc.get("essentials"), dict) and "alertContext" in doc:
        return Envelope(doc, "")
    return None

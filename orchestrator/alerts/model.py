"""What every alert parser returns: `AlertRequest`, one per (alert, dimension row); and `AlertError` for a payload
that is invalid as a whole. Re-exported by `orchestrator.alerts`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ExitStatus, UsageError

MAX_PAYLOAD_BYTES = 1_048_576
SOURCES = ("azure-monitor", "log-analytics", "alertmanager", "plain")
STATUSES = ("firing", "resolved")


class AlertError(UsageError):
    """The payload as a whole is invalid (exit 2 / HTTP 400). The message names the field, e.g.
    "alert payload: field data.essentials.monitorCondition: expected Fired or Resolved"."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


@dataclass(frozen=True)
class AlertRequest:
    """One remediation request read from an alert. Every string in it was validated before it got here.

    A resolved alert (`status == "resolved"`) is acknowledged and runs nothing, whatever else it holds. A request
    whose `problem` is set runs nothing either: `problem` says why (in one line, hostile values quoted with repr)
    and `exit_status` is the DESIGN.md exit code of that refusal (3 unknown error code, 2 anything else).
    """

    source: str  # "azure-monitor" | "log-analytics" | "alertmanager" | "plain"
    alert_id: str | None  # the payload's alert id / Alertmanager fingerprint (printable ASCII, <= 256 chars)
    status: str  # "firing" | "resolved"
    code: str | None  # canonical catalog code (alias 320001 -> ResourceNotFound); None if not identified
    vm_name: str | None  # VM name from the payload (shape of orchestrator.inventory.HOST_RE)
    resource_id: str | None  # VM ARM id from the payload (shape of orchestrator.inventory.RESOURCE_ID_RE)
    matched_by: str | None  # how the code was found: field | origin-alert-id | message | link | dimension | label
    # | column | alias
    host: str | None = None  # inventory host name, set by map_hosts()
    problem: str | None = None  # why this request cannot run
    exit_status: int = 0  # ExitStatus of the problem: 3 unknown code, 2 the rest, 0 no problem
    job_id: str | None = None  # Azure Backup alerts: the failed job (alertContext.extendedInfo.jobId), a GUID
    vault_id: str | None = None  # ... and its Recovery Services vault (essentials.alertTargetIDs)
    code_missing: bool = False  # the only problem is that no error code was found: a job lookup may find it

    @property
    def runnable(self) -> bool:
        """True when this request may go on to policy and planning: firing, mapped to a host, no problem."""
        return self.status == "firing" and self.problem is None and self.host is not None

    def dedup_key(self) -> str:
        """Stable key for (code, host), e.g. "ExtensionFailedVssWriterInBadState|vm1". Before map_hosts() the VM
        stands in for the host (its name, else its resource id, lower-cased)."""
        target = self.host or (self.vm_name or self.resource_id or "?").casefold()
        return f"{self.code or '?'}|{target}"


def worst_status(statuses: list[int]) -> int:
    """The exit status of several problems on one request: a usage refusal (2) wins over an unknown code (3)."""
    real = [s for s in statuses if s]
    if not real:
        return int(ExitStatus.OK)
    return int(ExitStatus.USAGE) if ExitStatus.USAGE in real else int(max(real))

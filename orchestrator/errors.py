"""One ExitStatus enum (DESIGN.md exit codes) and the exceptions that map to it, in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # fixed and verified, nothing to fix, or dry-run plan produced
    FAILED = 1  # remediation ran and failed, or verification still fails after the last automated step
    USAGE = 2  # bad flags, unreadable file, invalid alert payload, host not in inventory
    UNKNOWN_CODE = 3  # no runbook for the error code
    MANUAL = 4  # manual action required; guidance printed
    APPROVAL_REQUIRED = 5  # a dry-run plan was stored; its id is printed
    UNREACHABLE = 6  # host unreachable or authentication rejected
    SKIPPED = 7  # policy: locked, cooldown, duplicate, outside the maintenance window


class RemediateError(Exception):
    """An error the user must see as one clear line, with the exit status it maps to."""

    status = ExitStatus.FAILED

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class UsageError(RemediateError):
    status = ExitStatus.USAGE


class CatalogError(RemediateError):
    """A runbook file is invalid: names the file and the field."""

    status = ExitStatus.USAGE


class UnknownCodeError(RemediateError):
    status = ExitStatus.UNKNOWN_CODE


class InventoryError(RemediateError):
    status = ExitStatus.USAGE


class HostLockedError(RemediateError):
    status = ExitStatus.SKIPPED


class UnreachableError(RemediateError):
    status = ExitStatus.UNREACHABLE


class PolicySkip(RemediateError):
    """A policy rule refuses to run (two-person rule, ...): exit 7, naming the rule."""

    status = ExitStatus.SKIPPED


class ApprovalRefused(RemediateError):
    """An approval cannot be honoured as it stands (the runbook or playbooks changed): a new dry-run is needed."""

    status = ExitStatus.APPROVAL_REQUIRED

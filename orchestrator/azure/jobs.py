"""Job lookup for alerts that carry no error code: an Azure Backup alert names the job (extendedInfo.jobId) and
the vault (its target); the job's errorDetails give the code that selects the runbook.

    lookup_job_error(vault_id, job_id, endpoint=..., credential=None, verify=None)
        -> {"error_code", "error_string", "error_title", "status", "recommendations", "job_id"} | None

Both ids are validated strictly before anything is sent; the request goes only to the `endpoint` given (an https
origin: the public cloud's, a sovereign cloud's, the lab's). `credential` is any azure-core TokenCredential
(default: DefaultAzureCredential for that cloud); `verify` is a CA bundle path (or None for the system store).
"""

from __future__ import annotations

from ..errors import RemediateError, UnreachableError, UsageError
from ._collection import module_utils


def lookup_job_error(vault_id: str, job_id: str, *, endpoint: str, credential=None,  # noqa: ANN001
                     verify: str | None = None) -> dict | None:
    """The first error of the job (its code as ARM sent it, as a string), or None when the job does not exist or
    reports no error. Raises UsageError (bad ids or endpoint), UnreachableError (authentication rejected, network)
    or RemediateError (any other ARM error), each with one clear line."""
    arm = module_utils("arm")
    backup = module_utils("backup")
    try:
        vault = arm.parse_vault_id(vault_id)
        job = arm.parse_job_id(job_id)
        settings = arm.Settings(endpoint=endpoint, ca_bundle=verify).validated()
    except arm.ArmError as exc:
        raise UsageError(f"job lookup refused: {exc}") from None
    try:
        data = backup.get_job(settings, vault, job, credential)
    except arm.ArmError as exc:
        if exc.kind == "not_found":
            return None
        if exc.kind in ("auth", "network"):
            raise UnreachableError(f"job lookup: {exc}") from None
        raise RemediateError(f"job lookup: {exc}") from None
    if not data["errors"]:
        return None
    return {"error_code": data["error_code"], "error_string": data["error_string"],
            "error_title": data["error_title"], "status": data["status"],
            "recommendations": data["errors"][0]["recommendations"], "job_id": data["job_id"]}

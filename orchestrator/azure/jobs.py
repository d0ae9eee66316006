"""Job lookup for alerts that carry no error code: an Azure Backup alert names the job (extendedInfo.jobId) and
the vault (its target); the job's errorDetails give the code that selects the runbook.

    lookup_job_error(vault_id, job_id, endpoint=..., credential=None, verify=None)
        -> {"error_code", "error_string", "error_title", "status", "recommendations", "job_id"} | None

Both ids are validated strictly before anything is sent; the request goes only to the `endpoint` given (an https
origin: the public cloud's, a sovereign cloud's, the lab's). `credential` is any azure-core TokenCredential
(default: DefaultAzureCredential for that cloud); `verify` is a CA bundle path (or None for the system store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import RemediateError, UnreachableError, UsageError
from ._collection import module_utils

if TYPE_CHECKING:
    from ..alerts import AlertRequest
    from ..catalog import Catalog


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


Lookup = Callable[[str, str], "dict | None"]


def lookup_from_env(env: Mapping[str, str]) -> Lookup | None:
    """A job lookup configured from the environment, or None when REMEDIATE_AZURE_ENDPOINT is not set:
    REMEDIATE_AZURE_ENDPOINT (https origin), REMEDIATE_AZURE_AUTH (default | service_principal | managed_identity |
    cli; service_principal reads AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET), REMEDIATE_AZURE_AUTHORITY,
    REMEDIATE_AZURE_CA_BUNDLE, REMEDIATE_AZURE_DISABLE_INSTANCE_DISCOVERY=1 (a private authority, e.g. the lab)."""
    endpoint = env.get("REMEDIATE_AZURE_ENDPOINT")
    if not endpoint:
        return None
    arm = module_utils("arm")
    try:
        settings = arm.Settings(
            endpoint=endpoint, auth=env.get("REMEDIATE_AZURE_AUTH") or "default",
            authority=env.get("REMEDIATE_AZURE_AUTHORITY") or None, tenant_id=env.get("AZURE_TENANT_ID") or None,
            client_id=env.get("AZURE_CLIENT_ID") or None, client_secret=env.get("AZURE_CLIENT_SECRET") or None,
            ca_bundle=env.get("REMEDIATE_AZURE_CA_BUNDLE") or None,
            disable_instance_discovery=env.get("REMEDIATE_AZURE_DISABLE_INSTANCE_DISCOVERY") == "1").validated()
    except arm.ArmError as exc:
        raise UsageError(f"Azure job lookup configuration: {exc}") from None
    cred = arm.credential(settings)

    def lookup(vault: str, job: str) -> dict | None:
        return lookup_job_error(vault, job, endpoint=settings.endpoint, credential=cred, verify=settings.ca_bundle)

    return lookup


def resolve_by_job(requests: list[AlertRequest], catalog: Catalog, lookup: Lookup) -> list[AlertRequest]:
    """For alert requests whose only problem is a missing error code, ask Azure for the failed job's error and
    select the runbook from it (its code, else its message). A lookup that fails leaves the request refused, with
    the reason added; it never guesses."""
    out = []
    for req in requests:
        if not (req.code_missing and req.job_id and req.vault_id and req.status == "firing"):
            out.append(req)
            continue
        try:
            found = lookup(req.vault_id, req.job_id)
        except RemediateError as exc:
            out.append(replace(req, problem=f"{req.problem} (job lookup failed: {exc.message})"))
            continue
        code = None
        if found and found.get("error_code"):
            key = str(found["error_code"])
            hit = catalog.lookup(key) if _known(catalog, key) else None
            code = hit.code if hit else None
        if code is None and found and found.get("error_string"):
            match = catalog.match_message(str(found["error_string"]))
            code = match.code if match else None
        if code is None:
            why = (f"job {req.job_id} reports error {str(found.get('error_code'))[:80]!r}, which has no runbook"
                   if found else f"job {req.job_id} has no error recorded")
            out.append(replace(req, problem=f"{req.problem} ({why})"))
            continue
        out.append(replace(req, code=code, matched_by="job", problem=None, exit_status=0, code_missing=False))
    return out


def _known(catalog: Catalog, key: str) -> bool:
    from ..errors import UnknownCodeError

    try:
        catalog.lookup(key)
    except (UnknownCodeError, UsageError):
        return False
    return True

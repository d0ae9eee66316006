# SPDX-License-Identifier: Apache-2.0
"""Azure Backup for a VM: which vault protects it, its jobs, and an on-demand backup followed to its end.

- POST .../locations/{region}/backupStatus {resourceType: VM, resourceId}: the vault, container and protected item;
- POST .../vaults/{v}/backupFabrics/Azure/protectionContainers/{c}/protectedItems/{i}/backup answers 202 with an
  Azure-AsyncOperation URL whose last segment is the operation id; GET .../vaults/{v}/backupOperations/{id} gives,
  once done, properties.jobId (the way the Azure CLI tracks `az backup protection backup-now`);
- GET .../vaults/{v}/backupJobs/{job}: status and properties.errorDetails[] {errorCode, errorString, errorTitle,
  recommendations}.
The SDK retries throttling and 5xx on each call; the loops here only wait for a backup job, which runs for minutes
to hours, with a bound.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from .arm import ArmError, Settings, VaultId, VmId, arm_error, client, parse_vault_id, raw

RUNNING = {"inprogress", "cancelling", "notstarted"}
JOB_SUCCESS = {"completed", "completedwithwarnings"}


def backup_status(settings: Settings, vm: VmId, location: str, cred=None) -> dict:
    """{protected, vault_id, container, item, policy, status}: how Azure Backup protects the VM."""
    from azure.mgmt.recoveryservicesbackup import models

    backup = client("backup", settings, vm.subscription, cred)
    try:
        data = raw(backup.backup_status.get(location, models.BackupStatusRequest(resource_type="VM",
                                                                                  resource_id=vm.id)))
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None
    status = str(data.get("protectionStatus") or "")
    return {"protected": status.casefold() == "protected", "status": status, "vault_id": data.get("vaultId"),
            "fabric": data.get("fabricName") or "Azure", "container": data.get("containerName"),
            "item": data.get("protectedItemName"), "policy": data.get("policyName"),
            "error_code": data.get("errorCode"), "error_message": data.get("errorMessage")}


def job_summary(data: dict) -> dict:
    """The fields of a backup job the runbooks use; errorCode kept as ARM sent it (the spec types it int32)."""
    props = data.get("properties") or {}
    errors = [{"error_code": None if e.get("errorCode") is None else str(e.get("errorCode")),
               "error_title": e.get("errorTitle"), "error_string": e.get("errorString"),
               "recommendations": list(e.get("recommendations") or [])}
              for e in props.get("errorDetails") or (props.get("extendedInfo") or {}).get("errorDetails") or []
              if isinstance(e, dict)]
    first = errors[0] if errors else {}
    return {"job_id": data.get("name"), "id": data.get("id"), "status": props.get("status"),
            "operation": props.get("operation"), "entity": props.get("entityFriendlyName"),
            "start_time": props.get("startTime"), "end_time": props.get("endTime"),
            "error_code": first.get("error_code"), "error_title": first.get("error_title"),
            "error_string": first.get("error_string"), "errors": errors}


def get_job(settings: Settings, vault: VaultId, job_id: str, cred=None) -> dict:
    backup = client("backup", settings, vault.subscription, cred)
    try:
        return job_summary(raw(backup.job_details.get(vault.name, vault.resource_group, job_id)))
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None


def _operation_id(headers) -> str:
    url = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""
    op = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if not op:
        raise ArmError("client", "the backup request was accepted but ARM named no operation to follow")
    return op


def trigger(settings: Settings, vault: VaultId, status: dict, *, retain_days: int, cred=None) -> str:
    """Start an on-demand backup of the protected item; return the operation id to follow."""
    from azure.mgmt.recoveryservicesbackup import models

    backup = client("backup", settings, vault.subscription, cred)
    expiry = (datetime.now(UTC) + timedelta(days=retain_days)).replace(microsecond=0)
    request = models.BackupRequestResource(properties=models.IaasVMBackupRequest(
        recovery_point_expiry_time_in_utc=expiry))
    try:
        headers = backup.backups.trigger(vault.name, vault.resource_group, status["fabric"], status["container"],
                                         status["item"], request,
                                         cls=lambda response, _body, _h: response.http_response.headers)
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None
    return _operation_id(headers)


def _wait(deadline: float, interval: float) -> bool:
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    time.sleep(min(interval, left))
    return True


def follow(settings: Settings, vault: VaultId, operation_id: str, *, timeout: int, interval: float,
           cred=None) -> dict:
    """Wait (bounded by `timeout` seconds) for the operation to name its job, then for the job to end.
    Returns {status: succeeded | failed | timeout, job_id, error_code, error_message, job}."""
    backup = client("backup", settings, vault.subscription, cred)
    deadline = time.monotonic() + timeout
    job_id = None
    try:
        while job_id is None:
            op = raw(backup.backup_operation_statuses.get(vault.name, vault.resource_group, operation_id))
            state = str(op.get("status") or "").casefold()
            job_id = (op.get("properties") or {}).get("jobId")
            if state == "failed" and not job_id:
                err = op.get("error") or {}
                return {"status": "failed", "job_id": None, "error_code": err.get("code"),
                        "error_message": err.get("message") or "the backup request failed", "job": None}
            if job_id is None and (state not in RUNNING or not _wait(deadline, interval)):
                return {"status": "timeout" if state in RUNNING else "failed", "job_id": None, "error_code": None,
                        "error_message": f"operation {operation_id} ended {state or 'without a job'}", "job": None}
        while True:
            job = job_summary(raw(backup.job_details.get(vault.name, vault.resource_group, job_id)))
            state = str(job["status"] or "").casefold()
            if state not in RUNNING:
                ok = state in JOB_SUCCESS
                return {"status": "succeeded" if ok else "failed", "job_id": job_id,
                        "error_code": None if ok else job["error_code"],
                        "error_message": None if ok else (job["error_string"] or f"job ended {job['status']}"),
                        "job": job}
            if not _wait(deadline, interval):
                return {"status": "timeout", "job_id": job_id, "error_code": None,
                        "error_message": f"job {job_id} still {job['status']} after {timeout}s", "job": job}
    except Exception as exc:  # noqa: BLE001
        raise arm_error(exc) from None


def vault_of(status: dict, given: str | None) -> VaultId:
    """The vault to use: the one given (must match the VM's if Azure names one), else the one Azure names."""
    if given:
        vault = parse_vault_id(given)
        if status.get("vault_id") and parse_vault_id(status["vault_id"]).id.casefold() != vault.id.casefold():
            raise ArmError("config", f"the VM is protected by {status['vault_id']}, not by the vault given "
                                     f"({vault.id})")
        return vault
    if not status.get("vault_id"):
        raise ArmError("not_found", "Azure Backup names no vault protecting this VM")
    return parse_vault_id(status["vault_id"])

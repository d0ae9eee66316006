"""orchestrator.azure.lookup_job_error against the lab's ARM endpoint: an alert with a job id but no error code
still selects the right runbook."""

from __future__ import annotations

import pytest

from orchestrator.azure import lookup_job_error
from orchestrator.catalog import load_catalog
from orchestrator.errors import RemediateError, UnreachableError, UsageError

FAILED = "0f5e2f6a-3c5b-4f0e-9a57-3b7d1c6e9a10"
DONE = "7d9c1b2a-8e4f-4a6b-9c3d-2e1f0a9b8c7d"
VAULT = ("/subscriptions/00000000-0000-4000-8000-00000000a2b1/resourceGroups/rg-backup/providers/"
         "Microsoft.RecoveryServices/vaults/vault-app")
HOSTS = {"vm1": {"platform": "azure", "azure": {"backup": {
    "vault": {"name": "vault-app", "resource_group": "rg-backup"},
    "jobs": [{"id": FAILED, "status": "Failed", "error": {
                "code": "ExtensionStuckInDeletionState", "title": "ExtensionStuckInDeletionState",
                "string": "Extension state is not supportive to the backup operation",
                "recommendations": ["Uninstall the VmSnapshot extension and retry"]}},
             {"id": DONE, "status": "Completed"}]}}}}


def _lookup(lab, job: str, **kw):
    from azure.identity import ClientSecretCredential

    w = lab.world
    cred = ClientSecretCredential(w.tenant, w.client_id, w.client_secret, authority=lab.endpoint.origin,
                                  disable_instance_discovery=True, connection_verify=str(lab.ca))
    return lookup_job_error(kw.pop("vault", VAULT), job, endpoint=lab.endpoint.origin, credential=cred,
                            verify=str(lab.ca), **kw)


def test_a_failed_job_returns_its_error_code_and_the_code_selects_the_runbook(arm_lab) -> None:
    lab = arm_lab(HOSTS)
    found = _lookup(lab, FAILED)
    assert found == {"error_code": "ExtensionStuckInDeletionState", "status": "Failed", "job_id": FAILED,
                     "error_string": "Extension state is not supportive to the backup operation",
                     "error_title": "ExtensionStuckInDeletionState",
                     "recommendations": ["Uninstall the VmSnapshot extension and retry"]}
    assert load_catalog().lookup(found["error_code"]).runbook.id == "backup-extension-stuck"
    assert {r["host_header"] for r in lab.requests()} == {lab.endpoint.origin.removeprefix("https://")}


def test_a_job_without_error_or_unknown_is_none(arm_lab) -> None:
    lab = arm_lab(HOSTS)
    assert _lookup(lab, DONE) is None
    assert _lookup(lab, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee") is None


def test_ids_and_endpoint_are_validated_before_any_request(arm_lab) -> None:
    lab = arm_lab(HOSTS)
    before = len(lab.requests())
    for vault, job in ((VAULT, "not-a-guid"), ("/subscriptions/x/vaults/v", FAILED), (VAULT + "/../x", FAILED)):
        with pytest.raises(UsageError, match="job lookup refused"):
            _lookup(lab, job, vault=vault)
    with pytest.raises(UsageError, match="https origin"):
        lookup_job_error(VAULT, FAILED, endpoint="http://127.0.0.1:1")
    assert len(lab.requests()) == before


def test_authentication_rejected_and_arm_errors_are_one_line(arm_lab) -> None:
    lab = arm_lab({"vm1": HOSTS["vm1"] | {"azure": HOSTS["vm1"]["azure"] | {
        "faults": [{"op": "job.get", "status": 401, "count": 1}, {"op": "job.get", "status": 403, "count": 1}]}}})
    with pytest.raises(UnreachableError, match="authentication rejected"):
        _lookup(lab, FAILED)
    with pytest.raises(RemediateError, match="403"):
        _lookup(lab, FAILED)
    assert _lookup(lab, FAILED)["error_code"] == "ExtensionStuckInDeletionState"


def test_an_alert_without_code_gets_it_from_its_failed_job(arm_lab) -> None:
    # the built-in Azure Backup alert names the vault (alertTargetIDs) and the job (extendedInfo.jobId)
    import json

    from orchestrator.alerts import parse, resolve_codes

    lab = arm_lab(HOSTS)
    alert = {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {"alertId": "/subscriptions/00000000-0000-4000-8000-00000000a2b1/providers/"
                       "Microsoft.AlertsManagement/alerts/1b7f1c2e-0000-4000-8000-000000000001",
                       "alertRule": "Backup Failure", "severity": "Sev1", "monitorCondition": "Fired",
                       "monitoringService": "Azure Backup", "alertTargetIDs": [VAULT],
                       "originAlertId": "1_2_3_backupfailure_vm", "description": "Backup failed"},
        "alertContext": {"linkedResourceId": "/subscriptions/00000000-0000-4000-8000-00000000a2b1/resourceGroups/"
                         "rg-app/providers/Microsoft.Compute/virtualMachines/vm1",
                         "extendedInfo": {"jobId": FAILED}}}}
    catalog = load_catalog()
    [refused] = parse(json.dumps(alert), catalog)
    assert refused.code is None and refused.code_missing and "REMEDIATE_AZURE_ENDPOINT" in refused.problem
    assert resolve_codes([refused], catalog, {}) == [refused]  # not configured: still refused, nothing sent
    w = lab.world
    env = {"REMEDIATE_AZURE_ENDPOINT": lab.endpoint.origin, "REMEDIATE_AZURE_AUTH": "service_principal",
           "AZURE_TENANT_ID": w.tenant, "AZURE_CLIENT_ID": w.client_id, "AZURE_CLIENT_SECRET": w.client_secret,
           "REMEDIATE_AZURE_AUTHORITY": lab.endpoint.origin, "REMEDIATE_AZURE_CA_BUNDLE": str(lab.ca),
           "REMEDIATE_AZURE_DISABLE_INSTANCE_DISCOVERY": "1"}
    [found] = resolve_codes([refused], catalog, env)
    assert (found.code, found.matched_by, found.problem) == ("ExtensionStuckInDeletionState", "job", None)
    done = parse(json.dumps(alert).replace(FAILED, DONE), catalog)
    [still] = resolve_codes(done, catalog, env)
    assert still.code is None and "has no error recorded" in still.problem

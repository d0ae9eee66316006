#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""remediate.azure.backup_job_info: a backup job's status and error (read-only)."""

from __future__ import annotations

from ansible_collections.remediate.azure.plugins.module_utils.ansible_arm import new_module, run
from ansible_collections.remediate.azure.plugins.module_utils.arm import parse_job_id, parse_vault_id
from ansible_collections.remediate.azure.plugins.module_utils.backup import get_job

DOCUMENTATION = r"""
module: backup_job_info
short_description: Read an Azure Backup job (status, error code and message)
description:
  - GET the job from the vault. Read-only; runs in check mode.
options:
  vault_id:
    description: The Recovery Services vault's resource id.
    type: str
    required: true
  job_id:
    description: The job id (a GUID, e.g. an alert's extendedInfo.jobId).
    type: str
    required: true
extends_documentation_fragment: [remediate.azure.arm]
"""

EXAMPLES = r"""
- name: Read the failed job of an alert
  remediate.azure.backup_job_info:
    vault_id: "{{ azure_backup_vault_id }}"
    job_id: 11111111-2222-3333-4444-555555555555
  register: job
"""

RETURN = r"""
job:
  description: job_id, status, operation, entity, start_time, end_time, error_code, error_title, error_string,
    errors [{error_code, error_title, error_string, recommendations}].
  returned: always
  type: dict
"""


def main() -> None:
    module = new_module({"vault_id": {"type": "str", "required": True},
                         "job_id": {"type": "str", "required": True}}, supports_check_mode=True)
    p = module.params
    run(module, "reading the backup job", lambda s: {
        "changed": False, "job": get_job(s, parse_vault_id(p["vault_id"]), parse_job_id(p["job_id"]))})


if __name__ == "__main__":
    main()

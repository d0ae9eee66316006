"""Azure access for the orchestrator itself (not through a playbook): looking up a backup job, e.g. for an alert
that names a failed job but no error code.

The ARM code is the remediate.azure collection's (collections/ansible_collections/remediate/azure/plugins/
module_utils/), imported here without Ansible, so the playbooks and the orchestrator share one implementation.
"""

from __future__ import annotations

from .jobs import lookup_from_env, lookup_job_error, resolve_by_job

__all__ = ["lookup_from_env", "lookup_job_error", "resolve_by_job"]

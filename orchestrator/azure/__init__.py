"""Azure access for the orchestrator itself (not through a playbook): today, looking up a backup job.

The ARM code is the remediate.azure collection's (collections/ansible_collections/remediate/azure/plugins/
module_utils/), imported here without Ansible, so the playbooks and the orchestrator share one implementation.
"""

from __future__ import annotations

from .jobs import lookup_job_error

__all__ = ["lookup_job_error"]

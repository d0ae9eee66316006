"""Ansible plugins of the orchestrator itself (not of the playbooks): loaded by the warm executor only."""

"""Import the remediate.azure collection's module_utils (plain Python, no Ansible needed) from the project tree."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from ..paths import project_dir


def module_utils(name: str) -> ModuleType:
    """ansible_collections.remediate.azure.plugins.module_utils.<name>; `ansible_collections` is a namespace
    package, so the project's collections/ directory joins the one Ansible installs."""
    path = str(project_dir() / "collections")
    if path not in sys.path:
        sys.path.append(path)
    return importlib.import_module(f"ansible_collections.remediate.azure.plugins.module_utils.{name}")

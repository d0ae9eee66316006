"""The installed version of the package (`remediate --version`, the API)."""

from __future__ import annotations


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("azure-backup-remediate")
    except PackageNotFoundError:
        return "0+unknown"

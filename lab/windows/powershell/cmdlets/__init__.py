"""The cmdlets of the PowerShell subset (importing the modules registers them)."""

from lab.windows.powershell.cmdlets import core, items, legacy

__all__ = ["core", "items", "legacy"]

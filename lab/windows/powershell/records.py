"""Objects scripts see that are not cmdlet output: win_powershell's `$Ansible`, `$_` in a catch block (an
ErrorRecord and its Exception), and how catch [Type] matches exception types."""

from __future__ import annotations

from typing import Any

from lab.windows.powershell.errors import PSError
from lab.windows.powershell.values import DotNetObject, PSHashtable


class AnsibleObject(DotNetObject):
    """win_powershell's `$Ansible` (Ansible.Windows.WinPowerShell.Module)."""

    TYPE = "Ansible.Windows.WinPowerShell.Module"
    DISPLAY = ("CheckMode", "Verbosity", "Result", "Diff", "Changed", "Failed", "Tmpdir")

    def __init__(self, check_mode: bool, tmpdir: str) -> None:
        self.values: dict[str, Any] = {
            "checkmode": check_mode, "verbosity": 0, "result": PSHashtable(), "diff": PSHashtable(),
            "changed": True, "failed": False, "tmpdir": tmpdir,
        }  # fmt: skip

    def get(self, name: str) -> tuple[bool, Any]:
        if name.lower() in self.values:
            return True, self.values[name.lower()]
        return False, None

    def set(self, name: str, value: Any) -> bool:
        if name.lower() not in self.values:
            return False
        self.values[name.lower()] = value
        return True


class ErrorRecord(DotNetObject):
    """`$_` in a catch block."""

    TYPE = "System.Management.Automation.ErrorRecord"
    DISPLAY = ("Exception", "CategoryInfo", "FullyQualifiedErrorId", "TargetObject")

    def __init__(self, error: PSError) -> None:
        self.error = error

    def p_exception(self) -> ExceptionObject:
        return ExceptionObject(self.error)

    def p_fullyqualifiederrorid(self) -> str:
        return self.error.error_id + (f",{self.error.command}" if self.error.command else "")

    def p_targetobject(self) -> Any:
        return self.error.target

    def p_categoryinfo(self) -> str:
        return self.error.category

    def p_scriptstacktrace(self) -> str:
        return ""

    def m_tostring(self, args: list[Any]) -> str:
        return self.error.message

    def to_string(self) -> str:
        return self.error.message


class ExceptionObject(DotNetObject):
    DISPLAY = ("Message",)

    def __init__(self, error: PSError) -> None:
        self.error = error

    @property
    def type_name(self) -> str:
        return self.error.exception_type

    def p_message(self) -> str:
        return self.error.message

    def p_innerexception(self) -> ExceptionObject | None:
        return ExceptionObject(self.error.inner) if self.error.inner else None

    def m_tostring(self, args: list[Any]) -> str:
        return f"{self.error.exception_type}: {self.error.message}"

    def to_string(self) -> str:
        return self.error.message


EXCEPTION_BASES = {
    "System.Management.Automation.MethodInvocationException": "System.Management.Automation.MethodException",
    "System.Management.Automation.MethodException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.ItemNotFoundException": "System.Management.Automation.SessionStateException",
    "System.Management.Automation.DriveNotFoundException": "System.Management.Automation.SessionStateException",
    "System.Management.Automation.SessionStateException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.PSInvalidCastException": "System.InvalidCastException",
    "System.Management.Automation.ActionPreferenceStopException": "System.Management.Automation.RuntimeException",
    "System.Management.Automation.RuntimeException": "System.SystemException",
    "System.Security.Principal.IdentityNotMappedException": "System.SystemException",
    "System.ArgumentOutOfRangeException": "System.ArgumentException",
    "System.ArgumentException": "System.SystemException",
    "System.InvalidOperationException": "System.SystemException",
    "System.InvalidCastException": "System.SystemException",
    "System.SystemException": "System.Exception",
}


def is_subtype(type_name: str, wanted: str) -> bool:
    wanted = wanted.lower()
    current: str | None = type_name
    while current:
        if current.lower() in (wanted, "system." + wanted) or current.rsplit(".", 1)[-1].lower() == wanted:
            return True
        current = EXCEPTION_BASES.get(current, "System.Exception" if current != "System.Exception" else None)
    return False

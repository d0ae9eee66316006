"""What can stop a PowerShell script in the lab: NotSimulated (the lab does not know a construct), PowerShell
errors (error records, terminating or not) and the flow-control signals (break, continue, return, exit)."""

from __future__ import annotations

from typing import Any


class NotSimulated(Exception):
    """A construct, command, parameter, member or provider the lab does not simulate (fails the task, naming it)."""


class PSError(Exception):
    """A PowerShell error record.

    `command` is the cmdlet that wrote it (shown as `Get-Item : message`), `exception_type` the .NET type of its
    Exception, `inner` the inner exception (.NET method calls raise MethodInvocationException around the real one).
    `script_terminating` marks `throw` and ErrorAction Stop: they stop the script unless caught; other errors stop
    only their statement.
    """

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        exception_type: str = "System.Management.Automation.RuntimeException",
        category: str = "NotSpecified",
        error_id: str | None = None,
        target: Any = None,
        inner: PSError | None = None,
        script_terminating: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.command = command
        self.exception_type = exception_type
        self.category = category
        self.error_id = error_id or exception_type.rsplit(".", 1)[-1]
        self.target = target
        self.inner = inner
        self.script_terminating = script_terminating

    def display(self) -> str:
        """The first line of the error as PowerShell prints it."""
        return f"{self.command} : {self.message}" if self.command else self.message

    def exception_types(self) -> list[str]:
        types = [self.exception_type]
        if self.inner is not None:
            types += self.inner.exception_types()
        return types


class FlowSignal(Exception):
    """break / continue / return / exit unwinding the interpreter."""


class BreakSignal(FlowSignal):
    pass


class ContinueSignal(FlowSignal):
    pass


class ReturnSignal(FlowSignal):
    pass


class ExitSignal(FlowSignal):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

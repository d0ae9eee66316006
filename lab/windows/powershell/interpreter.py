"""Runs a parsed script against a simulated host: scopes, statements, pipelines, operators, command calls."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from lab.windows import environment
from lab.windows.acl import DotNetException
from lab.windows.powershell import nodes as n
from lab.windows.powershell import operators
from lab.windows.powershell import types as pstypes
from lab.windows.powershell.commands import (
    MISSING,
    NATIVES,
    REGISTRY,
    Call,
    NativeCall,
    bind,
    native_name,
    split_arguments,
)
from lab.windows.powershell.errors import (
    BreakSignal,
    ContinueSignal,
    ExitSignal,
    NotSimulated,
    PSError,
    ReturnSignal,
)
from lab.windows.powershell.members import VOID, get_member, invoke_method, method_error, set_member
from lab.windows.powershell.records import ErrorRecord, is_subtype
from lab.windows.powershell.values import (
    CmdletObject,
    DotNetObject,
    EnumValue,
    PSHashtable,
    ScriptBlock,
    collect,
    enumerate_value,
    to_int,
    to_number,
    to_string,
    truthy,
)

# Automatic variables of Windows PowerShell the lab does not simulate: reading one fails loudly.
UNSIMULATED_VARIABLES = {
    "host", "pid", "executioncontext", "myinvocation", "psscriptroot", "pscommandpath", "profile", "pshome",
    "pwd", "shellid", "stacktrace", "consolefilename", "nestedpromptlevel", "sender", "event", "eventargs",
}  # fmt: skip
PS_VERSION = "5.1.20348.2652"


class Scope:
    def __init__(self, parent: Scope | None = None) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent

    def find(self, name: str) -> Scope | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope
            scope = scope.parent
        return None


@dataclasses.dataclass
class Function:
    name: str
    body: n.ScriptBody


class Interpreter:
    def __init__(self, host: Any, *, user: str | None = None) -> None:
        self.host = host
        self.state: dict[str, Any] = host.state
        self.user = user or getattr(host, "user", None) or host.state.get("lab_user") or "labadmin"  # the WinRM user
        self.global_scope = Scope()
        self.scope = self.global_scope
        self.functions: dict[str, Function] = {}
        self.error_sinks: list[list[PSError]] = [[]]
        self.stderr_chunks: list[str] = []
        self.host_out: list[str] = []
        self.warnings: list[str] = []
        self.verbose: list[str] = []
        self.try_depth = 0
        self.redirections: list[n.Pipeline] = []
        self.strict_mode = False
        self.last_exit_code = 0
        self.last_native = False
        self.last_failed = False
        self.location = f"C:\\Users\\{self.user}"  # a WinRS shell starts in %USERPROFILE%
        self.location_stack: list[str] = []
        self.drives: dict[str, tuple[str, str]] = {}
        self.recorder: Any = None
        self.commands_invoked = 0  # cmdlets, native executables and method calls run so far
        self.legacy_result: dict[str, Any] | None = None
        self.module_args: dict[str, Any] | None = None
        for name, value in (("ErrorActionPreference", "Continue"), ("OFS", " "), ("true", True),
                            ("false", False), ("null", None)):
            self.global_scope.vars[name.lower()] = value
        self.global_scope.vars["psversiontable"] = PSHashtable(
            PSVersion=pstypes.find("version").convert(self, PS_VERSION), PSEdition="Desktop",
            CLRVersion=pstypes.find("version").convert(self, "4.0.30319.42000"),
        )
        self.global_scope.vars["home"] = f"C:\\Users\\{self.user}"
        self.global_scope.vars["error"] = []

    # -- environment ---------------------------------------------------------------------------------------------
    def type_of(self, value: Any) -> pstypes.TypeInfo:
        if isinstance(value, pstypes.TypeInfo):
            return pstypes.find("type")
        if isinstance(value, (DotNetObject, CmdletObject)):
            try:
                return pstypes.find(value.type_name)
            except NotSimulated:
                return pstypes.TypeInfo(value.type_name)
        names = [(bool, "bool"), (int, "int"), (float, "double"), (str, "string"), (list, "array"),
                 (PSHashtable, "hashtable"), (dict, "pscustomobject"), (ScriptBlock, "scriptblock")]
        for python_type, name in names:
            if isinstance(value, python_type):
                return pstypes.find(name)
        raise NotSimulated(f"GetType() of {type(value).__name__}")

    # -- variables -----------------------------------------------------------------------------------------------
    def get_variable(self, name: str) -> Any:
        lname = name.lower()
        if lname.startswith("env:"):
            wanted = lname[4:]
            return environment.lookup(self.host, wanted)
        for prefix in ("script:", "global:", "local:", "private:"):
            if lname.startswith(prefix):
                lname = lname[len(prefix) :]
        if lname == "psitem":
            lname = "_"
        if lname == "?":
            return not self.error_sinks[-1]
        if lname == "lastexitcode":
            return self.last_exit_code
        scope = self.scope.find(lname)
        if scope is not None:
            return scope.vars[lname]
        if lname in UNSIMULATED_VARIABLES:
            raise NotSimulated(f"the automatic variable ${name}")
        if ":" in lname:
            raise NotSimulated(f"the variable ${name} (drive-qualified variables other than $env:)")
        if self.strict_mode:
            raise PSError(f"The variable '${name}' cannot be retrieved because it has not been set.",
                          category="InvalidOperation", error_id="VariableIsUndefined")
        return None

    def set_variable(self, name: str, value: Any) -> None:
        lname = name.lower()
        if lname in ("true", "false"):
            raise PSError(f"Cannot overwrite variable {name} because it is read-only or constant.",
                          category="WriteError", error_id="VariableNotWritable")
        if lname == "null":
            return
        if lname.startswith("env:"):
            raise NotSimulated(f"setting ${name}")
        target = self.scope
        for prefix, scope in (("script:", self.global_scope), ("global:", self.global_scope)):
            if lname.startswith(prefix):
                lname, target = lname[len(prefix) :], scope
        target.vars[lname] = value

    def error_action_preference(self) -> str:
        value = self.get_variable("ErrorActionPreference")
        return value.to_string() if isinstance(value, EnumValue) else to_string(value)

    # -- running -------------------------------------------------------------------------------------------------
    def run_body(self, body: n.ScriptBody, out: list[Any], *, record: bool = False) -> None:
        """Run a script's statements at the top level (errors that escape stop the script)."""
        for statement in body.statements:
            self.last_native = False
            errors_before, commands_before = len(self.error_sinks[0]), self.commands_invoked
            self.exec_statement(statement, out)
            self.last_failed = len(self.error_sinks[0]) > errors_before
            if record and self.recorder is not None and self.commands_invoked > commands_before:
                self.recorder(statement.text)  # a statement that ran a cmdlet, an executable or a method

    def exec_block(self, statements: list[n.Node], out: list[Any]) -> None:
        for statement in statements:
            self.exec_statement(statement, out)

    def exec_statement(self, statement: n.Node, out: list[Any]) -> None:
        try:
            self._exec(statement, out)
        except PSError as error:
            if error.script_terminating or self.try_depth or self.error_action_preference() == "Stop":
                raise
            self.error_sinks[-1].append(error)

    def _exec(self, statement: n.Node, out: list[Any]) -> None:
        if isinstance(statement, n.Pipeline):
            out.extend(self.run_pipeline(statement))
        elif isinstance(statement, n.Assignment):
            self.assign(statement)
        elif isinstance(statement, n.If):
            for condition, body in statement.clauses:
                if truthy(collect(self.statement_output(condition))):
                    self.exec_block(body, out)
                    return
            if statement.else_body is not None:
                self.exec_block(statement.else_body, out)
        elif isinstance(statement, n.ForEach):
            iterable = self.statement_value(statement.iterable)
            for item in enumerate_value(iterable) if iterable is not None else []:
                self.set_variable(statement.variable, item)
                try:
                    self.exec_block(statement.body, out)
                except BreakSignal:
                    break
                except ContinueSignal:
                    continue
        elif isinstance(statement, (n.While, n.DoLoop, n.For)):
            self.loop(statement, out)
        elif isinstance(statement, n.Try):
            self.exec_try(statement, out)
        elif isinstance(statement, n.FunctionDef):
            self.functions[statement.name.lower()] = Function(statement.name, statement.body)
        elif isinstance(statement, n.Flow):
            self.flow(statement, out)
        else:
            raise NotSimulated(f"the statement {type(statement).__name__}")

    def loop(self, statement: n.Node, out: list[Any]) -> None:
        guard = 0
        if isinstance(statement, n.For) and statement.init is not None:
            self.statement_output(statement.init)
        while True:
            guard += 1
            if guard > 100000:
                raise NotSimulated("a loop running more than 100000 times")
            if isinstance(statement, n.DoLoop) and guard > 1:
                value = truthy(collect(self.statement_output(statement.condition)))
                if value == statement.until:
                    return
            if isinstance(statement, (n.While, n.For)) and statement.condition is not None:
                if not truthy(collect(self.statement_output(statement.condition))):
                    return
            try:
                self.exec_block(statement.body, out)
            except BreakSignal:
                return
            except ContinueSignal:
                pass
            if isinstance(statement, n.For) and statement.step is not None:
                self.statement_output(statement.step)

    def exec_try(self, statement: n.Try, out: list[Any]) -> None:
        try:
            self.try_depth += 1
            try:
                self.exec_block(statement.body, out)
            finally:
                self.try_depth -= 1
        except PSError as error:
            for clause in statement.catches:
                if not clause.types or any(
                    is_subtype(t, wanted) for wanted in clause.types for t in error.exception_types()
                ):
                    saved = self.scope.vars.get("_", MISSING)
                    self.scope.vars["_"] = ErrorRecord(error)
                    try:
                        self.exec_block(clause.body, out)
                    finally:
                        if saved is MISSING:
                            self.scope.vars.pop("_", None)
                        else:
                            self.scope.vars["_"] = saved
                    break
            else:
                raise
        finally:
            if statement.finally_body is not None:
                self.exec_block(statement.finally_body, out)

    def flow(self, statement: n.Flow, out: list[Any]) -> None:
        kind = statement.kind
        value = None if statement.value is None else self.statement_value(statement.value)
        if kind == "return":
            if statement.value is not None:
                out.extend(enumerate_value(value))
            raise ReturnSignal()
        if kind == "exit":
            raise ExitSignal(to_int(value) if value is not None else 0)
        if kind == "break":
            raise BreakSignal()
        if kind == "continue":
            raise ContinueSignal()
        if kind == "throw":
            if isinstance(value, ErrorRecord):
                raise PSError(value.error.message, exception_type=value.error.exception_type, script_terminating=True)
            message = to_string(value) if value is not None else "ScriptHalted"
            raise PSError(message, target=value, error_id=message if value is not None else "ScriptHalted",
                          category="OperationStopped", script_terminating=True)
        raise NotSimulated(kind)

    def statement_output(self, statement: n.Node) -> list[Any]:
        out: list[Any] = []
        if isinstance(statement, n.Pipeline):
            return self.run_pipeline(statement)
        self._exec(statement, out)
        return out

    def statement_value(self, statement: n.Node) -> Any:
        return collect(self.statement_output(statement))

    # -- assignment ----------------------------------------------------------------------------------------------
    def value_of(self, statement: n.Node) -> Any:
        """The value a statement gives on the right of `=` (an expression keeps its value: `$x = @(1)` stays an
        array), otherwise its collected output."""
        if self.is_expression(statement) and not (statement.discard_output or statement.merge_errors):
            return self.eval(statement.elements[0])
        return self.statement_value(statement)

    def assign(self, statement: n.Assignment) -> None:
        value = self.value_of(statement.value)
        if value is None and isinstance(statement.target, n.Variable) and not self.is_expression(statement.value):
            value = VOID  # AutomationNull: a statement that wrote nothing; `@($x)` is then empty
        if statement.op != "=":
            current = self.eval(statement.target)
            value = self.arithmetic(statement.op[0], current, None if value is VOID else value)
        self.store(statement.target, value)

    @staticmethod
    def is_expression(statement: n.Node) -> bool:
        return isinstance(statement, n.Pipeline) and len(statement.elements) == 1 and not isinstance(
            statement.elements[0], n.Command
        )

    def store(self, target: n.Node, value: Any) -> None:
        if isinstance(target, n.Variable):
            self.set_variable(target.name, value)
        elif isinstance(target, n.Member):
            set_member(self, self.eval(target.target), self.member_name(target.name), value)
        elif isinstance(target, n.Index):
            container = self.eval(target.target)
            key = self.eval(target.index)
            if isinstance(container, PSHashtable):
                container.set_ci(key, value)
            elif isinstance(container, list):
                container[to_int(key)] = value
            else:
                raise NotSimulated(f"assigning to an index of {type(container).__name__}")
        elif isinstance(target, n.Cast) and isinstance(target.operand, n.Variable):
            self.set_variable(target.operand.name, pstypes.find(target.type_name).convert(self, value))
        else:
            raise NotSimulated(f"assigning to {target.text or type(target).__name__}")

    # -- pipelines -----------------------------------------------------------------------------------------------
    def run_pipeline(self, pipeline: n.Pipeline) -> list[Any]:
        sink: list[PSError] = []
        self.error_sinks.append(sink)
        self.redirections.append(pipeline)
        try:
            items: list[Any] | None = None
            for position, element in enumerate(pipeline.elements):
                if isinstance(element, n.Command):
                    items = self.invoke_command(element, items, position)
                else:
                    value = self.eval_raw(element)
                    if isinstance(element, n.Unary) and element.op in ("pre++", "pre--", "post++", "post--"):
                        value = VOID  # `$i++` as a statement writes nothing
                    items = [] if value is VOID else enumerate_value(value)
        finally:
            self.error_sinks.pop()
            self.redirections.pop()
        output = [] if pipeline.discard_output else list(items or [])
        if pipeline.merge_errors:
            output.extend(ErrorRecord(e) for e in sink)
        elif not pipeline.discard_errors:
            self.error_sinks[-1].extend(sink)
        return output

    def write_error(self, error: PSError, action: str | None) -> None:
        action = action or self.error_action_preference()
        if action in ("SilentlyContinue", "Ignore"):
            return
        if action == "Stop":
            error.script_terminating = True
            raise error
        if action not in ("Continue",):
            raise NotSimulated(f"ErrorAction {action}")
        self.error_sinks[-1].append(error)

    def command_arguments(self, command: n.Command) -> list[tuple[str, Any, Any]]:
        elements: list[tuple[str, Any, Any]] = []
        for element in command.elements:
            if isinstance(element, n.CommandParameter):
                value = MISSING if element.value is None else self.eval(element.value)
                elements.append(("param", element.name, value))
            elif isinstance(element, n.CommandArgument) and isinstance(element.value, n.Variable) \
                    and element.value.splat:
                splatted = self.get_variable(element.value.name)
                if isinstance(splatted, PSHashtable):
                    elements += [("param", str(k), v) for k, v in splatted.items()]
                elif isinstance(splatted, list):
                    elements += [("arg", v, None) for v in splatted]
                else:
                    raise NotSimulated(f"splatting @{element.value.name} of {type(splatted).__name__}")
            else:
                assert isinstance(element, n.CommandArgument)
                elements.append(("arg", self.eval(element.value), None))
        return elements

    def invoke_command(self, command: n.Command, items: list[Any] | None, position: int) -> list[Any]:
        if command.invocation == "&":
            target = self.eval(command.name)
            if isinstance(target, ScriptBlock):
                args = [v for kind, v, _ in self.command_arguments(command) if kind == "arg"]
                return self.call_scriptblock(target, args=args, new_scope=True, input_items=items)
            name = to_string(target)
        else:
            assert isinstance(command.name, n.Const)
            name = str(command.name.value)
        described = command.text if position == 0 else f"pipeline stage: {command.text}"
        function = self.functions.get(name.lower())
        if function is not None:
            return self.call_function(function, self.command_arguments(command), items)
        spec = REGISTRY.get(name.lower())
        if spec is not None:
            self.commands_invoked += 1
            if items is not None and not spec.pipeline:
                raise NotSimulated(f"pipeline input to {spec.name} ({described})")
            args = bind(spec, self.command_arguments(command))
            if args.get("WhatIf") and truthy(args["WhatIf"]):
                raise NotSimulated(f"-WhatIf on {spec.name}")
            result = spec.fn(Call(self, spec, args, items))
            return list(result) if result is not None else []
        key = native_name(name)
        if key is not None:
            self.commands_invoked += 1
            return self.call_native(key, name, command, items)
        raise NotSimulated(described)

    def call_native(self, key: str, name: str, command: n.Command, items: list[Any] | None) -> list[Any]:
        if items:
            raise NotSimulated(f"pipeline input to the native command {name}")
        argv: list[str] = []
        for kind, value, extra in self.command_arguments(command):
            if kind == "param":
                argv.append("-" + value + ("" if extra is MISSING else ":" + to_string(extra)))
            else:
                argv.extend(to_string(v) for v in enumerate_value(value) if v is not None)
        result = NATIVES[key](NativeCall(self.host, name, argv))
        self.last_exit_code = result.rc
        self.last_native = True
        lines = self.native_lines(result.stdout)
        redirect = self.redirections[-1] if self.redirections else None
        if redirect is not None and redirect.merge_errors:
            lines += self.native_lines(result.stderr)
        elif result.stderr and not (redirect is not None and redirect.discard_errors):
            self.stderr_chunks.append(result.stderr)
        return lines

    @staticmethod
    def native_lines(text: str) -> list[str]:
        """A native command's output as PowerShell reads it: one string per line."""
        if not text:
            return []
        text = text.replace("\r\n", "\n")
        return (text[:-1] if text.endswith("\n") else text).split("\n")

    def call_scriptblock(
        self,
        block: ScriptBlock,
        *,
        dollar: Any = MISSING,
        args: list[Any] | None = None,
        new_scope: bool = False,
        input_items: list[Any] | None = None,
    ) -> list[Any]:
        """Run a script block: in the current scope (Where-Object / ForEach-Object) or a child scope (`&`)."""
        body: n.ScriptBody = block.body
        saved_scope = self.scope
        if new_scope:
            self.scope = Scope(self.scope)
            self.bind_params(body, [("arg", a, None) for a in args or []], input_items)
        saved_dollar = self.scope.vars.get("_", MISSING)
        if dollar is not MISSING:
            self.scope.vars["_"] = dollar
        out: list[Any] = []
        try:
            if body.process is not None or body.begin is not None or body.end is not None:
                raise NotSimulated("begin/process/end blocks in a script block")
            self.exec_block(body.statements, out)
        except ReturnSignal:
            pass
        finally:
            if dollar is not MISSING:
                if saved_dollar is MISSING:
                    self.scope.vars.pop("_", None)
                else:
                    self.scope.vars["_"] = saved_dollar
            self.scope = saved_scope
        return out

    def bind_params(self, body: n.ScriptBody, elements: list[tuple[str, Any, Any]], items: list[Any] | None) -> None:
        """Bind command arguments to a param() block: named (unique prefixes), then positional, then defaults."""
        params = body.params or []

        def is_switch(param: n.Parameter) -> bool:
            return (param.type_name or "").lower() in ("switch", "system.management.automation.switchparameter")

        def find(name: str) -> n.Parameter | None:
            lowered = name.lower()
            exact = [p for p in params if p.name.lower() == lowered]
            prefixed = [p for p in params if p.name.lower().startswith(lowered)]
            found = exact[0] if exact else (prefixed[0] if len(prefixed) == 1 else None)
            if found is None and lowered not in ("verbose", "debug", "erroraction", "whatif", "confirm"):
                raise PSError(f"A parameter cannot be found that matches parameter name '{name}'.",
                              category="InvalidArgument", error_id="NamedParameterNotFound")
            return found

        pairs, positional = split_arguments(
            elements, find, is_switch,
            lambda param: PSError(f"Missing an argument for parameter '{param.name}'.", category="InvalidArgument",
                                  error_id="MissingArgument"),
        )
        named = {param.name.lower(): value for param, value in pairs}
        for param in params:
            key = param.name.lower()
            if key in named:
                value = named[key]
            elif is_switch(param):
                value = False
            elif positional:
                value = positional.pop(0)
            elif param.from_pipeline and items is not None:
                value = collect(items)
            elif param.default is not None:
                value = self.eval(param.default)
            else:
                value = None
            if param.type_name and value is not None:
                value = pstypes.find(param.type_name).convert(self, value)
            self.scope.vars[key] = value
        self.scope.vars["args"] = positional

    def call_function(self, function: Function, elements: list[tuple[str, Any, Any]],
                      items: list[Any] | None) -> list[Any]:
        body = function.body
        if items is not None and not any(p.from_pipeline for p in body.params or []):
            raise NotSimulated(f"pipeline input to the function {function.name}")
        saved_scope = self.scope
        self.scope = Scope(self.global_scope)
        out: list[Any] = []
        try:
            self.bind_params(body, elements, items)
            if body.begin or body.process or body.end:
                for block in (body.begin, body.process, body.end):
                    if block:
                        self.exec_block(block, out)
            else:
                self.exec_block(body.statements, out)
        except ReturnSignal:
            pass
        finally:
            self.scope = saved_scope
        return out

    # -- expressions ---------------------------------------------------------------------------------------------
    def eval(self, node: n.Node) -> Any:
        value = self.eval_raw(node)
        return None if value is VOID else value

    def member_name(self, node: n.Node) -> str:
        return str(node.value) if isinstance(node, n.Const) else to_string(self.eval(node))

    def eval_raw(self, node: n.Node) -> Any:
        method = getattr(self, "eval_" + type(node).__name__, None)
        if method is None:
            raise NotSimulated(f"the expression {node.text or type(node).__name__}")
        return method(node)

    def eval_Const(self, node: n.Const) -> Any:
        return node.value

    def eval_ExpandString(self, node: n.ExpandString) -> str:
        return "".join(part if isinstance(part, str) else to_string(self.eval(part)) for part in node.parts)

    def eval_Variable(self, node: n.Variable) -> Any:
        return self.get_variable(node.name)

    def eval_ArrayLiteral(self, node: n.ArrayLiteral) -> list[Any]:
        return [self.eval(item) for item in node.items]

    def eval_SubExpression(self, node: n.SubExpression) -> Any:
        out: list[Any] = []
        self.exec_block(node.statements, out)
        return list(out) if node.array else collect(out)

    def eval_Paren(self, node: n.Paren) -> Any:
        statement = node.statement
        if isinstance(statement, n.Pipeline) and len(statement.elements) == 1 and not isinstance(
            statement.elements[0], n.Command
        ):
            return self.eval(statement.elements[0])
        if isinstance(statement, n.Assignment):
            self.assign(statement)
            return self.eval(statement.target)
        return collect(self.statement_output(statement))

    def eval_HashLiteral(self, node: n.HashLiteral) -> PSHashtable:
        table = PSHashtable()
        for key_node, value_node in node.entries:
            key = self.eval(key_node)
            if table.has(key):
                raise PSError(f"Duplicate keys '{to_string(key)}' are not allowed in hash literals.",
                              error_id="DuplicateKeyInHashLiteral", category="ParserError")
            table.set_ci(key, self.value_of(value_node))
        return table

    def eval_ScriptBlockLiteral(self, node: n.ScriptBlockLiteral) -> ScriptBlock:
        text = node.text.strip()
        return ScriptBlock(node.body, text[1:-1] if text.startswith("{") else text)

    def eval_TypeLiteral(self, node: n.TypeLiteral) -> pstypes.TypeInfo:
        return pstypes.find(node.name)

    def eval_Cast(self, node: n.Cast) -> Any:
        type_name = node.type_name.strip().lower()
        value = self.eval(node.operand)
        if type_name == "void":
            return VOID
        return pstypes.find(type_name).convert(self, value)

    def eval_Index(self, node: n.Index) -> Any:
        container = self.eval(node.target)
        index = self.eval(node.index)
        if isinstance(index, list):
            return [self.index_one(container, i) for i in index]
        return self.index_one(container, index)

    def index_one(self, container: Any, index: Any) -> Any:
        if container is None:
            raise PSError("Cannot index into a null array.", category="InvalidOperation", error_id="NullArray")
        if isinstance(container, PSHashtable):
            return container.get_ci(index)
        if isinstance(container, (list, str)):
            position = to_int(index)
            if -len(container) <= position < len(container):
                return container[position]
            return None
        if isinstance(container, dict) or isinstance(container, DotNetObject):
            raise NotSimulated(f"indexing into {getattr(container, 'type_name', 'a PSCustomObject')}")
        if to_int(index) == 0:
            return container  # a scalar indexes as a one-element array
        return None

    def eval_Member(self, node: n.Member) -> Any:
        name = self.member_name(node.name)
        if node.static:
            target = self.eval(node.target)
            if not isinstance(target, pstypes.TypeInfo):
                raise NotSimulated(f"static member access on {type(target).__name__}")
            prop = target.static_props.get(name.lower())
            if prop is None:
                raise NotSimulated(f"the static member [{target.full_name}]::{name}")
            return prop(self)
        return get_member(self, self.eval(node.target), name)

    def eval_InvokeMember(self, node: n.InvokeMember) -> Any:
        name = self.member_name(node.name)
        target = self.eval(node.target)
        args = [self.eval(arg) for arg in node.args]
        self.commands_invoked += 1  # a method call does something a playbook may want to see in commands_run
        if node.static:
            if not isinstance(target, pstypes.TypeInfo):
                raise NotSimulated(f"static method call on {type(target).__name__}")
            if name.lower() == "new" and target.new is not None:
                try:
                    return target.new(self, args)
                except DotNetException as exc:
                    raise method_error(".ctor", args, exc) from exc
            method = target.static_methods.get(name.lower())
            if method is None:
                raise NotSimulated(f"the static method [{target.full_name}]::{name}()")
            try:
                result = method(self, args)
            except DotNetException as exc:
                raise method_error(name, args, exc) from exc
            return VOID if result is None else result
        return invoke_method(self, target, name, args)

    def eval_Unary(self, node: n.Unary) -> Any:
        op = node.op
        if op in ("pre++", "pre--", "post++", "post--"):
            current = self.eval(node.operand)
            new = to_number(current) + (1 if "++" in op else -1)
            self.store(node.operand, new)
            return new if op.startswith("pre") else current
        value = self.eval(node.operand)
        if op == "-not":
            return not truthy(value)
        if op == "-":
            return -to_number(value)
        if op == "+":
            return to_number(value)
        if op == "-bnot":
            return ~to_int(value)
        if op == "-split":
            return [part for part in re.split(r"\s+", to_string(value).strip()) if part]
        if op == "-join":
            return "".join(to_string(v) for v in enumerate_value(value))
        raise NotSimulated(f"the unary operator {op}")

    def eval_Binary(self, node: n.Binary) -> Any:
        op = node.op
        if op == "-and":
            return truthy(self.eval(node.left)) and truthy(self.eval(node.right))
        if op == "-or":
            return truthy(self.eval(node.left)) or truthy(self.eval(node.right))
        left, right = self.eval(node.left), self.eval(node.right)
        return self.binary(op, left, right)

    def binary(self, op: str, left: Any, right: Any) -> Any:
        return operators.binary(self, op, left, right)

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        return operators.arithmetic(op, left, right)

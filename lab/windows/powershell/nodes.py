"""The syntax tree of the PowerShell subset (built by parser.py, run by interpreter.py)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class Node:
    pos: int = dataclasses.field(default=0, kw_only=True)
    text: str = dataclasses.field(default="", kw_only=True, repr=False)  # the source of the node


# -- expressions -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Const(Node):
    value: Any


@dataclasses.dataclass
class ExpandString(Node):
    """A double-quoted string (or a generic command-mode token): literal parts and expressions to expand."""

    parts: list[Any]


@dataclasses.dataclass
class Variable(Node):
    name: str  # as written, without `$` (`env:COMPUTERNAME`, `_`)
    splat: bool = False


@dataclasses.dataclass
class ArrayLiteral(Node):
    items: list[Node]


@dataclasses.dataclass
class SubExpression(Node):
    """`$(...)` (array=False) or `@(...)` (array=True)."""

    statements: list[Node]
    array: bool = False


@dataclasses.dataclass
class Paren(Node):
    statement: Node


@dataclasses.dataclass
class HashLiteral(Node):
    entries: list[tuple[Node, Node]]


@dataclasses.dataclass
class ScriptBlockLiteral(Node):
    body: ScriptBody


@dataclasses.dataclass
class TypeLiteral(Node):
    name: str


@dataclasses.dataclass
class Cast(Node):
    type_name: str
    operand: Node


@dataclasses.dataclass
class Unary(Node):
    op: str  # -not, -, +, -split, -join, -bnot, ','
    operand: Node


@dataclasses.dataclass
class Binary(Node):
    op: str  # lower-case: -eq, -and, +, -f, ...
    left: Node
    right: Node


@dataclasses.dataclass
class Member(Node):
    target: Node
    name: Node
    static: bool = False


@dataclasses.dataclass
class InvokeMember(Node):
    target: Node
    name: Node
    args: list[Node]
    static: bool = False


@dataclasses.dataclass
class Index(Node):
    target: Node
    index: Node


# -- commands and pipelines --------------------------------------------------------------------------------------


@dataclasses.dataclass
class CommandParameter(Node):
    name: str
    value: Node | None = None  # -Name:value


@dataclasses.dataclass
class CommandArgument(Node):
    value: Node


@dataclasses.dataclass
class Command(Node):
    name: Node  # Const(str) for a bare name, an expression after `&`
    elements: list[Node]
    invocation: str = ""  # "" | "&" | "."


@dataclasses.dataclass
class Pipeline(Node):
    elements: list[Node]  # the first may be an expression, the others are Commands
    discard_output: bool = False  # > $null
    merge_errors: bool = False  # 2>&1
    discard_errors: bool = False  # 2> $null


# -- statements --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Assignment(Node):
    target: Node
    op: str
    value: Node


@dataclasses.dataclass
class If(Node):
    clauses: list[tuple[Node, list[Node]]]
    else_body: list[Node] | None = None


@dataclasses.dataclass
class ForEach(Node):
    variable: str
    iterable: Node
    body: list[Node]


@dataclasses.dataclass
class While(Node):
    condition: Node
    body: list[Node]


@dataclasses.dataclass
class DoLoop(Node):
    body: list[Node]
    condition: Node
    until: bool = False


@dataclasses.dataclass
class For(Node):
    init: Node | None
    condition: Node | None
    step: Node | None
    body: list[Node]


@dataclasses.dataclass
class Catch(Node):
    types: list[str]
    body: list[Node]


@dataclasses.dataclass
class Try(Node):
    body: list[Node]
    catches: list[Catch]
    finally_body: list[Node] | None = None


@dataclasses.dataclass
class Flow(Node):
    kind: str  # return | throw | exit | break | continue
    value: Node | None = None


@dataclasses.dataclass
class Parameter(Node):
    name: str
    type_name: str | None = None
    default: Node | None = None
    mandatory: bool = False
    from_pipeline: bool = False


@dataclasses.dataclass
class ScriptBody(Node):
    params: list[Parameter] | None
    statements: list[Node]
    begin: list[Node] | None = None
    process: list[Node] | None = None
    end: list[Node] | None = None
    should_process: bool = False  # [CmdletBinding(SupportsShouldProcess)]
    cmdlet_binding: bool = False


@dataclasses.dataclass
class FunctionDef(Node):
    name: str
    body: ScriptBody

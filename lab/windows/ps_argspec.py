"""Argument specs of the ansible.windows modules, read from their PowerShell source (the installed collection).

Ansible.Basic modules declare `$spec = @{ options = @{...}; required_by = @{...}; ... }`; this module parses that
hashtable literal (strings, numbers, `$true/$false/$null`, `@{}`, `@()`, comma lists, comments) into Python.
The few values that are PowerShell expressions (a delegate, an enum listing) are resolved by RESOLVED below, one
entry per expression with the line of the module that defines it; an expression missing from that table raises
SpecError, so a collection update that changes a spec fails loudly instead of being read wrongly.

Legacy modules (`Parse-Args` + `Get-AnsibleParam`, Ansible.ModuleUtils.Legacy.psm1) have no spec: their
`Get-AnsibleParam` calls are read in script order (name, type, failifempty, aliases, validateset, default).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import re
from typing import Any

import ansible_collections.ansible.windows.plugins.modules as _modules_pkg

MODULES_DIR = pathlib.Path(_modules_pkg.__file__).parent
MODULE_UTILS_DIR = MODULES_DIR.parent / "module_utils"
UINT32 = "uint32"  # a `type` delegate `[Func[[Object], [UInt32]]] { [UInt32]$args[0] }`


class SpecError(LookupError):
    """A module source this parser cannot read (format changed, or an expression not in RESOLVED)."""


@dataclasses.dataclass(frozen=True)
class Expression:
    """A PowerShell expression kept as source text (variables, member access, operators, script blocks)."""

    text: str


# PowerShell expressions found in the $spec of the simulated modules, and what they evaluate to on Windows.
RESOLVED: dict[tuple[str, str], Any] = {
    # win_service.ps1 line 10: $uint32Type = [Func[[Object], [UInt32]]] { [UInt32]$args[0] }
    ("win_service", "$uint32Type"): UINT32,
    # win_certificate_info.ps1 line 75: [StoreLocation].GetEnumValues() -> CurrentUser (1), LocalMachine (2)
    ("win_certificate_info", "$store_location_values"): ["CurrentUser", "LocalMachine"],
    # win_package.ps1 line 739: $providerInfo = [Ordered]@{ msi, msix, msp, registry } (+ "auto", line 1318)
    ("win_package", '$providerInfo.Keys + "auto"'): ["msi", "msix", "msp", "registry", "auto"],
}


# -- a small reader of PowerShell literals ------------------------------------------------------------------------
class _Reader:
    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos

    def error(self, what: str) -> SpecError:
        line = self.text.count("\n", 0, self.pos) + 1
        return SpecError(f"cannot read PowerShell {what} at line {line}: {self.text[self.pos:self.pos + 60]!r}")

    def skip(self, newlines: bool) -> None:
        """Skip blanks, comments (and newlines when `newlines`)."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.pos += 1
            elif char == "`" and text[self.pos + 1 : self.pos + 2] in ("\n", "\r"):
                self.pos += 2  # line continuation
            elif text.startswith("<#", self.pos):
                end = text.find("#>", self.pos)
                self.pos = len(text) if end < 0 else end + 2
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def statement(self, command: bool = False) -> Any:
        """One statement: a comma list (`a, b`), a unary comma (`, a`) or a single value.

        `command`: an argument of a command (`-name "x" -type "str"`): the value ends at the next blank."""
        self.skip(newlines=False)
        items: list[Any] = []
        unary = self.peek(",")
        if unary:
            self.pos += 1
            self.skip(newlines=True)
        items.append(self.primary(command))
        while True:
            self.skip(newlines=False)
            if not self.peek(","):
                break
            self.pos += 1
            self.skip(newlines=True)  # a trailing comma continues the statement on the next line
            items.append(self.primary(command))
        return items if unary or len(items) > 1 else items[0]

    def primary(self, command: bool = False) -> Any:
        self.skip(newlines=False)
        start = self.pos
        value = self._atom()
        if command and (self.pos >= len(self.text) or self.text[self.pos] in " \t,)"):
            return value
        self.skip(newlines=False)
        if self.pos < len(self.text) and self.text[self.pos] not in ",;)}\n":
            # an operator or member access follows: keep the whole expression as text
            self.pos = self._expression_end(start)
            return Expression(self.text[start : self.pos].strip())
        return value

    def _atom(self) -> Any:
        text = self.text
        if self.peek("@{"):
            self.pos += 2
            return self._hashtable()
        if self.peek("@("):
            self.pos += 2
            return self._array()
        if self.peek("'"):
            return self._single_quoted()
        if self.peek('"'):
            return self._double_quoted()
        if self.peek("["):  # a cast such as [Ordered]@{...} or [Func[...]] { ... }
            start = self.pos
            self._brackets("[", "]")
            self.skip(newlines=False)
            if self.peek("{"):
                self._brackets("{", "}")
                return Expression(text[start : self.pos])
            return self._atom()
        match = re.compile(r"\$(?:true|false|null)\b", re.I).match(text, self.pos)
        if match:
            self.pos = match.end()
            return {"$true": True, "$false": False, "$null": None}[match.group(0).lower()]
        match = re.compile(r"-?(?:0x[0-9a-f]+|\d+(?:\.\d+)?)\b", re.I).match(text, self.pos)
        if match:
            self.pos = match.end()
            number = match.group(0)
            return int(number, 16) if "x" in number.lower() else (float(number) if "." in number else int(number))
        match = re.compile(r"\$[\w:]+").match(text, self.pos)
        if match:
            self.pos = match.end()
            return Expression(match.group(0))
        raise self.error("value")

    def _expression_end(self, start: int) -> int:
        """End of an expression that starts at `start`: the next `;`, newline or closing bracket at depth 0."""
        depth, pos, text = 0, start, self.text
        while pos < len(text):
            char = text[pos]
            if char in "'\"":
                end = text.find(char, pos + 1)
                pos = len(text) if end < 0 else end + 1
                continue
            if char in "([{":
                depth += 1
            elif char in ")]}":
                if depth == 0:
                    return pos
                depth -= 1
            elif char in ";\n" and depth == 0:
                return pos
            pos += 1
        return pos

    def _brackets(self, opening: str, closing: str) -> None:
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == opening:
                depth += 1
            elif char == closing:
                depth -= 1
                if depth == 0:
                    return
        raise self.error(f"{opening}...{closing}")

    def _single_quoted(self) -> str:
        out, self.pos = [], self.pos + 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "'":
                if self.peek("''"):
                    out.append("'")
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error("string")

    def _double_quoted(self) -> str:
        out, self.pos = [], self.pos + 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "`":
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == "$":
                raise self.error("string with a variable")
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error("string")

    def _hashtable(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        while True:
            self.skip(newlines=True)
            if self.peek(";"):
                self.pos += 1
                continue
            if self.peek("}"):
                self.pos += 1
                return table
            if self.peek("'") or self.peek('"'):
                key = self._single_quoted() if self.peek("'") else self._double_quoted()
            else:
                match = re.compile(r"[A-Za-z_]\w*").match(self.text, self.pos)
                if not match:
                    raise self.error("hashtable key")
                key, self.pos = match.group(0), match.end()
            self.skip(newlines=False)
            if not self.peek("="):
                raise self.error("hashtable entry")
            self.pos += 1
            table[key] = self.statement()

    def _array(self) -> list[Any]:
        items: list[Any] = []
        while True:
            self.skip(newlines=True)
            if self.peek(";"):
                self.pos += 1
                continue
            if self.peek(")"):
                self.pos += 1
                return items
            value = self.statement()
            items.extend(value if isinstance(value, list) else [value])  # @() enumerates each statement's output


def parse_value(text: str) -> Any:
    """Parse one PowerShell literal value (used by the tests and by the spec readers below)."""
    reader = _Reader(text)
    value = reader.statement()
    reader.skip(newlines=True)
    if reader.pos != len(text):
        raise reader.error("trailing text")
    return value


# -- module specs -----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class LegacyParam:
    """One `Get-AnsibleParam` call of a legacy module."""

    name: str
    type: str | None = None
    failifempty: bool | Expression = False  # an Expression: decided by the module at run time (its handler checks)
    aliases: list[str] = dataclasses.field(default_factory=list)
    validateset: list[Any] | None = None
    default: Any = None
    line: int = 0


@dataclasses.dataclass
class ModuleSpec:
    module: str
    legacy: bool
    spec: dict[str, Any]  # Ansible.Basic modules: the $spec with fragments merged and expressions resolved
    params: list[LegacyParam]  # legacy modules: the Get-AnsibleParam calls in script order
    supports_check_mode: bool


def source(module: str) -> str:
    path = MODULES_DIR / f"{module}.ps1"
    if not path.exists():
        raise SpecError(f"ansible.windows.{module} has no PowerShell source in {MODULES_DIR}")
    return path.read_text(encoding="utf-8-sig")


@functools.cache
def module_spec(module: str) -> ModuleSpec:
    text = source(module)
    if re.search(r"^\s*\$\w+\s*=\s*Parse-Args\b", text, re.M | re.I):
        check = re.search(r"Parse-Args\b[^\n]*-supports_check_mode\s+\$true", text, re.I)
        return ModuleSpec(module, True, {}, _legacy_params(text), bool(check))
    match = re.search(r"^\$spec\s*=\s*", text, re.M)
    if not match:
        raise SpecError(f"{module}.ps1: no `$spec = @{{...}}` and no Parse-Args")
    reader = _Reader(text, match.end())
    spec = _resolve(module, reader.statement())
    create = re.search(r"AnsibleModule\]::Create\(\$args,\s*\$spec(?:,\s*@\((?P<fragments>[^)]*)\))?\)", text)
    if not create:
        raise SpecError(f"{module}.ps1: no [Ansible.Basic.AnsibleModule]::Create($args, $spec...) call")
    for name in re.findall(r"Get-\w+", create["fragments"] or ""):
        _merge_fragment(spec, _fragment(name))
    return ModuleSpec(module, False, spec, [], bool(spec.get("supports_check_mode")))


@functools.cache
def _fragment(function: str) -> dict[str, Any]:
    """The hashtable a module_utils function such as Get-AnsibleWindowsWebRequestSpec returns."""
    for path in sorted(MODULE_UTILS_DIR.glob("*.psm1")):
        text = path.read_text(encoding="utf-8-sig")
        match = re.search(rf"^Function {re.escape(function)}\s*{{", text, re.M | re.I)
        if not match:
            continue
        body = text.find("@{", text.find("#>", match.end()))
        reader = _Reader(text, body)
        return _resolve(function, reader.statement())
    raise SpecError(f"spec fragment {function} not found in {MODULE_UTILS_DIR}")


def _merge_fragment(spec: dict[str, Any], fragment: dict[str, Any]) -> None:
    """Ansible.Basic MergeFragmentSpec: the module's entries win, dicts merge, lists are extended."""
    for key, value in fragment.items():
        if key not in spec:
            spec[key] = value
        elif isinstance(value, dict) and isinstance(spec[key], dict):
            _merge_fragment(spec[key], value)
        elif isinstance(value, list) and isinstance(spec[key], list):
            spec[key].extend(value)


def _resolve(module: str, value: Any) -> Any:
    if isinstance(value, Expression):
        if (module, value.text) not in RESOLVED:
            raise SpecError(f"{module}: the spec uses the expression {value.text!r}, which the lab does not know")
        return RESOLVED[(module, value.text)]
    if isinstance(value, dict):
        return {k: _resolve(module, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(module, v) for v in value]
    return value


GET_PARAM = re.compile(r"Get-AnsibleParam\b(?P<args>[^\n]*)", re.I)
NAMED_ARGS = ("obj", "name", "default")  # Get-AnsibleParam's positional parameters, in order


def _legacy_params(text: str) -> list[LegacyParam]:
    params = []
    for match in GET_PARAM.finditer(text):
        if not re.match(r"\s+(?:-obj\s+)?\$\w+", match["args"]):
            continue  # not a call on the module's parameters (e.g. a comment)
        args = _command_args(match["args"])
        name = args.get("name")
        if not isinstance(name, str) or name.startswith("_ansible_"):
            continue
        aliases = args.get("aliases") or []
        validateset = args.get("validateset")
        params.append(
            LegacyParam(
                name=name,
                type=args.get("type"),
                failifempty=(args["failifempty"] if isinstance(args.get("failifempty"), Expression)
                             else bool(args.get("failifempty"))),
                aliases=aliases if isinstance(aliases, list) else [aliases],
                validateset=None if validateset is None else (
                    validateset if isinstance(validateset, list) else [validateset]
                ),
                default=args.get("default"),
                line=text.count("\n", 0, match.start()) + 1,
            )
        )
    return params


def _command_args(text: str) -> dict[str, Any]:
    """`-name "x" -aliases "a", "b" $obj "pos"` -> {name: 'x', aliases: ['a', 'b'], obj: ..., ...}."""
    reader = _Reader(text)
    args: dict[str, Any] = {}
    positional = list(NAMED_ARGS)
    while True:
        reader.skip(newlines=False)
        if reader.pos >= len(text) or reader.peek("|") or reader.peek(")"):
            return args
        match = re.compile(r"-([A-Za-z]\w*)").match(text, reader.pos)
        if match:
            reader.pos = match.end()
            key = match.group(1).lower()
            if key in positional:
                positional.remove(key)
            reader.skip(newlines=False)
            if reader.peek("("):  # a computed argument, e.g. win_copy's -failifempty ($copy_mode -in @(...))
                start = reader.pos
                reader._brackets("(", ")")
                args[key] = Expression(text[start : reader.pos])
                continue
            args[key] = reader.statement(command=True)
        elif positional:
            args[positional.pop(0)] = reader.statement(command=True)
        else:
            raise reader.error("Get-AnsibleParam argument")

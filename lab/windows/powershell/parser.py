"""A recursive-descent parser for the PowerShell subset the lab runs (see README.md, "PowerShell subset").

PowerShell tokenises differently in expression mode and in command (argument) mode, so the parser reads the source
directly and decides the mode from the context, as PowerShell's own parser does. Anything outside the subset raises
NotSimulated naming the construct and the place, never a silent skip.
"""

from __future__ import annotations

import re

from lab.windows.powershell import nodes as n
from lab.windows.powershell.errors import NotSimulated

KEYWORDS = {
    "if", "elseif", "else", "foreach", "for", "while", "do", "until", "function", "try", "catch", "finally",
    "throw", "return", "exit", "break", "continue", "param", "begin", "process", "end",
}  # fmt: skip
UNSUPPORTED_KEYWORDS = {
    "switch", "trap", "class", "enum", "using", "data", "workflow", "filter", "configuration", "dynamicparam",
    "parallel", "sequence", "inlinescript",
}  # fmt: skip
_COMPARISON = {
    "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "contains", "notcontains",
    "in", "notin", "replace", "split", "join",
}  # fmt: skip
COMPARISON_OPS = _COMPARISON | {p + o for o in _COMPARISON for p in ("c", "i")} | {"is", "isnot", "as"}
LOGICAL_OPS = {"and", "or", "xor"}
BITWISE_OPS = {"band", "bor", "bxor", "shl", "shr"}
UNARY_OPS = {"not", "bnot", "split", "join"}
ALL_OPS = COMPARISON_OPS | LOGICAL_OPS | BITWISE_OPS | UNARY_OPS | {"f"}

NUMBER = re.compile(
    r"(?:0x[0-9a-f]+|\d+\.\d+(?:e[+-]?\d+)?|\d+(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)[ld]?(?:kb|mb|gb|tb|pb)?",
    re.I,
)
MULTIPLIERS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
ATTRIBUTE = re.compile(
    r"\[\s*(?:CmdletBinding|OutputType|(?:System\.)?Diagnostics\.CodeAnalysis\.\w+|SuppressMessage\w*)\b", re.I
)
ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
BAREWORD_STOP = set(" \t\r\n;,|&(){}'\"\u00a0")
NAME_CHAR = re.compile(r"[A-Za-z0-9_?]")


def number_value(token: str) -> int | float:
    text = token.lower()
    multiplier = 1
    for suffix, factor in MULTIPLIERS.items():
        if text.endswith(suffix):
            multiplier, text = factor, text[: -len(suffix)]
            break
    text = text.rstrip("ld") if not text.startswith("0x") else text.rstrip("l")
    if text.startswith("0x"):
        value: int | float = int(text, 16)
    elif any(ch in text for ch in ".e"):
        value = float(text)
    else:
        value = int(text)
    if isinstance(value, float) and value.is_integer() and multiplier > 1:
        value = int(value)
    return value * multiplier


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.pos = 0
        self.no_comma = False

    # -- low level ------------------------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def error(self, what: str) -> NotSimulated:
        line = self.text.count("\n", 0, self.pos) + 1
        snippet = self.text[self.pos : self.pos + 40].split("\n", 1)[0]
        return NotSimulated(f"PowerShell syntax ({what}) at line {line}: {snippet!r}")

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected '{char}'")
        self.pos += 1

    def skip_ws(self, newlines: bool = False) -> None:
        while True:
            c = self.peek()
            if c in (" ", "\t", "\f", "\v", "\u00a0"):
                self.pos += 1
            elif c == "`" and self.peek(1) == "\n":
                self.pos += 2
            elif c == "#":
                while self.peek() not in ("", "\n"):
                    self.pos += 1
            elif c == "<" and self.peek(1) == "#":
                end = self.text.find("#>", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated block comment")
                self.pos = end + 2
            elif newlines and c == "\n":
                self.pos += 1
            else:
                return

    def peek_word(self) -> str:
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*").match(self.text, self.pos)
        return match.group(0) if match else ""

    def at_keyword(self, *words: str) -> str:
        word = self.peek_word()
        return word.lower() if word.lower() in words else ""

    def consume_word(self, word: str) -> None:
        self.pos += len(word)

    def node_text(self, start: int) -> str:
        return self.text[start : self.pos].strip()

    # -- scripts, blocks, statements ------------------------------------------------------------------------------
    def parse_script(self) -> n.ScriptBody:
        body = self.parse_body(None)
        if self.peek():
            raise self.error("unexpected text")
        return body

    def parse_body(self, terminator: str | None) -> n.ScriptBody:
        start = self.pos
        binding = should_process = False
        while True:
            self.skip_ws(newlines=True)
            match = ATTRIBUTE.match(self.text, self.pos)
            if not match:
                break
            begin = self.pos
            attribute = self.read_brackets()
            if attribute.lower().lstrip("[ \t").startswith("cmdletbinding"):
                binding = True
                should_process = bool(
                    re.search(r"SupportsShouldProcess(?!\s*=\s*\$false)", attribute, re.I)
                ) or should_process
            self.skip_ws(newlines=True)
            if not (self.at_keyword("param") or ATTRIBUTE.match(self.text, self.pos)):
                self.pos = begin
                binding = should_process = False
                break
        params = None
        if self.at_keyword("param"):
            self.consume_word("param")
            self.skip_ws(newlines=True)
            params = self.parse_param_list()
        self.skip_ws(newlines=True)
        body = n.ScriptBody(params, [], should_process=should_process, cmdlet_binding=binding, pos=start)
        if self.at_keyword("begin", "process", "end"):
            while True:
                self.skip_ws(newlines=True)
                word = self.at_keyword("begin", "process", "end")
                if not word:
                    break
                self.consume_word(word)
                setattr(body, word, self.parse_block())
            if (terminator and self.peek() != terminator) or (not terminator and self.peek()):
                raise self.error("statement after the begin/process/end blocks")
        else:
            body.statements = self.parse_statements(terminator)
        body.text = self.node_text(start)
        return body

    def read_brackets(self) -> str:
        start, depth = self.pos, 0
        while True:
            c = self.peek()
            if c == "":
                raise self.error("unbalanced '['")
            if c in "'\"":
                self.parse_string()
                continue
            self.pos += 1
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    return self.text[start : self.pos]

    def parse_param_list(self) -> list[n.Parameter]:
        self.expect("(")
        params: list[n.Parameter] = []
        while True:
            self.skip_ws(newlines=True)
            if self.peek() == ")":
                self.pos += 1
                return params
            start = self.pos
            type_name, mandatory, from_pipeline = None, False, False
            while self.peek() == "[":
                inner = self.read_brackets()[1:-1].strip()
                if "(" in inner:
                    mandatory |= bool(re.search(r"\bMandatory\b(?!\s*=\s*\$false)", inner, re.I))
                    from_pipeline |= bool(re.search(r"\bValueFromPipeline\b(?!\s*=\s*\$false)", inner, re.I))
                else:
                    type_name = inner
                self.skip_ws(newlines=True)
            if self.peek() != "$":
                raise self.error("parameter name")
            variable = self.parse_variable()
            assert isinstance(variable, n.Variable)
            self.skip_ws(newlines=True)
            default = None
            if self.peek() == "=":
                self.pos += 1
                self.skip_ws(newlines=True)
                saved, self.no_comma = self.no_comma, True
                default = self.parse_expression()
                self.no_comma = saved
                self.skip_ws(newlines=True)
            params.append(
                n.Parameter(variable.name, type_name, default, mandatory, from_pipeline, pos=start)
            )
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != ")":
                raise self.error("expected ',' or ')' in param()")

    def parse_block(self) -> list[n.Node]:
        self.skip_ws(newlines=True)
        self.expect("{")
        statements = self.parse_statements("}")
        self.expect("}")
        return statements

    def parse_statements(self, terminator: str | None) -> list[n.Node]:
        statements: list[n.Node] = []
        while True:
            self.skip_ws(newlines=True)
            while self.peek() == ";":
                self.pos += 1
                self.skip_ws(newlines=True)
            c = self.peek()
            if c == "":
                if terminator:
                    raise self.error(f"missing '{terminator}'")
                return statements
            if c == terminator:
                return statements
            if c in ")}":
                raise self.error(f"unexpected '{c}'")
            statements.append(self.parse_statement())
            self.skip_ws()
            c = self.peek()
            if c not in ("", ";", "\n") and c != terminator:
                raise self.error("unexpected token after a statement")

    def parse_statement(self) -> n.Node:
        start = self.pos
        if self.peek() == ":" and self.peek(1).isalpha():
            raise NotSimulated("loop labels (:label)")
        word = self.peek_word().lower()
        if word in UNSUPPORTED_KEYWORDS:
            raise NotSimulated(f"the PowerShell '{word}' statement")
        handler = {
            "if": self.parse_if,
            "foreach": self.parse_foreach,
            "while": self.parse_while,
            "do": self.parse_do,
            "for": self.parse_for,
            "try": self.parse_try,
            "function": self.parse_function,
            "return": self.parse_flow,
            "throw": self.parse_flow,
            "exit": self.parse_flow,
            "break": self.parse_flow,
            "continue": self.parse_flow,
        }.get(word)
        if handler is not None and word in ("foreach", "for", "while") and not self._keyword_paren(word):
            handler = None  # e.g. `foreach` as the ForEach-Object alias in a pipeline position
        if handler is None:
            if word in ("param", "begin", "process", "end", "elseif", "else", "catch", "finally", "until"):
                raise self.error(f"misplaced '{word}'")
            node = self.parse_pipeline_statement()
        else:
            node = handler()
        node.pos, node.text = start, self.node_text(start)
        return node

    def _keyword_paren(self, word: str) -> bool:
        index = self.pos + len(word)
        while index < len(self.text) and self.text[index] in " \t":
            index += 1
        return index < len(self.text) and self.text[index] == "("

    def parse_condition(self) -> n.Node:
        self.skip_ws()
        self.expect("(")
        self.skip_ws(newlines=True)
        saved, self.no_comma = self.no_comma, False
        condition = self.parse_pipeline_statement()
        self.no_comma = saved
        self.skip_ws(newlines=True)
        self.expect(")")
        return condition

    def parse_if(self) -> n.Node:
        self.consume_word("if")
        clauses = [(self.parse_condition(), self.parse_block())]
        else_body = None
        while True:
            saved = self.pos
            self.skip_ws(newlines=True)
            word = self.at_keyword("elseif", "else")
            if word == "elseif":
                self.consume_word(word)
                clauses.append((self.parse_condition(), self.parse_block()))
            elif word == "else":
                self.consume_word(word)
                else_body = self.parse_block()
                break
            else:
                self.pos = saved
                break
        return n.If(clauses, else_body)

    def parse_foreach(self) -> n.Node:
        self.consume_word(self.peek_word())
        self.skip_ws()
        self.expect("(")
        self.skip_ws(newlines=True)
        variable = self.parse_variable()
        assert isinstance(variable, n.Variable)
        self.skip_ws(newlines=True)
        if not self.at_keyword("in"):
            raise self.error("expected 'in' in foreach")
        self.consume_word("in")
        self.skip_ws(newlines=True)
        iterable = self.parse_pipeline_statement()
        self.skip_ws(newlines=True)
        self.expect(")")
        return n.ForEach(variable.name, iterable, self.parse_block())

    def parse_while(self) -> n.Node:
        self.consume_word(self.peek_word())
        return n.While(self.parse_condition(), self.parse_block())

    def parse_do(self) -> n.Node:
        self.consume_word(self.peek_word())
        body = self.parse_block()
        self.skip_ws(newlines=True)
        word = self.at_keyword("while", "until")
        if not word:
            raise self.error("expected while or until after do { }")
        self.consume_word(word)
        return n.DoLoop(body, self.parse_condition(), until=word == "until")

    def parse_for(self) -> n.Node:
        self.consume_word(self.peek_word())
        self.skip_ws()
        self.expect("(")
        parts: list[n.Node | None] = []
        for closing in (";", ";", ")"):
            self.skip_ws(newlines=True)
            parts.append(None if self.peek() == closing else self.parse_pipeline_statement())
            self.skip_ws(newlines=True)
            self.expect(closing)
        return n.For(parts[0], parts[1], parts[2], self.parse_block())

    def parse_try(self) -> n.Node:
        self.consume_word(self.peek_word())
        body = self.parse_block()
        catches: list[n.Catch] = []
        finally_body = None
        while True:
            saved = self.pos
            self.skip_ws(newlines=True)
            word = self.at_keyword("catch", "finally")
            if word == "catch":
                self.consume_word(word)
                types = []
                self.skip_ws()
                while self.peek() == "[":
                    types.append(self.read_brackets()[1:-1].strip())
                    self.skip_ws(newlines=True)
                    if self.peek() == ",":
                        self.pos += 1
                        self.skip_ws(newlines=True)
                catches.append(n.Catch(types, self.parse_block()))
            elif word == "finally":
                self.consume_word(word)
                finally_body = self.parse_block()
                break
            else:
                self.pos = saved
                break
        if not catches and finally_body is None:
            raise self.error("try without catch or finally")
        return n.Try(body, catches, finally_body)

    def parse_function(self) -> n.Node:
        self.consume_word(self.peek_word())
        self.skip_ws()
        name = self.read_bareword()
        if not name:
            raise self.error("function name")
        self.skip_ws(newlines=True)
        if self.peek() == "(":
            params = self.parse_param_list()
            self.skip_ws(newlines=True)
            self.expect("{")
            body = self.parse_body("}")
            body.params = params
        else:
            self.expect("{")
            body = self.parse_body("}")
        self.expect("}")
        return n.FunctionDef(name, body)

    def parse_flow(self) -> n.Node:
        word = self.peek_word()
        self.consume_word(word)
        kind = word.lower()
        self.skip_ws()
        value = None
        if self.peek() not in ("", "\n", ";", "}", ")"):
            if kind in ("break", "continue"):
                raise NotSimulated(f"labelled {kind}")
            value = self.parse_pipeline_statement()
        return n.Flow(kind, value)

    # -- pipelines and commands -----------------------------------------------------------------------------------
    def starts_expression(self) -> bool:
        c, c1 = self.peek(), self.peek(1)
        if c in ("$", "'", '"', "(", "@", "[", "{", "!", ",") or c.isdigit():
            return True
        if c == "." and c1.isdigit():
            return True
        if c in ("-", "+"):
            return True
        return False

    def parse_pipeline_statement(self) -> n.Node:
        start = self.pos
        if self.starts_expression():
            first: n.Node = self.parse_expression()
            self.skip_ws()
            op = self.match_assignment()
            if op:
                self.skip_ws(newlines=True)
                value = self.parse_statement()
                return n.Assignment(first, op, value, pos=start, text=self.node_text(start))
        else:
            first = self.parse_command()
        pipeline = n.Pipeline([first], pos=start)
        while True:
            self.skip_ws()
            if self.peek() == "|" and self.peek(1) != "|":
                self.pos += 1
                self.skip_ws(newlines=True)
                if self.starts_expression() and self.peek() not in ("-",):
                    raise self.error("an expression after '|'")
                pipeline.elements.append(self.parse_command())
            elif self.at_redirection():
                self.parse_redirection(pipeline)
            elif self.peek() == "|":
                raise NotSimulated("the '||' operator")
            else:
                break
        pipeline.text = self.node_text(start)
        return pipeline

    def match_assignment(self) -> str:
        c, c1 = self.peek(), self.peek(1)
        if c == "=" and c1 != "=":
            self.pos += 1
            return "="
        if c in "+-*/%" and c and c1 == "=":
            self.pos += 2
            return c + "="
        return ""

    def at_redirection(self) -> bool:
        return re.compile(r"(?:[*1-6])?>").match(self.text, self.pos) is not None

    def parse_redirection(self, pipeline: n.Pipeline) -> None:
        match = re.compile(r"([*1-6])?(>>?)(&[12])?").match(self.text, self.pos)
        assert match
        self.pos = match.end()
        stream = match.group(1) or "1"
        if match.group(3):
            if stream == "2" and match.group(3) == "&1":
                pipeline.merge_errors = True
                return
            raise NotSimulated(f"the redirection {match.group(0)}")
        self.skip_ws()
        if not self.text.startswith("$null", self.pos) or NAME_CHAR.match(self.peek(5) or " "):
            raise NotSimulated(f"redirection {match.group(0)} to a file (only to $null)")
        self.pos += 5
        if stream in ("1", "*"):
            pipeline.discard_output = True
        if stream in ("2", "*"):
            pipeline.discard_errors = True

    def read_bareword(self) -> str:
        start = self.pos
        while True:
            c = self.peek()
            if c == "" or c in BAREWORD_STOP:
                break
            if c == "$" and self.pos > start and (NAME_CHAR.match(self.peek(1) or " ") or self.peek(1) in ("(", "{")):
                break
            if c == ">" and self.pos > start:
                break
            self.pos += 1
        return self.text[start : self.pos]

    def parse_command(self) -> n.Command:
        start = self.pos
        invocation = ""
        if self.peek() == "&" and self.peek(1) != "&":
            self.pos += 1
            invocation = "&"
            self.skip_ws()
            name: n.Node = self.parse_argument_value()
        elif self.peek() == "." and self.peek(1) in (" ", "\t"):
            raise NotSimulated("dot-sourcing ('. script')")
        else:
            word = self.read_bareword()
            if not word:
                raise self.error("expected a command")
            name = n.Const(word, pos=start, text=word)
        elements: list[n.Node] = []
        while True:
            self.skip_ws()
            c = self.peek()
            if c == "" or c in "\n;|)}":
                break
            if c == "&":
                raise NotSimulated("the '&&' operator" if self.peek(1) == "&" else "'&' after a command")
            if self.at_redirection():
                break
            element_start = self.pos
            if c == "-" and self.peek(1) == "-" and self.peek(2) == "%":
                raise NotSimulated("the stop-parsing token --%")
            if c == "-" and (self.peek(1).isalpha() or self.peek(1) in ("_", "?")):
                self.pos += 1
                param = re.compile(r"[A-Za-z0-9_?]*").match(self.text, self.pos)
                assert param
                self.pos = param.end()
                value = None
                if self.peek() == ":":
                    self.pos += 1
                    value = self.parse_argument_value()
                elements.append(
                    n.CommandParameter(param.group(0), value, pos=element_start, text=self.node_text(element_start))
                )
            elif c == "@" and (self.peek(1).isalpha() or self.peek(1) == "_"):
                self.pos += 1
                variable = self.parse_variable_name()
                elements.append(n.CommandArgument(n.Variable(variable, splat=True), pos=element_start))
            else:
                value = self.parse_argument()
                elements.append(n.CommandArgument(value, pos=element_start, text=self.node_text(element_start)))
        return n.Command(name, elements, invocation, pos=start, text=self.node_text(start))

    def parse_argument(self) -> n.Node:
        start = self.pos
        items = [self.parse_argument_value()]
        while True:
            saved = self.pos
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                self.skip_ws(newlines=True)
                items.append(self.parse_argument_value())
            else:
                self.pos = saved
                break
        if len(items) == 1:
            return items[0]
        return n.ArrayLiteral(items, pos=start, text=self.node_text(start))

    def parse_argument_value(self) -> n.Node:
        """One command-mode argument: adjacent pieces (bareword, strings, variables) make one string."""
        start = self.pos
        pieces: list[n.Node] = []
        bare_only = True
        while True:
            c, c1 = self.peek(), self.peek(1)
            if c == "$":
                piece = self.parse_postfix(self.parse_primary())
                bare_only = False
            elif c in ("'", '"') or (c == "@" and c1 in ("'", '"')):
                piece = self.parse_primary()
                bare_only = False
            elif not pieces and (c == "(" or (c == "@" and c1 in ("(", "{")) or c == "{"):
                return self.parse_postfix(self.parse_primary())
            else:
                word = self.read_bareword()
                if not word:
                    break
                piece = n.Const(word, pos=self.pos - len(word), text=word)
            pieces.append(piece)
            c = self.peek()
            if c == "" or c.isspace() or c in ";,|&(){}\n" or c == ">":
                break
        if not pieces:
            raise self.error("expected an argument")
        if len(pieces) == 1:
            piece = pieces[0]
            if bare_only and isinstance(piece, n.Const) and NUMBER.fullmatch(str(piece.value).lstrip("+-")):
                text = str(piece.value)
                value = number_value(text.lstrip("+-"))
                return n.Const(-value if text.startswith("-") else value, pos=start, text=text)
            return piece
        return n.ExpandString(pieces, pos=start, text=self.node_text(start))

    # -- expressions ----------------------------------------------------------------------------------------------
    def parse_expression(self) -> n.Node:
        return self.parse_binary(0)

    LEVELS: list[set[str]] = [LOGICAL_OPS, COMPARISON_OPS | BITWISE_OPS]

    def peek_operator(self, words: set[str]) -> str:
        saved = self.pos
        self.skip_ws()
        if self.peek() == "-":
            match = re.compile(r"-([A-Za-z]+)\b").match(self.text, self.pos)
            if match and match.group(1).lower() in words:
                self.pos = match.end()
                return "-" + match.group(1).lower()
            if match and match.group(1).lower() not in ALL_OPS and self.peek(1).isalpha():
                raise NotSimulated(f"the operator -{match.group(1)}")
        self.pos = saved
        return ""

    def parse_binary(self, level: int) -> n.Node:
        if level >= len(self.LEVELS):
            return self.parse_additive()
        start = self.pos
        left = self.parse_binary(level + 1)
        while True:
            op = self.peek_operator(self.LEVELS[level])
            if not op:
                return left
            self.skip_ws(newlines=True)
            right = self.parse_binary(level + 1)
            left = n.Binary(op, left, right, pos=start, text=self.node_text(start))

    def _symbol(self, symbols: str) -> str:
        saved = self.pos
        self.skip_ws()
        c = self.peek()
        if c and c in symbols and self.peek(1) != "=":
            if c == "-" and (self.peek(1).isalpha()):
                self.pos = saved
                return ""
            self.pos += 1
            return c
        self.pos = saved
        return ""

    def parse_additive(self) -> n.Node:
        start = self.pos
        left = self.parse_multiplicative()
        while True:
            op = self._symbol("+-")
            if not op:
                return left
            self.skip_ws(newlines=True)
            left = n.Binary(op, left, self.parse_multiplicative(), pos=start, text=self.node_text(start))

    def parse_multiplicative(self) -> n.Node:
        start = self.pos
        left = self.parse_format()
        while True:
            op = self._symbol("*/%")
            if not op:
                return left
            self.skip_ws(newlines=True)
            left = n.Binary(op, left, self.parse_format(), pos=start, text=self.node_text(start))

    def parse_format(self) -> n.Node:
        start = self.pos
        left = self.parse_range()
        while self.peek_operator({"f"}):
            self.skip_ws(newlines=True)
            left = n.Binary("-f", left, self.parse_range(), pos=start, text=self.node_text(start))
        return left

    def parse_range(self) -> n.Node:
        start = self.pos
        left = self.parse_array()
        saved = self.pos
        self.skip_ws()
        if self.peek() == "." and self.peek(1) == ".":
            self.pos += 2
            self.skip_ws(newlines=True)
            return n.Binary("..", left, self.parse_array(), pos=start, text=self.node_text(start))
        self.pos = saved
        return left

    def parse_array(self) -> n.Node:
        start = self.pos
        first = self.parse_unary()
        if self.no_comma:
            return first
        items = [first]
        while True:
            saved = self.pos
            self.skip_ws()
            if self.peek() != ",":
                self.pos = saved
                break
            self.pos += 1
            self.skip_ws(newlines=True)
            items.append(self.parse_unary())
        return first if len(items) == 1 else n.ArrayLiteral(items, pos=start, text=self.node_text(start))

    def parse_unary(self) -> n.Node:
        self.skip_ws()
        start = self.pos
        c, c1 = self.peek(), self.peek(1)
        if c == "!":
            self.pos += 1
            return n.Unary("-not", self.parse_unary(), pos=start)
        if c == "-":
            match = re.compile(r"-([A-Za-z]+)\b").match(self.text, self.pos)
            if match and match.group(1).lower() in UNARY_OPS:
                self.pos = match.end()
                self.skip_ws()
                return n.Unary("-" + match.group(1).lower(), self.parse_unary(), pos=start)
            if match:
                raise self.error(f"unexpected operator -{match.group(1)}")
            if c1 == "-":
                self.pos += 2
                return n.Unary("pre--", self.parse_unary(), pos=start)
            self.pos += 1
            return n.Unary("-", self.parse_unary(), pos=start)
        if c == "+":
            if c1 == "+":
                self.pos += 2
                return n.Unary("pre++", self.parse_unary(), pos=start)
            self.pos += 1
            return n.Unary("+", self.parse_unary(), pos=start)
        if c == ",":
            self.pos += 1
            self.skip_ws()
            return n.ArrayLiteral([self.parse_unary()], pos=start)
        if c == "[":
            type_name = self.parse_type_name()
            if self.peek() == ":" and self.peek(1) == ":":
                return self.parse_postfix(n.TypeLiteral(type_name, pos=start, text=self.node_text(start)))
            saved = self.pos
            self.skip_ws()
            nxt, nxt1 = self.peek(), self.peek(1)
            if nxt in ("$", "'", '"', "(", "@", "[", "{") or nxt.isdigit() or (nxt == "-" and nxt1.isdigit()):
                operand = self.parse_unary()
                return n.Cast(type_name, operand, pos=start, text=self.node_text(start))
            self.pos = saved
            return self.parse_postfix(n.TypeLiteral(type_name, pos=start, text=self.node_text(start)))
        return self.parse_postfix(self.parse_primary())

    def parse_type_name(self) -> str:
        text = self.read_brackets()
        inner = text[1:-1].strip()
        if not inner or "(" in inner:
            raise self.error("attribute or empty type")
        return inner

    def parse_postfix(self, node: n.Node) -> n.Node:
        start = node.pos
        while True:
            c, c1 = self.peek(), self.peek(1)
            if c == "." and c1 != "." and c1 and (c1.isalpha() or c1 in "_'\"$"):
                self.pos += 1
                node = self._member(node, start, static=False)
            elif c == ":" and c1 == ":":
                self.pos += 2
                node = self._member(node, start, static=True)
            elif c in ("+", "-") and c1 == c and isinstance(node, (n.Variable, n.Member, n.Index)):
                self.pos += 2
                node = n.Unary("post" + c * 2, node, pos=start, text=self.node_text(start))
            elif c == "[" and not isinstance(node, n.TypeLiteral):
                self.pos += 1
                self.skip_ws(newlines=True)
                saved, self.no_comma = self.no_comma, False
                index = self.parse_expression()
                self.no_comma = saved
                self.skip_ws(newlines=True)
                self.expect("]")
                node = n.Index(node, index, pos=start, text=self.node_text(start))
            else:
                return node

    def _member(self, target: n.Node, start: int, static: bool) -> n.Node:
        c = self.peek()
        if c in ("'", '"', "$"):
            name = self.parse_primary()
        else:
            match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.text, self.pos)
            if not match:
                raise self.error("member name")
            self.pos = match.end()
            name = n.Const(match.group(0))
        if self.peek() == "(":
            args = self.parse_call_args()
            return n.InvokeMember(target, name, args, static=static, pos=start, text=self.node_text(start))
        return n.Member(target, name, static=static, pos=start, text=self.node_text(start))

    def parse_call_args(self) -> list[n.Node]:
        self.expect("(")
        args: list[n.Node] = []
        self.skip_ws(newlines=True)
        if self.peek() == ")":
            self.pos += 1
            return args
        while True:
            self.skip_ws(newlines=True)
            saved, self.no_comma = self.no_comma, True
            args.append(self.parse_expression())
            self.no_comma = saved
            self.skip_ws(newlines=True)
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect(")")
            return args

    def parse_primary(self) -> n.Node:
        start = self.pos
        c, c1 = self.peek(), self.peek(1)
        if c == "$":
            if c1 == "(":
                return self.parse_subexpression(array=False)
            return self.parse_variable()
        if c == "@":
            if c1 == "(":
                return self.parse_subexpression(array=True)
            if c1 == "{":
                return self.parse_hashtable()
            if c1 in ("'", '"'):
                return self.parse_string()
            raise self.error("'@'")
        if c == "(":
            self.pos += 1
            self.skip_ws(newlines=True)
            saved, self.no_comma = self.no_comma, False
            statement = self.parse_pipeline_statement()
            self.no_comma = saved
            self.skip_ws(newlines=True)
            self.expect(")")
            return n.Paren(statement, pos=start, text=self.node_text(start))
        if c == "{":
            self.pos += 1
            saved, self.no_comma = self.no_comma, False
            body = self.parse_body("}")
            self.no_comma = saved
            self.expect("}")
            return n.ScriptBlockLiteral(body, pos=start, text=self.node_text(start))
        if c in ("'", '"'):
            return self.parse_string()
        match = NUMBER.match(self.text, self.pos)
        if match and not NAME_CHAR.match(self.text[match.end() : match.end() + 1] or " "):
            self.pos = match.end()
            return n.Const(number_value(match.group(0)), pos=start, text=match.group(0))
        raise self.error("unexpected token in an expression")

    def parse_subexpression(self, array: bool) -> n.Node:
        start = self.pos
        self.pos += 2
        saved, self.no_comma = self.no_comma, False
        statements = self.parse_statements(")")
        self.no_comma = saved
        self.expect(")")
        return n.SubExpression(statements, array=array, pos=start, text=self.node_text(start))

    def parse_hashtable(self) -> n.Node:
        start = self.pos
        self.pos += 2
        saved, self.no_comma = self.no_comma, False
        entries: list[tuple[n.Node, n.Node]] = []
        while True:
            self.skip_ws(newlines=True)
            while self.peek() == ";":
                self.pos += 1
                self.skip_ws(newlines=True)
            if self.peek() == "}":
                self.pos += 1
                break
            c = self.peek()
            if c in ("'", '"', "$", "("):
                key: n.Node = self.parse_postfix(self.parse_primary())
            else:
                match = re.compile(r"[^\s=;}]+").match(self.text, self.pos)
                if not match:
                    raise self.error("hashtable key")
                self.pos = match.end()
                word = match.group(0)
                key = n.Const(number_value(word) if NUMBER.fullmatch(word) else word)
            self.skip_ws()
            self.expect("=")
            self.skip_ws(newlines=True)
            value = self.parse_statement()
            entries.append((key, value))
            self.skip_ws()
            if self.peek() not in (";", "\n", "}"):
                raise self.error("expected ';', a new line or '}' in a hashtable")
        self.no_comma = saved
        return n.HashLiteral(entries, pos=start, text=self.node_text(start))

    def parse_variable_name(self) -> str:
        if self.peek() == "{":
            end = self.text.find("}", self.pos)
            if end < 0:
                raise self.error("unterminated ${")
            name = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return name
        if self.peek() in ("$", "?", "^") and not NAME_CHAR.match(self.peek(1) or " "):
            self.pos += 1
            return self.text[self.pos - 1]
        match = re.compile(r"[A-Za-z0-9_]+(?::[A-Za-z0-9_]+)?").match(self.text, self.pos)
        if not match:
            raise self.error("variable name")
        self.pos = match.end()
        return match.group(0)

    def parse_variable(self) -> n.Node:
        start = self.pos
        self.expect("$")
        name = self.parse_variable_name()
        return n.Variable(name, pos=start, text=self.node_text(start))

    # -- strings --------------------------------------------------------------------------------------------------
    def parse_string(self) -> n.Node:
        start = self.pos
        c = self.peek()
        if c == "@":
            quote = self.peek(1)
            self.pos += 2
            while self.peek() in (" ", "\t"):
                self.pos += 1
            if self.peek() != "\n":
                raise self.error("here-string must start a new line")
            self.pos += 1
            end = self.text.find("\n" + quote + "@", self.pos - 1)
            if end < 0:
                raise self.error("unterminated here-string")
            content = self.text[self.pos : max(end, self.pos)]
            self.pos = end + 3
            if quote == "'":
                return n.Const(content, pos=start, text=self.node_text(start))
            return n.ExpandString(self.expand_parts(content, here=True), pos=start, text=self.node_text(start))
        self.pos += 1
        if c == "'":
            out = []
            while True:
                ch = self.peek()
                if ch == "":
                    raise self.error("unterminated string")
                self.pos += 1
                if ch == "'":
                    if self.peek() == "'":
                        out.append("'")
                        self.pos += 1
                        continue
                    break
                out.append(ch)
            return n.Const("".join(out), pos=start, text=self.node_text(start))
        content_start = self.pos
        while True:
            ch = self.peek()
            if ch == "":
                raise self.error("unterminated string")
            if ch == "`":
                self.pos += 2
                continue
            if ch == "$" and self.peek(1) == "(":
                self.parse_subexpression(array=False)
                continue
            self.pos += 1
            if ch == '"':
                if self.peek() == '"':
                    self.pos += 1
                    continue
                break
        content = self.text[content_start : self.pos - 1]
        return n.ExpandString(self.expand_parts(content, here=False), pos=start, text=self.node_text(start))

    def expand_parts(self, content: str, here: bool) -> list[object]:
        parts: list[object] = []
        literal: list[str] = []
        i = 0
        while i < len(content):
            ch = content[i]
            if ch == "`" and i + 1 < len(content):
                literal.append(ESCAPES.get(content[i + 1], content[i + 1]))
                i += 2
                continue
            if ch == '"' and not here and content[i + 1 : i + 2] == '"':
                literal.append('"')
                i += 2
                continue
            if ch == "$" and i + 1 < len(content):
                sub = Parser(content)
                sub.pos = i
                nxt = content[i + 1]
                node: n.Node | None = None
                if nxt == "(":
                    node = sub.parse_subexpression(array=False)
                elif nxt == "{" or NAME_CHAR.match(nxt) and nxt != "?":
                    sub.pos = i + 1
                    name = sub.parse_variable_name()
                    if name.endswith(":"):
                        name = name[:-1]
                    node = n.Variable(name)
                if node is not None:
                    if literal:
                        parts.append("".join(literal))
                        literal = []
                    parts.append(node)
                    i = sub.pos
                    continue
            literal.append(ch)
            i += 1
        if literal:
            parts.append("".join(literal))
        return parts


def parse(text: str) -> n.ScriptBody:
    return Parser(text).parse_script()

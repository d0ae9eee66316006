"""Shared validation for alert payloads: strict JSON loading, structural accessors that raise `AlertError` naming
the field, and value validators that raise `FieldProblem` (one request refused, the others kept).

Rules (issue 11, "Bad input"): JSON only, at most MAX_PAYLOAD_BYTES, UTF-8, no duplicate keys, no NaN/Infinity,
no number too large to be an error code, nesting at most MAX_DEPTH; every string taken from a payload is checked
for shape before it goes anywhere, and a refused value appears in a message only through `quote()` (repr, cut).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate, count
from typing import Any

from ..errors import ExitStatus
from ..inventory import HOST_RE, RESOURCE_ID_RE
from .model import MAX_PAYLOAD_BYTES, AlertError, AlertRequest, worst_status

MAX_DEPTH = 32
MAX_INT_DIGITS = 30  # 320001-style aliases have 6; anything far longer is not an error code
MAX_REQUESTS = 500  # one payload never fans out into more requests than this
MAX_ALERT_ID = 256
MAX_TEXT = 8192  # longest free text (description, originAlertId) scanned for a code
QUOTE_LEN = 80

# Every pattern here is applied with fullmatch(): `$` alone would let a trailing newline through.
# Alert ids are ARM ids (/subscriptions/.../alerts/<guid>), Alertmanager fingerprints (hex) or caller-chosen
# tokens: ASCII letters, digits and `_ . : / @ + = -` (no space, quote, shell or template metacharacter), never `..`.
ALERT_ID_RE = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,256}$")
# An Azure VM inside any ARM id: the VM's own id, optionally followed by child resources
# (.../virtualMachines/vm1/providers/Microsoft.RecoveryServices/backupProtectedItem/...).
VM_ID_RE = re.compile(
    r"^(?P<vm>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.(?:Classic)?Compute/"
    r"virtualMachines/(?P<name>[^/]+))(?:/.*)?$", re.I)
RESOURCE_GROUP_RE = re.compile(r"^[\w.()-]{1,90}$", re.ASCII)


class FieldProblem(Exception):
    """One value of one request is unusable: the request is returned with `problem` set, the others go on."""

    def __init__(self, message: str, status: int = ExitStatus.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.status = int(status)


def quote(value: object) -> str:
    """A payload value as it may appear in a message: repr() (escapes quotes and control characters), cut to about
    QUOTE_LEN characters; containers, floats and long integers are named, never rendered whole."""
    if isinstance(value, str):
        return repr(value[:QUOTE_LEN]) + ("..." if len(value) > QUOTE_LEN else "")
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        digits = len(str(abs(value))) if abs(value) < 10 ** MAX_INT_DIGITS else MAX_INT_DIGITS + 1
        return repr(value) if digits <= 20 else f"<a {digits}-digit number>"
    return f"<{type(value).__name__}>"


def payload_error(path: str, expected: str) -> AlertError:
    return AlertError(f"alert payload: field {path}: {expected}", field=path)


# --- JSON -----------------------------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)  # at C speed; a key seen twice makes it shorter than the pairs
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise AlertError(f"alert payload: duplicate key {quote(key)} in one object")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise AlertError(f"alert payload: {name} is not allowed (JSON numbers must be finite)")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise AlertError(f"alert payload: number {quote(text)} is out of range")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise AlertError(f"alert payload: a {len(text.lstrip('-'))}-digit number is too large")
    return int(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant,
                            parse_float=_parse_float, parse_int=_parse_int)
_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH in valid JSON text, at C speed (about 0.1 s for a 1 MiB worst case):
    strings and scalars removed, an opening bracket counts 2 and a closing one 0, so after k brackets the running
    sum minus k is the depth there. Text with no more opening brackets (in strings too) than MAX_DEPTH cannot be
    deeper: most alerts, checked by two counts."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return
    brackets = _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", text)).encode("ascii").translate(_OPEN_CLOSE)
    depth = max(map(operator.sub, accumulate(brackets), count(1)), default=0)
    if depth > MAX_DEPTH:
        raise AlertError(f"alert payload: nesting deeper than {MAX_DEPTH} levels")


def load_json(payload: bytes | str) -> object:
    """Bytes or text of one JSON document → Python objects, or AlertError saying what is wrong with it."""
    if isinstance(payload, str):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise AlertError(f"alert payload: larger than {MAX_PAYLOAD_BYTES} bytes")
        try:
            payload = payload.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise AlertError("alert payload: not valid UTF-8 text (lone surrogate)") from exc
    if not isinstance(payload, (bytes, bytearray)):
        raise AlertError(f"alert payload: expected bytes or text, got {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise AlertError(f"alert payload: larger than {MAX_PAYLOAD_BYTES} bytes ({len(payload)} bytes)")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AlertError(f"alert payload: not UTF-8 (invalid byte at offset {exc.start})") from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise AlertError("alert payload: empty body")
    try:
        if text.startswith("\ufeff"):  # what json.loads says of a BOM (one was removed above)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        doc = _DECODER.decode(text)  # json.loads(text, **the decoder's options), without a decoder per payload
    except RecursionError as exc:
        raise AlertError(f"alert payload: nesting deeper than {MAX_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise AlertError(f"alert payload: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except ValueError as exc:  # e.g. int() limits
        raise AlertError("alert payload: not valid JSON: a value is out of range") from exc
    _check_depth(text)
    return doc


# --- structure: AlertError naming the field -------------------------------------------------------------------


def need_object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise payload_error(path, f"expected an object, got {_kind(value)}")
    return value


def opt_object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = parent.get(key)
    return None if value is None else need_object(value, path)


def need_list(value: object, path: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise payload_error(path, f"expected a list, got {_kind(value)}")
    if non_empty and not value:
        raise payload_error(path, "expected at least one entry")
    if len(value) > MAX_REQUESTS:
        raise payload_error(path, f"{len(value)} entries; at most {MAX_REQUESTS} alerts per payload")
    return value


def opt_text(parent: dict[str, Any], key: str, path: str) -> str | None:
    """An optional string field of the envelope (description, originAlertId...): a non-string is a schema error."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise payload_error(path, f"expected a string, got {_kind(value)}")
    return value


def choice(value: object, path: str, allowed: dict[str, str]) -> str:
    """A field with a fixed set of values (monitorCondition, Alertmanager status), mapped to our own words."""
    if isinstance(value, str) and value in allowed:
        return allowed[value]
    names = " or ".join(allowed)
    raise payload_error(path, f"expected {names}, got {quote(value) if value is not None else 'nothing'}")


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


# --- values: FieldProblem, the request is refused but the payload is not ----------------------------------------


def alert_id(value: object, path: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not ALERT_ID_RE.fullmatch(value) or ".." in value:
        raise FieldProblem(f"field {path}: alert id {quote(value)} is not allowed (ASCII letters, digits and "
                           f"_.:/@+=- only, no '..', at most {MAX_ALERT_ID} characters)")
    return value


def vm_name(value: object, path: str) -> str:
    if not isinstance(value, str) or not HOST_RE.fullmatch(value):
        raise FieldProblem(f"field {path}: VM name {quote(value)} is not allowed (letters, digits, '.', '-', '_')")
    return value


def vm_from_resource_id(value: object, path: str) -> tuple[str, str]:
    """(the VM's ARM id, the VM name) from an ARM id that is, or starts with, a virtual machine's id."""
    if not isinstance(value, str) or len(value) > 2048:
        raise FieldProblem(f"field {path}: resource id {quote(value)} is not an Azure resource id")
    found = VM_ID_RE.fullmatch(value)
    if not found:
        raise FieldProblem(f"field {path}: resource id {quote(value)} is not an Azure virtual machine "
                           "(/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>)")
    rid, name = found.group("vm"), found.group("name")
    if not RESOURCE_ID_RE.fullmatch(rid) or not HOST_RE.fullmatch(name):
        raise FieldProblem(f"field {path}: resource id {quote(value)} is not allowed (unexpected characters)")
    return rid, name


def vm_from_backup_item(value: object, path: str) -> str:
    """The VM name from an Azure Backup item id of an IaaS VM. Observed shape (Azure Backup tables in Log Analytics,
    `BackupItemUniqueId`): `<region>;<item id>;iaasvmcontainerv2;<resource group>;<vm>`; the protected item and
    container names `VM;iaasvmcontainerv2;<rg>;<vm>` / `iaasvmcontainer;iaasvmcontainerv2;<rg>;<vm>` end the same
    way. Anything else (SQL, SAP HANA, file share items...) is refused: it names no VM we can map."""
    if not isinstance(value, str) or len(value) > 1024:
        raise FieldProblem(f"field {path}: backup item id {quote(value)} is not readable")
    parts = value.split(";")
    for i, part in enumerate(parts):
        if part.casefold() in ("iaasvmcontainerv2", "iaasvmcontainer") and len(parts) == i + 3:
            group, name = parts[i + 1], parts[i + 2]
            if RESOURCE_GROUP_RE.fullmatch(group) and HOST_RE.fullmatch(name):
                return name
    raise FieldProblem(f"field {path}: backup item id {quote(value)} names no Azure VM (expected "
                       "'<region>;<id>;iaasvmcontainerv2;<resource group>;<vm>')")


def code_value(value: object, path: str) -> str:
    """The raw text of an error-code field: a string, or an integer for numeric codes such as 320001."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, str):
        raise FieldProblem(f"field {path}: the error code is empty")
    raise FieldProblem(f"field {path}: error code {quote(value)} is not a string")


# --- building one request -------------------------------------------------------------------------------------


@dataclass
class Draft:
    """Collects the parts of one AlertRequest; a part that fails validation becomes a problem, not an exception."""

    source: str
    status: str
    alert_id: str | None = None
    code: str | None = None
    matched_by: str | None = None
    vm_name: str | None = None
    resource_id: str | None = None
    job_id: str | None = None
    vault_id: str | None = None
    problems: list[tuple[str, int]] = field(default_factory=list)
    no_code: str | None = None  # the "no error code" problem, kept apart: a job lookup may still solve it

    def take(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a validator; on FieldProblem record it and return None."""
        try:
            return fn(*args)
        except FieldProblem as p:
            self.problems.append((p.message, p.status))
            return None

    def refuse(self, message: str, status: int = ExitStatus.USAGE) -> None:
        self.problems.append((message, int(status)))

    def set_vm_id(self, value: object, path: str) -> None:
        found = self.take(vm_from_resource_id, value, path)
        if found:
            self.resource_id, self.vm_name = found

    def refuse_no_code(self, message: str) -> None:
        self.no_code = message

    def finish(self) -> AlertRequest:
        problems = self.problems + ([(self.no_code, int(ExitStatus.USAGE))] if self.no_code else [])
        problem = None
        if problems:
            problem = "; ".join(msg for msg, _ in problems) + "; nothing was run"
        return AlertRequest(source=self.source, alert_id=self.alert_id, status=self.status, code=self.code,
                            vm_name=self.vm_name, resource_id=self.resource_id, matched_by=self.matched_by,
                            problem=problem, exit_status=worst_status([s for _, s in problems]),
                            job_id=self.job_id, vault_id=self.vault_id,
                            code_missing=bool(self.no_code) and not self.problems)


GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
VAULT_ID_RE = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[\w.()-]{1,90}/providers/"
                         r"Microsoft\.RecoveryServices/vaults/[A-Za-z0-9-]{2,50}", re.I)


def job_id(value: object) -> str | None:
    """An Azure Backup job id (a GUID), or None when absent or of another shape (then no lookup is offered)."""
    return value if isinstance(value, str) and GUID_RE.fullmatch(value) else None


def vault_id(value: object) -> str | None:
    """A Recovery Services vault ARM id, or None."""
    return value if isinstance(value, str) and VAULT_ID_RE.fullmatch(value) else None

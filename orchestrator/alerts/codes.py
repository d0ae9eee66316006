"""Catalog look-ups for alerts: an explicit code field, a code buried in an alert id or a link, a message.

Only `orchestrator.catalog` (never Ansible). Every function either returns (canonical code, how it was found)
or raises FieldProblem with the field path; none of them lets an unchecked string reach the catalog's messages.
"""

from __future__ import annotations

import re

from ..catalog import Catalog, Match, validate_code
from ..errors import ExitStatus, UnknownCodeError, UsageError
from ..runbook import ALIAS_RE, CODE_RE
from .fields import MAX_TEXT, FieldProblem, code_value, quote

# Azure Backup "recommended actions" end with a troubleshooting link named after the code, in lower case:
# "... For troubleshooting instructions, see https://aka.ms/AB-usererrorparentfullbackupmissing"
AKA_LINK_RE = re.compile(r"aka\.ms/AB-([A-Za-z0-9]{3,100})\b", re.I)
MIN_GLUED_CODE = 10  # a code found inside a longer word must be at least this long (no short accidental hits)


def _canonical(match: Match, raw: str, path: str) -> str:
    if match.code is None:
        raise FieldProblem(f"field {path}: {quote(raw)} names runbook {match.runbook.id!r}, which has no error code "
                           f"and only manual guidance (see `remediate explain {match.runbook.id}`)")
    return match.code


def lookup_code(catalog: Catalog, value: object, path: str, how: str) -> tuple[str, str]:
    """An explicit code field (str, or int for 320001-style codes) → (canonical code, `how` or "alias").

    Shape first (CODE_RE / ALIAS_RE through validate_code), then the catalog: a malformed value is a usage problem
    (exit 2), a well-formed but unknown one is exit 3 with the catalog's suggestions."""
    raw = code_value(value, path)
    try:
        if not (CODE_RE.fullmatch(raw) or ALIAS_RE.fullmatch(raw)):  # validate_code's `$` admits a trailing "\n"
            raise UsageError("shape")
        validate_code(raw)
    except UsageError as exc:
        raise FieldProblem(f"field {path}: invalid error code {quote(raw)} (expected letters and digits, like "
                           "ExtensionFailedVssWriterInBadState or 320001)") from exc
    try:
        match = catalog.lookup(raw)
    except UnknownCodeError as exc:
        hint = catalog.suggestions(raw)
        more = f"; did you mean {', '.join(hint)}?" if hint else "; see `remediate codes`"
        raise FieldProblem(f"field {path}: unknown error code {quote(raw)}{more}", ExitStatus.UNKNOWN_CODE) from exc
    return _canonical(match, raw, path), ("alias" if match.matched_by == "alias" else how)


def _known_words(catalog: Catalog) -> list[tuple[str, str]]:
    """(folded code or alias, canonical code) for every non-numeric key, longest first."""
    rows = []
    for rb in catalog.runbooks.values():
        for entry in rb.codes:
            for key in (entry.code, *entry.aliases):
                if not key.isdigit():
                    rows.append((key.casefold(), entry.code))
    return sorted(rows, key=lambda r: (-len(r[0]), r[0]))


def code_in_origin_id(catalog: Catalog, text: str) -> str | None:
    """A known code inside `essentials.originAlertId` of a built-in Azure Backup alert, where Azure writes it in
    lower case: as a word of its own ("1234567_2345678_3456789_extensionfailedvsswriterinbadstate_vm") or glued to
    the digits and workload around it (captured: "..._0_4688...1505azureworkloadusererrorparentfullbackupmissinglog").
    The longest known code wins; numeric aliases never match here."""
    text = text[:MAX_TEXT]
    match = catalog.find_code_in_text(text)
    if match and match.code:
        return match.code
    words = [w for w in re.split(r"[^a-z0-9]+", text.casefold()) if len(w) >= MIN_GLUED_CODE]
    for key, canonical in _known_words(catalog):
        if len(key) >= MIN_GLUED_CODE and any(key in w for w in words):
            return canonical
    return None


def code_in_link(catalog: Catalog, text: str) -> str | None:
    """A code named by an `aka.ms/AB-<code>` troubleshooting link (Azure Backup recommended actions)."""
    for found in AKA_LINK_RE.finditer(text[:MAX_TEXT]):
        try:
            match = catalog.lookup(found.group(1))
        except (UnknownCodeError, UsageError):
            continue
        if match.code:
            return match.code
    return None


def code_from_message(catalog: Catalog, text: str) -> str | None:
    """The code whose documented message (English or French) the text holds, via Catalog.match_message."""
    match = catalog.match_message(text[:MAX_TEXT])
    return match.code if match else None


def runbook_of_message(catalog: Catalog, text: str) -> str | None:
    """The id of a message-only runbook (no error code) whose message the text holds, for a clear refusal."""
    match = catalog.match_message(text[:MAX_TEXT])
    return match.runbook.id if match and match.code is None else None

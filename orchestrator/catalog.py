"""The runbook catalog: loads and validates `runbooks/*.yml`, finds a runbook by code, alias or message text.

Never imports Ansible: `codes`, `explain` and alert parsing must answer fast, in pipelines too.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import CatalogError, UnknownCodeError, UsageError
from .paths import project_dir
from .runbook import ALIAS_RE, CODE_RE, Runbook, Step

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "«": '"', "»": '"', "“": '"', "”": '"', "\u00a0": " "})


def normalize_text(text: str) -> str:
    """Fold a message for matching: case, accents kept, apostrophes/quotes unified, spaces collapsed."""
    t = unicodedata.normalize("NFC", text).translate(_APOSTROPHES).casefold()
    t = re.sub(r"\s+", " ", t).strip()
    return t.rstrip(" .!:")


@dataclass(frozen=True)
class StepView:
    """A step as the catalog sees it on disk: automated steps whose playbook is not written yet are manual."""

    step: Step
    playbook_path: Path | None

    @property
    def automated(self) -> bool:
        return self.step.kind == "automated" and self.playbook_path is not None

    @property
    def pending_playbook(self) -> bool:
        return self.step.kind == "automated" and self.playbook_path is None


@dataclass(frozen=True)
class Match:
    runbook: Runbook
    code: str | None  # the canonical code that matched (None for a message-only runbook)
    matched_by: str  # code | alias | message | runbook-id


@dataclass
class Catalog:
    runbooks: dict[str, Runbook]
    root: Path
    _by_key: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rb in self.runbooks.values():
            for entry in rb.codes:
                self._by_key.setdefault(entry.code.casefold(), (rb.id, entry.code, "code"))
                for alias in entry.aliases:
                    self._by_key.setdefault(alias.casefold(), (rb.id, entry.code, "alias"))

    @property
    def playbooks_dir(self) -> Path:
        return self.root / "playbooks"

    def codes(self) -> list[tuple[str, Runbook]]:
        """Every canonical code with its runbook, sorted by code."""
        rows = [(e.code, rb) for rb in self.runbooks.values() for e in rb.codes]
        return sorted(rows, key=lambda r: r[0].casefold())

    def steps(self, runbook: Runbook) -> list[StepView]:
        views = []
        for step in runbook.ladder:
            path = self.playbooks_dir / step.playbook if step.playbook else None
            views.append(StepView(step, path if path and path.is_file() else None))
        return views

    def diagnose_playbook(self, runbook: Runbook, platform: str) -> Path | None:
        rel = runbook.diagnose_for(platform)
        if rel is None:
            return None
        path = self.playbooks_dir / rel
        return path if path.is_file() else None

    @cached_property
    def _messages(self) -> list[tuple[str, Runbook, str | None]]:
        rows = []
        for rb in self.runbooks.values():
            for entry in rb.codes:
                if entry.message:
                    rows += [(normalize_text(entry.message.en), rb, entry.code),
                             (normalize_text(entry.message.fr), rb, entry.code)]
            for msg in rb.messages:
                rows += [(normalize_text(msg.en), rb, None), (normalize_text(msg.fr), rb, None)]
        # longest first: the most specific message wins
        return sorted(rows, key=lambda r: -len(r[0]))

    def lookup(self, code: str) -> Match:
        """Exact code or alias, case-insensitively; a runbook id also works. Raises UnknownCodeError."""
        key = validate_code(code).casefold()
        hit = self._by_key.get(key)
        if hit:
            rb_id, canonical, how = hit
            return Match(self.runbooks[rb_id], canonical, how)
        if key in self.runbooks:
            rb = self.runbooks[key]
            return Match(rb, rb.codes[0].code if rb.codes else None, "runbook-id")
        raise UnknownCodeError(
            f"unknown error code {code!r}" + self._suggest(code),
            suggestions=self.suggestions(code),
        )

    def match_message(self, text: str) -> Match | None:
        """Find the runbook whose documented message (English or French) appears in the text, or vice versa."""
        norm = normalize_text(text)
        if len(norm) < 12:
            return None
        for msg, rb, code in self._messages:
            if msg and (msg in norm or (len(norm) >= 24 and norm in msg)):
                return Match(rb, code, "message")
        return None

    def find_code_in_text(self, text: str) -> Match | None:
        """A known code or alias appearing as a word in free text (e.g. an alert's originAlertId)."""
        words = re.split(r"[^A-Za-z0-9]+", text.casefold())
        for word in words:
            hit = self._by_key.get(word)
            if hit and not word.isdigit():
                rb_id, canonical, how = hit
                return Match(self.runbooks[rb_id], canonical, how)
        return None

    def suggestions(self, code: str) -> list[str]:
        names = {c for c, _ in self.codes()} | {a for rb in self.runbooks.values() for e in rb.codes
                                                for a in e.aliases}
        folded = {n.casefold(): n for n in names}
        close = difflib.get_close_matches(code.casefold(), folded.keys(), n=3, cutoff=0.6)
        return [folded[c] for c in close]

    def _suggest(self, code: str) -> str:
        s = self.suggestions(code)
        return f"; did you mean {', '.join(s)}?" if s else "; see `remediate codes`"


def validate_code(code: str) -> str:
    """Codes are validated before they are used anywhere (lookups, logs, command lines)."""
    if not isinstance(code, str) or not (CODE_RE.fullmatch(code) or ALIAS_RE.fullmatch(code)) or len(code) > 100:
        raise UsageError(f"invalid error code {str(code)[:60]!r}: expected letters and digits, like "
                         "ExtensionFailedVssWriterInBadState or 320001")
    return code


def _format_validation_error(path: Path, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"invalid runbook {path}: field {loc}: {first['msg']}{more}"


# libyaml's safe loader when PyYAML has it: the same YAML, ten times faster (`remediate codes` reads every runbook)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_runbook(path: Path) -> Runbook:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read runbook {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"invalid runbook {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"invalid runbook {path}: field (top level): expected a mapping")
    try:
        rb = Runbook.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, exc)) from exc
    if rb.id != path.stem:
        raise CatalogError(f"invalid runbook {path}: field id: {rb.id!r} must equal the file name {path.stem!r}")
    return rb


def load_catalog(root: Path | None = None) -> Catalog:
    root = root or project_dir()
    directory = root / "runbooks"
    files = sorted(directory.glob("*.yml"))
    if not files:
        raise CatalogError(f"no runbooks found in {directory}")
    runbooks: dict[str, Runbook] = {}
    owner: dict[str, Path] = {}
    for path in files:
        rb = load_runbook(path)
        for entry in rb.codes:
            for key in [entry.code, *entry.aliases]:
                k = key.casefold()
                if k in owner and owner[k] != path and key == entry.code:
                    raise CatalogError(f"invalid runbook {path}: field codes: {key} is already defined in "
                                       f"{owner[k]}")
                owner.setdefault(k, path)
        runbooks[rb.id] = rb
    return Catalog(runbooks, root)

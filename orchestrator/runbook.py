"""The runbook data model: what one file of `runbooks/` holds, validated at load time.

A runbook describes one documented problem (one section of Microsoft's troubleshooting article), the error codes
that lead to it, how to diagnose it and the ordered ladder of fixes. Runbooks are data: no code lives in them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,99}$")
ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
STEP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
PLAYBOOK_RE = re.compile(r"^(windows|linux|azure)/[a-z0-9_]+\.yml$")


class Platform(StrEnum):
    windows = "windows"
    linux = "linux"
    azure = "azure"
    any = "any"


class Risk(StrEnum):
    """Risk of a step; the default approval policy follows from it (DESIGN.md, "Risk levels")."""

    low = "low"  # safe to re-apply: automatic
    medium = "medium"  # restarts a service: maintenance window or approval
    high = "high"  # disruptive: approval always
    never = "never"  # never automated: guidance only


RISK_ORDER = {Risk.low: 0, Risk.medium: 1, Risk.high: 2, Risk.never: 3}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A text in English and French (alerts and operators use either language)."""

    en: Annotated[str, Field(min_length=1)]
    fr: Annotated[str, Field(min_length=1)]

    def get(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class CodeEntry(_Strict):
    code: str
    aliases: list[str] = []
    message: Text | None = None  # the exact error message Azure shows for this code, when the article gives one

    @field_validator("code")
    @classmethod
    def _code_shape(cls, v: str) -> str:
        if not CODE_RE.fullmatch(v):
            raise ValueError(f"not an error code: {v!r}")
        return v

    @field_validator("aliases")
    @classmethod
    def _alias_shape(cls, v: list[str]) -> list[str]:
        for a in v:
            if not ALIAS_RE.fullmatch(a):
                raise ValueError(f"not an alias: {a!r}")
        return v


class Source(_Strict):
    article: Literal["vms-troubleshoot", "snapshot-timeout"]
    section: Annotated[str, Field(min_length=1)]  # anchor in the article
    lang: Literal["fr", "en"] = "fr"  # which edition the runbook was written from


class Step(_Strict):
    id: str
    title: Text
    kind: Literal["automated", "manual"]
    risk: Risk
    platform: Platform | None = None  # defaults to the runbook's platform
    playbook: str | None = None  # automated: path under playbooks/
    vars: dict[str, object] = {}
    approval: Literal["auto", "window", "always"] | None = None  # default follows the risk
    verify: Literal["diagnose", "none"] = "diagnose"
    changes: Text | None = None  # what the step changes, one line for the plan table
    guidance: Text | None = None  # manual: what the operator does; automated: optional note
    rollback: Text | None = None  # automated: how to undo the step (shown in the change record)
    timeout: Annotated[int, Field(ge=10, le=7200)] = 900  # seconds for the playbook run
    idempotent: bool = True  # False flags a step whose re-run changes things again (pyinfra style)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not STEP_ID_RE.fullmatch(v):
            raise ValueError(f"step id must be lower-case words joined by '-': {v!r}")
        return v

    @field_validator("playbook")
    @classmethod
    def _playbook_shape(cls, v: str | None) -> str | None:
        if v is not None and not PLAYBOOK_RE.fullmatch(v):
            raise ValueError(f"playbook must look like 'windows|linux|azure/name.yml': {v!r}")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> Step:
        if self.kind == "automated":
            if not self.playbook:
                raise ValueError("an automated step needs 'playbook'")
            if self.risk == Risk.never:
                raise ValueError("a step of risk 'never' cannot be automated")
            if not self.changes:
                raise ValueError("an automated step needs 'changes' (shown in the plan)")
        else:
            if self.playbook:
                raise ValueError("a manual step has no 'playbook'")
            if self.rollback:
                raise ValueError("a manual step has no 'rollback'")
            if not self.guidance:
                raise ValueError("a manual step needs 'guidance'")
        return self

    @property
    def approval_rule(self) -> str:
        if self.approval:
            return self.approval
        return {Risk.low: "auto", Risk.medium: "window", Risk.high: "always"}.get(self.risk, "always")


class Runbook(_Strict):
    id: str  # equals the file name without .yml
    title: Text
    platform: Platform
    source: Source
    codes: list[CodeEntry] = []
    messages: list[Text] = []  # extra messages matched by text (job / restore table rows without a code)
    cause: Text
    diagnose: dict[Platform, str] = {}  # platform -> read-only diagnose playbook
    vars: dict[str, object] = {}  # passed to the diagnose playbook and to every step (step vars win)
    ladder: Annotated[list[Step], Field(min_length=1)]
    notes: Text | None = None

    @field_validator("diagnose")
    @classmethod
    def _diag_shape(cls, v: dict[Platform, str]) -> dict[Platform, str]:
        for p in v.values():
            if not PLAYBOOK_RE.fullmatch(p):
                raise ValueError(f"diagnose playbook must look like 'windows|linux|azure/name.yml': {p!r}")
        return v

    @model_validator(mode="after")
    def _consistency(self) -> Runbook:
        if not self.codes and not self.messages:
            raise ValueError("a runbook needs at least one entry in 'codes' or 'messages'")
        ids = [s.id for s in self.ladder]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate step ids: {sorted(dup)}")
        return self

    def step_platform(self, step: Step) -> Platform:
        return step.platform or self.platform

    def runs_on(self, step: Step, host_platform: str) -> bool:
        """Whether a step applies to a host: steps of its platform and `any`; `azure` steps run on the control
        node for the host's VM (its Azure identity comes from the inventory), whatever the guest OS."""
        return self.step_platform(step).value in (host_platform, "any", "azure")

    def applies_to(self, host_platform: str) -> bool:
        """Whether the runbook has anything (a step, or a diagnose) for a host of this platform."""
        return self.platform.value in ("any", "azure", host_platform) or any(
            self.runs_on(s, host_platform) for s in self.ladder)

    def diagnose_for(self, host_platform: str) -> str | None:
        """The diagnose playbook for a host: its platform's, else the control-plane (`azure`) one."""
        return self.diagnose.get(Platform(host_platform)) or self.diagnose.get(Platform.azure)

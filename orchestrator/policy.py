"""The remediation policy: one YAML file with documented defaults (`--policy PATH`, `$REMEDIATE_POLICY`, else
`$REMEDIATE_HOME/policy.yml` when it exists, else the defaults below).

```yaml
auto_risks: [low]             # risks that run without confirmation or approval
window_risks: [medium]        # risks that also run automatically inside a maintenance window
maintenance_windows:          # when window_risks run automatically (none by default)
  - {days: [sat, sun], start: "01:00", end: "05:00", timezone: UTC}
outside_window: approval      # a window-risk step outside any window: approval (plan stored, exit 5) | skip (exit 7)
dedup_window: 15m             # the same (code, host) from an alert within this window is a duplicate (exit 7)
cooldown: 30m                 # after a run that changed a host, automatic runs on it wait this long (exit 7)
error_budget: {window: 1h, max_failures: 5}   # this many failed runs fleet-wide suspend automatic runs (exit 7)
two_person_risks: []          # e.g. [high]: the approver of such a plan must not be its requester (exit 7)
plan_ttl: 24h                 # how long a dry-run plan can be approved
```

Dedup, cooldown and the error budget apply to automatic sources (alerts, the HTTP API); an operator running
`remediate --code ... --host ...` by hand is not deduplicated nor held by a cooldown. Every decision is recorded
with its rule and reason.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from .errors import UsageError
from .runbook import Risk

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^(?P<n>\d+)\s*(?P<unit>s|m|h|d)$")
_ISO_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
_CLOCK = re.compile(r"^(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)$")


def parse_duration(value: object) -> timedelta:
    """`90s`, `15m`, `1h`, `2d` (or a number of seconds)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    iso = _ISO_DURATION.fullmatch(str(value).strip())
    if iso and any(iso.groupdict().values()):  # as pydantic writes a timedelta in JSON (P1DT2H...)
        return timedelta(days=int(iso["d"] or 0), hours=int(iso["h"] or 0), minutes=int(iso["m"] or 0),
                         seconds=float(iso["s"] or 0))
    match = _DURATION.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"expected a duration like 90s, 15m, 1h or 2d, got {str(value)[:40]!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match["unit"]]
    return timedelta(**{unit: int(match["n"])})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = list(DAYS)  # type: ignore[assignment]
    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not _CLOCK.match(str(v)):
            raise ValueError(f"expected HH:MM (24 h), got {str(v)[:20]!r}")
        return str(v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v[:60]!r}") from exc
        return v

    def contains(self, moment: datetime) -> bool:
        """True when `moment` falls in the window; a window whose end is before its start spans midnight (its
        day is the day it starts)."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        minutes = local.hour * 60 + local.minute
        start = int(self.start[:2]) * 60 + int(self.start[3:])
        end = int(self.end[:2]) * 60 + int(self.end[3:])
        day = DAYS[local.weekday()]
        previous = DAYS[(local.weekday() - 1) % 7]
        if start < end:
            return day in self.days and start <= minutes < end
        return (day in self.days and minutes >= start) or (previous in self.days and minutes < end)

    def describe(self) -> str:
        return f"{','.join(self.days)} {self.start}-{self.end} {self.timezone}"


class ErrorBudget(_Strict):
    window: Duration = timedelta(hours=1)
    max_failures: Annotated[int, Field(ge=1)] = 5


class Policy(_Strict):
    auto_risks: list[Risk] = [Risk.low]
    window_risks: list[Risk] = [Risk.medium]
    maintenance_windows: list[Window] = []
    outside_window: Literal["approval", "skip"] = "approval"
    dedup_window: Duration = timedelta(minutes=15)
    cooldown: Duration = timedelta(minutes=30)
    error_budget: ErrorBudget = ErrorBudget()
    two_person_risks: list[Risk] = []
    plan_ttl: Duration = timedelta(hours=24)
    source: str = "defaults"  # where it was read from (not a policy field: set by load_policy)

    @field_validator("auto_risks", "window_risks", "two_person_risks")
    @classmethod
    def _no_never(cls, v: list[Risk]) -> list[Risk]:
        if Risk.never in v:
            raise ValueError("risk 'never' is manual guidance only and cannot be listed here")
        return v

    def in_window(self, moment: datetime | None = None) -> Window | None:
        moment = moment or datetime.now(UTC)
        return next((w for w in self.maintenance_windows if w.contains(moment)), None)

    def step_gate(self, risk: Risk, approval_rule: str, moment: datetime | None = None) -> tuple[str, str]:
        """What a step of this risk needs now: ("auto" | "confirm" | "skip", reason).

        "confirm" means a terminal confirmation, `--yes`, or an approved plan. A runbook step that says
        `approval: always` is never automatic, whatever the policy."""
        if approval_rule == "always":
            return "confirm", f"risk {risk.value}: approval always required"
        if risk in self.auto_risks or approval_rule == "auto":
            return "auto", f"risk {risk.value} runs automatically (policy auto_risks)"
        if risk in self.window_risks:
            window = self.in_window(moment)
            if window is not None:
                return "auto", f"risk {risk.value} inside maintenance window {window.describe()}"
            if self.outside_window == "skip":
                return "skip", f"risk {risk.value} outside every maintenance window (policy outside_window: skip)"
            return "confirm", f"risk {risk.value} outside every maintenance window: approval required"
        return "confirm", f"risk {risk.value}: approval required"


def load_policy(path: Path | None = None, env: dict[str, str] | None = None, state: Path | None = None) -> Policy:
    """The policy from `path`, `$REMEDIATE_POLICY`, `<state>/policy.yml`, or the defaults. Errors name the field."""
    env = env or {}
    candidate = path or (Path(env["REMEDIATE_POLICY"]) if env.get("REMEDIATE_POLICY") else None)
    if candidate is None and state is not None and (state / "policy.yml").is_file():
        candidate = state / "policy.yml"
    if candidate is None:
        return Policy()
    try:
        data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read policy {candidate}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"invalid policy {candidate}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"invalid policy {candidate}: expected a mapping of settings")
    data.pop("source", None)
    try:
        return Policy.model_validate({**data, "source": str(candidate)})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise UsageError(f"invalid policy {candidate}: field {loc}: {first['msg']}") from exc

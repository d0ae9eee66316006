"""Filters for the ExtensionFailedVssWriterInBadState runbook: `vss_writers`, `vss_restart_plan`,
`vss_iops_evidence` and `vss_diagnosis`.

`vss_writers(stdout)` parses `vssadmin list writers` output whatever the system language. Only the
structure is read, never the words (Windows translates the labels and the state words):

- a line ending with a quoted name (`... : 'System Writer'`) opens a writer block; the opening quote must
  follow a blank or a colon, so the apostrophe of a French label (`Nom de l'enregistreur : 'X'`) is not
  taken for it; other display languages quote with "...", “...”, „...“, «...», ‚...‘, ‹...› or 「...」
  (spaces inside guillemets are trimmed);
- inside the block, before the state line, the first `{...}` is the writer id, the second the instance id;
- the first `[N]` of the block is the state (`VSS_WRITER_STATE`, 0-15);
- the last error is the text after the first colon of the line that follows the state line (kept raw).

Malformed output raises AnsibleFilterError, so the playbook fails before anything is restarted: no writer
block while the text is not the "no writers" case (the vssadmin banner and plain sentences only), a block
without an `[N]` state or without its two ids, a state outside 0-15, the same instance id twice.

`vss_restart_plan(writers, mapping)` turns the failing (not stable) writers into the services to restart:
mapping keys are matched exactly; a key holding `$instance` (e.g. `ADAM $instance Writer` -> `ADAM_$instance`)
matches any non-empty text in its place and the same text replaces `$instance` in the service name. A writer
whose name matches no key (or whose service is empty) is reported as unmapped, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

VSS_WRITER_STATES: dict[int, str] = {
    0: "unknown",
    1: "stable",
    2: "waiting for freeze",
    3: "waiting for thaw",
    4: "waiting for post snapshot",
    5: "waiting for completion",
    6: "failed at identify",
    7: "failed at prepare backup",
    8: "failed at prepare snapshot",
    9: "failed at freeze",
    10: "failed at thaw",
    11: "failed at post snapshot",
    12: "failed at backup complete",
    13: "failed at pre restore",
    14: "failed at post restore",
    15: "failed at backup shutdown",
}
STABLE = 1
NO_SERVICE = "no known service"
INSTANCE_PLACEHOLDER = "$instance"
# The VSS service hosts several writers; restarting it last lets it enumerate the other writers afresh.
VSS_SERVICE = "VSS"

# Opening quote -> closing quote. Windows quotes writer names with ' in English and French; other display
# languages use typographic quotes ("...", “...”, „...“, «...», ‚...‘, ‹...›, 「...」). The name is the text
# between the LAST opening quote that follows a blank or a colon and the closing quote that ends the line.
_QUOTES = {
    "'": "'", '"': '"', "\u201c": "\u201d", "\u201d": "\u201d", "\u201e": "\u201c", "\u2018": "\u2019",
    "\u201a": "\u2018", "\u00ab": "\u00bb", "\u00bb": "\u00ab", "\u2039": "\u203a", "\u300c": "\u300d",
    "\u300e": "\u300f",
}
_NAME_LINE = re.compile(
    "|".join(
        rf"(?:^|[\s:\uff1a]){re.escape(opening)}(?P<n{index}>.+){re.escape(closing)}\s*$"
        for index, (opening, closing) in enumerate(_QUOTES.items())
    )
)
_NAME_SPACES = " \t\u00a0\u202f"
_ID = re.compile(r"\{\s*(?P<id>[^{}\s]+)\s*\}")
_STATE = re.compile(r"\[\s*(?P<number>[+-]?\d+)\s*\]")
_COLON = re.compile(r"[:\uff1a]")


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _is_no_writers_output(lines: list[str]) -> bool:
    """The vssadmin banner then only plain sentences (e.g. "Waiting for responses."), in any language."""
    content = [line.strip() for line in lines if line.strip()]
    if not content or not content[0].lower().startswith("vssadmin"):
        return False
    return not any(_COLON.search(line) or any(c in line for c in "{}[]") for line in content[1:])


def _error_text(line: str) -> str:
    parts = _COLON.split(line, maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


def _parse_block(name: str, body: list[str]) -> dict[str, Any]:
    state_index = next((i for i, line in enumerate(body) if _STATE.search(line)), None)
    if state_index is None:
        raise AnsibleFilterError(f"vss_writers: writer '{name}' has no [N] state line; refusing to guess")
    number = int(_STATE.search(body[state_index])["number"])  # type: ignore[index]
    if number not in VSS_WRITER_STATES:
        raise AnsibleFilterError(
            f"vss_writers: writer '{name}' has state [{number}], outside VSS_WRITER_STATE 0-15"
        )
    ids = [m["id"] for line in body[:state_index] for m in _ID.finditer(line)]
    if len(ids) < 2:
        raise AnsibleFilterError(
            f"vss_writers: writer '{name}' lacks its writer id and instance id ({{...}} before the state)"
        )
    last_error = _error_text(body[state_index + 1]) if state_index + 1 < len(body) else ""
    return {
        "name": name,
        "id": ids[0],
        "instance_id": ids[1],
        "state": number,
        "state_label": VSS_WRITER_STATES[number],
        "last_error": last_error,
        "stable": number == STABLE,
    }


def vss_writers(stdout: Any) -> list[dict[str, Any]]:
    """Parse `vssadmin list writers` output (any language) into writers (see the module docstring)."""
    if isinstance(stdout, (list, tuple)):
        stdout = "\n".join(str(line) for line in stdout)
    if not isinstance(stdout, str):
        raise AnsibleFilterError(
            f"vss_writers expects the text of vssadmin list writers, got {type(stdout).__name__}"
        )
    lines = stdout.splitlines()
    blocks: list[tuple[str, list[str]]] = []
    for line in lines:
        match = _NAME_LINE.search(line)
        if match and not _ID.search(line) and not _STATE.search(line):
            name = next(value for value in match.groupdict().values() if value is not None)
            blocks.append((name.strip(_NAME_SPACES), []))
        elif blocks:
            blocks[-1][1].append(line)
    if not blocks:
        if _is_no_writers_output(lines):
            return []
        shown = _excerpt(stdout) or "(empty output)"
        raise AnsibleFilterError(
            f"vss_writers: no writer block found in the vssadmin output (expected lines like "
            f"\"Writer name: 'System Writer'\"): {shown}"
        )
    writers = [_parse_block(name, body) for name, body in blocks]
    seen: dict[str, str] = {}
    for writer in writers:
        key = writer["instance_id"].lower()
        if key in seen:
            raise AnsibleFilterError(
                f"vss_writers: instance id {{{writer['instance_id']}}} appears twice ('{seen[key]}' and "
                f"'{writer['name']}'); the output is inconsistent"
            )
        seen[key] = writer["name"]
    return writers


def _service_for(name: str, mapping: Mapping[str, Any]) -> str | None:
    if name in mapping:
        service = mapping[name]
        return str(service) if service else None
    for key, service in mapping.items():
        if INSTANCE_PLACEHOLDER not in str(key) or not service:
            continue
        pattern = "(.+)".join(re.escape(part) for part in str(key).split(INSTANCE_PLACEHOLDER))
        match = re.fullmatch(pattern, name)
        if match:
            return str(service).replace(INSTANCE_PLACEHOLDER, match.group(1))
    return None


def _check_writers(writers: Any, filter_name: str) -> list[Mapping[str, Any]]:
    if not isinstance(writers, Iterable) or isinstance(writers, (str, bytes, Mapping)):
        raise AnsibleFilterError(f"{filter_name} expects the list returned by vss_writers")
    checked = list(writers)
    for writer in checked:
        if not isinstance(writer, Mapping) or "name" not in writer or "state" not in writer:
            raise AnsibleFilterError(f"{filter_name} expects writers with a name and a state, got {writer!r}")
    return checked


def _is_stable(writer: Mapping[str, Any]) -> bool:
    return bool(writer.get("stable", int(writer["state"]) == STABLE))


def vss_restart_plan(writers: Any, mapping: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Which services to restart for the writers that are not stable, each service once (VSS last)."""
    checked = _check_writers(writers, "vss_restart_plan")
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        raise AnsibleFilterError("vss_restart_plan expects the writer -> service mapping as a dict")
    canonical: dict[str, str] = {}  # lower-case service name -> first spelling seen (Windows ignores case)
    by_service: dict[str, list[str]] = {}
    unmapped: list[str] = []
    failing: list[dict[str, Any]] = []
    for writer in checked:
        if _is_stable(writer):
            continue
        name = str(writer["name"])
        service = _service_for(name, mapping)
        number = int(writer["state"])
        failing.append(
            {
                "name": name,
                "instance_id": writer.get("instance_id", ""),
                "state": number,
                "state_label": writer.get("state_label", VSS_WRITER_STATES.get(number, "unknown")),
                "last_error": writer.get("last_error", ""),
                "service": service,
            }
        )
        if service is None:
            if name not in unmapped:
                unmapped.append(name)
            continue
        service = canonical.setdefault(service.lower(), service)
        names = by_service.setdefault(service, [])
        if name not in names:
            names.append(name)
    services = [s for s in by_service if s.lower() != VSS_SERVICE.lower()]
    services += [s for s in by_service if s.lower() == VSS_SERVICE.lower()]
    shared: dict[str, list[str]] = {}
    for writer in checked:
        if not _is_stable(writer):
            continue
        service = _service_for(str(writer["name"]), mapping)
        if service and service.lower() in canonical:
            names = shared.setdefault(canonical[service.lower()], [])
            if writer["name"] not in names:
                names.append(str(writer["name"]))
    return {
        "services": services,
        "by_service": {s: by_service[s] for s in services},
        "unmapped": unmapped,
        "failing": failing,
        "restarts": [
            {"service": s, "writers": by_service[s], "label": f"{s} ({', '.join(by_service[s])})"}
            for s in services
        ],
        "shared_with_healthy": shared,
    }


def _events(raw: Any) -> list[Mapping[str, Any]]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, Mapping):
        return [raw]
    if isinstance(raw, (list, tuple)):
        flat: list[Mapping[str, Any]] = []
        for item in raw:
            flat.extend(_events(item))
        return flat
    raise AnsibleFilterError(f"vss_iops_evidence expects event objects, got {type(raw).__name__}")


def vss_iops_evidence(raw: Any, patterns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The events whose message matches one of the regex patterns (case-insensitive, blanks normalised)."""
    if isinstance(patterns, str):
        patterns = [patterns]
    try:
        compiled = [re.compile(p, re.IGNORECASE) for p in (patterns or [])]
    except re.error as exc:
        raise AnsibleFilterError(f"vss_iops_evidence: invalid pattern: {exc}") from exc
    evidence = []
    for event in _events(raw):
        message = " ".join(str(event.get("Message") or "").split())
        if any(p.search(message) for p in compiled):
            evidence.append(
                {
                    "time_created": str(event.get("TimeCreated") or ""),
                    "log": event.get("LogName"),
                    "provider": event.get("ProviderName"),
                    "id": event.get("Id"),
                    "level": event.get("LevelDisplayName"),
                    "message": message,
                }
            )
    return evidence


def vss_diagnosis(
    writers: Any, plan: Mapping[str, Any], iops_evidence: list[Any] | None = None
) -> dict[str, Any]:
    """`remediate_diagnosis`: healthy, summary, findings, writers, restart_plan, iops_evidence."""
    checked = _check_writers(writers, "vss_diagnosis")
    evidence = list(iops_evidence or [])
    findings = []
    for writer in plan.get("failing", []):
        service = writer.get("service") or NO_SERVICE
        action = f"restart {service}" if writer.get("service") else "no known service: restart it by hand"
        findings.append(
            {
                "writer": writer["name"],
                "state": writer["state"],
                "state_label": writer["state_label"],
                "last_error": writer["last_error"],
                "service": service,
                "message": f"{writer['name']}: [{writer['state']}] {writer['state_label']}"
                f" ({writer['last_error'] or 'no error text'}); {action}",
            }
        )
    if not checked:
        findings.append(
            {
                "writer": None,
                "state": None,
                "state_label": None,
                "last_error": None,
                "service": VSS_SERVICE,
                "message": "vssadmin listed no VSS writer at all",
            }
        )
    healthy = bool(checked) and not plan.get("failing")
    if healthy:
        summary = f"all {len(checked)} VSS writers are stable"
    elif not checked:
        summary = "vssadmin listed no VSS writer (check the VSS service)"
    else:
        parts = [f"{f['writer']} [{f['state']}] {f['state_label']} -> {f['service']}" for f in findings]
        summary = f"{len(findings)} of {len(checked)} VSS writers not stable: " + "; ".join(parts)
    if evidence:
        summary += (
            f"; {len(evidence)} event(s) show the shadow copy provider timing out while holding writes"
            " (IOPS limit: manual step)"
        )
    return {
        "healthy": healthy,
        "summary": summary,
        "findings": findings,
        "writers": [dict(w) for w in checked],
        "restart_plan": dict(plan),
        "iops_evidence": evidence,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "vss_writers": vss_writers,
            "vss_restart_plan": vss_restart_plan,
            "vss_iops_evidence": vss_iops_evidence,
            "vss_diagnosis": vss_diagnosis,
        }

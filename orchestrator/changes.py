"""What a task changes (or would change), in one line per change, for the change approver.

Built from the module's own report: its diff when it has one (win_regedit, win_service, ini_file, ...), else the
arguments it was called with (win_acl, win_certificate_store and win_acl_inheritance return no diff). Lines look
like `service SQLWriter — state: running → restarted`,
`HKLM:\\...\\BcdrAgent\\USEVSSCOPYBACKUP: (absent) → "TRUE" (REG_SZ)`,
`C:\\...\\MachineKeys: add allow Everyone: ReadData, WriteData`,
`LocalMachine\\My: remove certificate 3A1F… (CN=…)`.
Arguments arrive already censored by Ansible's no_log; password-like keys are never shown anyway.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Any

ARROW = "→"
REG_TYPES = {"string": "REG_SZ", "expandstring": "REG_EXPAND_SZ", "multistring": "REG_MULTI_SZ",
             "dword": "REG_DWORD", "qword": "REG_QWORD", "binary": "REG_BINARY", "none": "REG_NONE"}
_SECRET_WORDS = ("password", "passwd", "secret", "token", "key_data", "private")
MAX_LINES = 40


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def _reg_value(entry: Any) -> str:
    """A win_regedit diff value {type, value} as `"data" (REG_SZ)`; dwords as numbers."""
    if not isinstance(entry, Mapping):
        return _short(entry)
    kind = str(entry.get("type", "")).lower()
    value = entry.get("value")
    if kind in ("dword", "qword") and isinstance(value, str) and value.lower().startswith("0x"):
        shown = str(int(value, 16))
    elif isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
    else:
        shown = _short(value)
    return f"{shown} ({REG_TYPES.get(kind, kind or '?')})"


def _regedit(args: Mapping[str, Any], diff: Mapping[str, Any]) -> list[str]:
    before = diff.get("before") if isinstance(diff.get("before"), Mapping) else {}
    after = diff.get("after") if isinstance(diff.get("after"), Mapping) else {}
    lines = []
    for key in sorted(set(before) | set(after), key=str.lower):
        old_values = before.get(key) if isinstance(before.get(key), Mapping) else None
        new_values = after.get(key) if isinstance(after.get(key), Mapping) else None
        if old_values is None and new_values is not None:
            lines.append(f"{key}: key created")
        elif old_values is not None and new_values is None:
            lines.append(f"{key}: key deleted with its values")
            continue
        old_values, new_values = old_values or {}, new_values or {}
        for name in sorted(set(old_values) | set(new_values), key=str.lower):
            old, new = old_values.get(name), new_values.get(name)
            if old == new:
                continue
            label = f"{key}\\{name or '(Default)'}"
            lines.append(f"{label}: {_reg_value(old) if old is not None else '(absent)'} {ARROW} "
                         f"{_reg_value(new) if new is not None else '(deleted)'}")
    if not lines and args.get("path"):
        what = f"{args['path']}\\{args.get('name') or '(Default)'}"
        lines.append(f"{what}: {'deleted' if args.get('state') == 'absent' else 'set to ' + _short(args.get('data'))}")
    return lines


_SERVICE_STATES = {"started": "running"}


def _service(args: Mapping[str, Any], diff: Mapping[str, Any]) -> list[str]:
    name = f"service {args.get('name') or '?'}"
    before, after = diff.get("before"), diff.get("after")
    if not isinstance(after, Mapping) or not after:
        if before and not after:
            return [f"{name} — removed"]
        return [f"{name} — " + "; ".join(f"{k}: {_short(v)}" for k, v in sorted(args.items())
                                         if v not in (None, False, [], "") and k != "name" and not _is_secret(k))]
    if not isinstance(before, Mapping) or not before:
        settings = "; ".join(f"{k}: {_short(v)}" for k, v in sorted(after.items()) if v and not _is_secret(k))
        return [f"{name} — created ({settings})"]
    changed = []
    for key in sorted(set(before) | set(after), key=lambda k: (k != "state", _is_secret(k), k)):
        old, new = before.get(key), after.get(key)
        if key == "state":
            old = _SERVICE_STATES.get(str(old), old)
            new = _SERVICE_STATES.get(str(new), new)
        if old == new:
            continue
        if _is_secret(key):
            changed.append(f"{key}: changed")
        else:
            changed.append(f"{key}: {_short(old) if old not in (None, '') else '(none)'} {ARROW} {_short(new)}")
    return [f"{name} — {'; '.join(changed)}"] if changed else []


def _acl(args: Mapping[str, Any], _diff: Mapping[str, Any]) -> list[str]:
    verb = "remove" if args.get("state") == "absent" else "add"
    extra = []
    if args.get("inherit") not in (None, ""):
        extra.append(f"inherit {args['inherit']}")
    if args.get("propagation") not in (None, "", "None"):
        extra.append(f"propagation {args['propagation']}")
    suffix = f" ({'; '.join(extra)})" if extra else ""
    return [f"{args.get('path')}: {verb} {args.get('type', 'allow')} {args.get('user')}: {args.get('rights')}{suffix}"]


def _acl_inheritance(args: Mapping[str, Any], _diff: Mapping[str, Any]) -> list[str]:
    enabled = args.get("state", "present") == "present"
    how = " (inherited entries copied as explicit)" if not enabled and args.get("reorganize") else ""
    if enabled and args.get("reorganize"):
        how = " (explicit entries duplicating inherited ones removed)"
    return [f"{args.get('path')}: inheritance {'disabled' if enabled else 'enabled'} {ARROW} "
            f"{'enabled' if enabled else 'disabled'}{how}"]


def _certificate(args: Mapping[str, Any], _diff: Mapping[str, Any], item: str | None = None) -> list[str]:
    store = f"{args.get('store_location', 'LocalMachine')}\\{args.get('store_name', 'My')}"
    if args.get("state") == "absent":
        target = args.get("thumbprint") or args.get("path")
        label = (item or "").strip()
        if target and label.upper().startswith(str(target).upper()):  # a "<thumbprint> <subject>" loop label
            label = label[len(str(target)):].strip()
        subject = f" ({label})" if label else ""
        return [f"{store}: remove certificate {target}{subject}"]
    return [f"{store}: {args.get('state', 'present')} certificate from {args.get('path')}"]


def _package(args: Mapping[str, Any], _diff: Mapping[str, Any]) -> list[str]:
    what = args.get("path") or args.get("product_id") or "package"
    if args.get("state") == "absent":
        return [f"uninstall {what}" + (f" (product {args['product_id']})" if args.get("product_id") else "")]
    extra = f" {args['arguments']}" if args.get("arguments") else ""
    product = f" (product {args['product_id']})" if args.get("product_id") and args.get("path") else ""
    return [f"install {what}{extra}{product}"]


def _command(args: Mapping[str, Any], _diff: Mapping[str, Any]) -> list[str]:
    text = args.get("cmd") or args.get("_raw_params") or args.get("script") or " ".join(args.get("argv") or [])
    first = next((line.strip() for line in str(text).splitlines() if line.strip() and not line.strip().startswith(
        ("#", "$Ansible.", "[CmdletBinding", "param("))), "")
    return [f"runs: {_short(first)}"] if first else []


def _text_diff(diff: Mapping[str, Any]) -> list[str]:
    if diff.get("prepared"):
        return str(diff["prepared"]).splitlines()
    before, after = diff.get("before"), diff.get("after")
    if isinstance(before, str) or isinstance(after, str):
        return list(difflib.unified_diff(
            str(before or "").splitlines(), str(after or "").splitlines(),
            str(diff.get("before_header", "before")), str(diff.get("after_header", "after")), lineterm="", n=1))
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return [f"{k}: {_short(before.get(k)) if k in before else '(absent)'} {ARROW} "
                f"{_short(after.get(k)) if k in after else '(removed)'}"
                for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k) and not _is_secret(k)]
    if before is not None or after is not None:
        return [f"{_short(before)} {ARROW} {_short(after)}"]
    return []


_BY_MODULE: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]] = {
    "win_regedit": _regedit,
    "win_service": _service,
    "win_acl": _acl,
    "win_acl_inheritance": _acl_inheritance,
    "win_package": _package,
    "win_command": _command,
    "win_shell": _command,
    "win_powershell": _command,
    "command": _command,
    "shell": _command,
}


def describe(action: str, args: Mapping[str, Any] | None, diffs: list[Mapping[str, Any]],
             item: str | None = None) -> list[str]:
    """One readable line per change of one task result (possibly one loop item)."""
    short = action.rsplit(".", 1)[-1]
    args = args if isinstance(args, Mapping) else {}
    diff: dict[str, Any] = {}
    for d in diffs:
        if isinstance(d, Mapping):
            for part in ("before", "after"):
                if isinstance(d.get(part), Mapping) and isinstance(diff.get(part), Mapping):
                    diff[part] = {**diff[part], **d[part]}
                elif part in d:
                    diff[part] = d[part]
            for k in ("prepared", "before_header", "after_header"):
                if k in d:
                    diff[k] = d[k]
    if short == "win_certificate_store":
        lines = _certificate(args, diff, item)
    elif short in _BY_MODULE:
        lines = _BY_MODULE[short](args, diff)
    else:
        lines = _text_diff(diff)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"… ({len(lines) - MAX_LINES} more lines)"]
    return lines

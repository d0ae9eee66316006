"""Filters that judge Windows services from `ansible.windows.win_service_info` results: what
`restart_service.yml` may do (`restart_service_plan`), and the diagnoses of the runbooks whose fix is a service
(`vss_service_diagnosis` for ExtensionFailedVssServiceInBadState, `complus_msdtc_diagnosis` for
ExtensionSnapshotFailedCOM / ExtensionInstallationFailedCOM / ExtensionInstallationFailedMDTC).

Inputs are what the modules return: a win_service_info result (`exists`, `services`), or a registered loop of
them (`results`, each with its `item`, the name asked for). Service states and start modes are the module's
words (`started` for a running service, `stopped`, `start_pending`, `paused`, ...; `auto`, `delayed`,
`manual`, `disabled`, ...).

Each diagnosis is the `remediate_diagnosis` contract: `healthy` (bool), `summary` (one line), `findings` (each
with `problem`, `message` and `fix`: what repairs it, naming the runbook step when one does), plus the facts it
was built from.

- `vss_service_diagnosis`: the VSS service exists, is not disabled and runs (read after `vssadmin list writers`,
  which starts the demand-start VSS service on Windows), `vssadmin list writers` succeeds and lists writers, and
  every writer hosted by the VSS service itself (ASR, COM+ REGDB, Registry, Shadow Copy Optimization writers) is
  `[1] Stable`. A failing writer of another service is reported as a note, not a finding: restarting VSS does
  not repair it (runbook ExtensionFailedVssWriterInBadState does). VSS errors from the event log are evidence
  only: old events stay in the log after a repair.
- `complus_msdtc_diagnosis`: COM+ System Application (COMSysApp) exists, is not disabled and runs; MSDTC exists,
  is not disabled, runs, and logs on as Network Service. The logon account is compared the way Windows resolves
  it: the SCM's own spelling `NT AUTHORITY\\NetworkService`, the SID `S-1-5-20`, or the name the host translates
  S-1-5-20 to (localised: read on the host, never guessed), with or without the `NT AUTHORITY\\` part, without
  case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

RUNNING = "started"  # win_service_info's word for a running service (win_service_info.ps1 line 128)
DISABLED = "disabled"
NETWORK_SERVICE_SID = "S-1-5-20"
SCM_NETWORK_SERVICE = "NT AUTHORITY\\NetworkService"  # the special start name CreateService documents
VSS = "VSS"
RESTART_MODES = ("restart", "start")


# -- reading win_service_info results ---------------------------------------------------------------------------
def _results(info: Any, filter_name: str) -> list[Mapping[str, Any]]:
    if isinstance(info, Mapping) and isinstance(info.get("results"), list):
        return list(info["results"])
    if isinstance(info, Mapping):
        return [info]
    if isinstance(info, Iterable) and not isinstance(info, (str, bytes)):
        return list(info)
    raise AnsibleFilterError(f"{filter_name} expects win_service_info result(s), got {type(info).__name__}")


def _service(result: Mapping[str, Any], filter_name: str) -> dict[str, Any] | None:
    """The one service a win_service_info call by name found, or None when it does not exist."""
    if result.get("failed"):
        raise AnsibleFilterError(f"{filter_name}: win_service_info failed: {result.get('msg', 'no message')}")
    services = result.get("services") or []
    if not result.get("exists") or not services:
        return None
    service = services[0]
    if not isinstance(service, Mapping) or "name" not in service:
        raise AnsibleFilterError(f"{filter_name} expects services with a name, got {service!r}")
    return dict(service)


def _label(service: Mapping[str, Any]) -> str:
    display = service.get("display_name")
    return f"{service['name']} ({display})" if display and display != service["name"] else str(service["name"])


def _facts(name: str, service: Mapping[str, Any] | None) -> dict[str, Any]:
    if service is None:
        return {"name": name, "exists": False}
    return {
        "name": service["name"],
        "exists": True,
        "display_name": service.get("display_name"),
        "state": service.get("state"),
        "start_mode": service.get("start_mode"),
        "username": service.get("username"),
        "win32_exit_code": service.get("win32_exit_code"),
        "dependency_of": list(service.get("dependency_of") or []),
    }


def _stopped_text(service: Mapping[str, Any]) -> str:
    code = service.get("win32_exit_code")
    last = f", last exit code {code}" if code not in (None, 0) else ""
    return f"{service.get('state')} (startup type {service.get('start_mode')}{last})"


def _finding(problem: str, message: str, fix: str, **extra: Any) -> dict[str, Any]:
    return {"problem": problem, "message": message, "fix": fix, **extra}


def _summary(findings: list[Mapping[str, Any]], healthy_text: str, notes: Iterable[str] = ()) -> str:
    """One line: the findings grouped by what repairs them (`a, b -> fix`), or the healthy text; then notes."""
    groups: dict[str, list[str]] = {}
    for finding in findings:
        groups.setdefault(str(finding["fix"]), []).append(str(finding["message"]))
    head = "; ".join(f"{', '.join(messages)} -> {fix}" for fix, messages in groups.items()) or healthy_text
    return " ".join("; ".join([head, *[n for n in notes if n]]).split())


# -- restart_service.yml ------------------------------------------------------------------------------------------
def restart_service_plan(infos: Any, mode: str = "restart") -> dict[str, Any]:
    """What restart_service.yml does to each service it was given (a registered loop of win_service_info by name).

    mode `restart`: every service is restarted (a stopped one is started: Restart-Service semantics);
    mode `start`: only services that are not running are started (a paused one is resumed), the others are left
    alone. `problems` lists what must stop the play before anything is touched: a service that does not exist, or
    one with startup type Disabled that would have to start (it would stay stopped)."""
    if mode not in RESTART_MODES:
        raise AnsibleFilterError(f"restart_service_plan: mode must be one of {', '.join(RESTART_MODES)}, got {mode!r}")
    services, problems = [], []
    for result in _results(infos, "restart_service_plan"):
        asked = str(result.get("item") or "")
        service = _service(result, "restart_service_plan")
        if service is None:
            problems.append(f"service {asked or '?'} does not exist on this host")
            continue
        if mode == "restart":
            action = "restart"
        else:
            action = "none" if service.get("state") == RUNNING else "start"
        entry = _facts(asked, service) | {"action": action, "label": f"{_label(service)}: {action}"}
        services.append(entry)
        if action != "none" and service.get("start_mode") == DISABLED:
            problems.append(
                f"{_label(service)} has startup type Disabled: it would not start"
                f"{' again' if action == 'restart' else ''}; set its startup type first (nothing was changed)")
    return {
        "mode": mode,
        "services": services,
        "to_change": [s for s in services if s["action"] != "none"],
        "unchanged": [s["name"] for s in services if s["action"] == "none"],
        "problems": problems,
    }


# -- ExtensionFailedVssServiceInBadState ------------------------------------------------------------------------
def _vssadmin_error(vssadmin: Mapping[str, Any]) -> str:
    text = str(vssadmin.get("stderr") or "").strip() or str(vssadmin.get("stdout") or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lower().startswith(
        ("vssadmin ", "(c) copyright"))]
    return (lines[0] if lines else str(vssadmin.get("msg") or "no output"))[:200]


def _vss_events(events: Any) -> list[dict[str, Any]]:
    if events is None or events == "":
        return []
    items = [events] if isinstance(events, Mapping) else list(events)
    out = []
    for event in items:
        if not isinstance(event, Mapping):
            raise AnsibleFilterError(f"vss_service_diagnosis expects event objects, got {event!r}")
        out.append({
            "time_created": str(event.get("TimeCreated") or ""),
            "log": event.get("LogName"),
            "provider": event.get("ProviderName"),
            "id": event.get("Id"),
            "level": event.get("LevelDisplayName"),
            "message": " ".join(str(event.get("Message") or "").split()),
        })
    return out


def vss_service_diagnosis(service_info: Any, vssadmin: Any, writers: Any, plan: Any, hosted_by_vss: Any,
                          events: Any = None) -> dict[str, Any]:
    """`remediate_diagnosis` for the VSS service (see the module docstring).

    service_info: win_service_info of VSS (read after vssadmin); vssadmin: the registered `vssadmin list writers`
    (rc, stdout, stderr); writers / plan: its `vss_writers` / `vss_restart_plan` (empty when vssadmin failed);
    hosted_by_vss: the writer names the VSS service hosts; events: Get-WinEvent objects (evidence only)."""
    if not isinstance(vssadmin, Mapping):
        raise AnsibleFilterError("vss_service_diagnosis expects the registered vssadmin result")
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError("vss_service_diagnosis expects the vss_restart_plan result")
    results = _results(service_info, "vss_service_diagnosis")
    service = _service(results[0], "vss_service_diagnosis") if results else None
    hosted = {str(n).lower() for n in (hosted_by_vss or [])}
    writers = list(writers or [])
    restart = "restart the VSS service (step 1)"
    findings: list[dict[str, Any]] = []
    if service is None:
        findings.append(_finding("vss-missing", "the Volume Shadow Copy service (VSS) does not exist",
                                 "repair Windows (manual): no step of this runbook can recreate it"))
    elif service.get("start_mode") == DISABLED:
        findings.append(_finding(
            "vss-disabled", f"{_label(service)} has startup type Disabled ({service.get('state')})",
            "set its startup type back to Manual, its default (sc config VSS start= demand), then restart it: "
            "the runbook's restart refuses to touch a disabled service"))
    elif service.get("state") != RUNNING:
        findings.append(_finding("vss-not-running", f"{_label(service)} is {_stopped_text(service)}", restart))
    vssadmin_ok = int(vssadmin.get("rc", 1) or 0) == 0 and not vssadmin.get("skipped")
    if not vssadmin_ok:
        findings.append(_finding("vssadmin-failed", f"vssadmin list writers failed (rc {vssadmin.get('rc')}): "
                                 f"{_vssadmin_error(vssadmin)}", restart))
    elif not writers:
        findings.append(_finding("no-writers", "vssadmin listed no VSS writer at all", restart))
    others = []
    for writer in plan.get("failing", []):
        text = (f"{writer['name']} [{writer['state']}] {writer.get('state_label', '')} "
                f"({writer.get('last_error') or 'no error text'})")
        if str(writer["name"]).lower() in hosted:
            findings.append(_finding("vss-writer-failed", f"VSS writer {text}", restart,
                                     writer=writer["name"], state=writer["state"]))
        else:
            others.append(dict(writer))
    notes = []
    if others:
        names = ", ".join(f"{w['name']} ({w.get('service') or 'no known service'})" for w in others)
        notes.append(f"not this fault: writer(s) of other services not stable: {names}; a VSS restart does not "
                     "repair them (see ExtensionFailedVssWriterInBadState)")
    evidence = _vss_events(events)
    if evidence:
        notes.append(f"{len(evidence)} recent VSS error event(s) in the Application log (evidence, newest: "
                     f"{evidence[0]['id']} at {evidence[0]['time_created']})")
    hosted_seen = [w for w in writers if str(w.get("name", "")).lower() in hosted]
    healthy_text = f"VSS service running; {len(writers)} writers listed, the {len(hosted_seen)} hosted by VSS stable"
    return {
        "healthy": not findings,
        "summary": _summary(findings, healthy_text, notes),
        "findings": findings,
        "service": _facts(VSS, service),
        "vssadmin": {"rc": vssadmin.get("rc"), "error": None if vssadmin_ok else _vssadmin_error(vssadmin)},
        "writers": [dict(w) for w in writers],
        "other_failing_writers": others,
        "events": evidence,
    }


# -- ExtensionSnapshotFailedCOM / ExtensionInstallationFailedCOM / ExtensionInstallationFailedMDTC -------------
def network_service_names(translated: Any = None) -> list[str]:
    """Start names that mean Network Service: the SCM's special name, the SID, and the host's own (localised)
    name of S-1-5-20, each with and without its `NT AUTHORITY\\` part, lower-cased."""
    names = [SCM_NETWORK_SERVICE, NETWORK_SERVICE_SID]
    if isinstance(translated, (list, tuple)):
        translated = translated[0] if translated else None
    if translated:
        names.append(str(translated))
    out: list[str] = []
    for name in names:
        for form in (name, name.split("\\", 1)[-1]):
            if form.lower() not in out:
                out.append(form.lower())
    return out


def is_network_service(username: Any, translated: Any = None) -> bool:
    """Whether a service start name is the Network Service account (see network_service_names)."""
    return bool(username) and str(username).strip().lower() in network_service_names(translated)


def complus_msdtc_diagnosis(comsysapp_info: Any, msdtc_info: Any, network_service_name: Any = None
                            ) -> dict[str, Any]:
    """`remediate_diagnosis` for COM+ System Application and MSDTC (see the module docstring).

    comsysapp_info / msdtc_info: win_service_info of COMSysApp / MSDTC; network_service_name: the name the host
    translates S-1-5-20 to (win_powershell output)."""
    comsysapp = _service(_results(comsysapp_info, "complus_msdtc_diagnosis")[0], "complus_msdtc_diagnosis")
    msdtc = _service(_results(msdtc_info, "complus_msdtc_diagnosis")[0], "complus_msdtc_diagnosis")
    findings: list[dict[str, Any]] = []
    if comsysapp is None:
        findings.append(_finding("comsysapp-missing", "the COM+ System Application service (COMSysApp) does not "
                                 "exist", "repair Windows (manual): no step of this runbook can recreate it"))
    elif comsysapp.get("start_mode") == DISABLED:
        findings.append(_finding(
            "comsysapp-disabled", f"{_label(comsysapp)} has startup type Disabled ({comsysapp.get('state')})",
            "set its startup type back to Manual, its default, then start it (step 1 refuses to start a disabled "
            "service)"))
    elif comsysapp.get("state") != RUNNING:
        findings.append(_finding("comsysapp-not-running", f"{_label(comsysapp)} is {_stopped_text(comsysapp)}",
                                 "start it (step 1); if it does not start, steps 2 and 3 repair MSDTC"))
    account_ok = msdtc is not None and is_network_service(msdtc.get("username"), network_service_name)
    if msdtc is None:
        findings.append(_finding("msdtc-missing", "the Distributed Transaction Coordinator service (MSDTC) is not "
                                 "installed", "msdtc -install (step 3)"))
    else:
        if not account_ok:
            findings.append(_finding(
                "msdtc-account", f"{_label(msdtc)} logs on as {msdtc.get('username') or '(no account)'}, not "
                "Network Service", "set NT AUTHORITY\\NetworkService and restart MSDTC, then COMSysApp (step 2)",
                account=msdtc.get("username")))
        if msdtc.get("start_mode") == DISABLED:
            findings.append(_finding(
                "msdtc-disabled", f"{_label(msdtc)} has startup type Disabled ({msdtc.get('state')})",
                "set its startup type back to Automatic after checking why it was disabled (steps 2 and 3 cannot "
                "start a disabled service; the reinstall of step 3 resets it)"))
        elif msdtc.get("state") != RUNNING:
            findings.append(_finding(
                "msdtc-not-running", f"{_label(msdtc)} is {_stopped_text(msdtc)}",
                "start MSDTC (step 2); if it does not start, reinstall it (step 3)"))
    healthy_text = (f"{_label(comsysapp) if comsysapp else 'COMSysApp'} running; "
                    f"{_label(msdtc) if msdtc else 'MSDTC'} running as {msdtc.get('username') if msdtc else '?'}")
    return {
        "healthy": not findings,
        "summary": _summary(findings, healthy_text),
        "findings": findings,
        "comsysapp": _facts("COMSysApp", comsysapp),
        "msdtc": _facts("MSDTC", msdtc) | {"network_service": account_ok},
        "network_service_names": network_service_names(network_service_name),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "restart_service_plan": restart_service_plan,
            "vss_service_diagnosis": vss_service_diagnosis,
            "complus_msdtc_diagnosis": complus_msdtc_diagnosis,
            "is_network_service": is_network_service,
        }

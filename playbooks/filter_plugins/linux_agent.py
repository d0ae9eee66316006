"""Filters for the Azure Linux Agent runbooks (380008 AzureVmOffline, UserErrorGuestAgentStatusUnavailable and
its siblings, VmNotInDesirableState on Linux).

`key_values`: /etc/waagent.conf (key=value lines, comments dropped) as a mapping.
`dhcp_interfaces`: the guest's network configuration files ({path: text}) read as [{interface, dhcp, file}]
(ifupdown, netplan, ifcfg, NetworkManager keyfiles, systemd-networkd).
`waagent_diagnosis`: the agent's health from what the diagnose playbook read; every finding names its check:
service (the agent is installed but not running: the restart step), conf (waagent.conf keys: the config step),
restart (the agent runs with an older waagent.conf: the restart step), installed, extension, selinux, dhcp
(manual steps).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

WAAGENT_VERSION = re.compile(r"WALinuxAgent\s*-\s*([0-9][0-9.]*)")
GOAL_STATE_VERSION = re.compile(r"Goal state agent:\s*([0-9][0-9.]*)")
AVC_WAAGENT = re.compile(r"waagent|/var/lib/waagent|walinuxagent", re.I)


def key_values(text: str) -> dict[str, str]:
    if not isinstance(text, str):
        raise AnsibleFilterError(f"key_values expects text, got {type(text).__name__}")
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _ifupdown(path: str, text: str) -> list[dict[str, Any]]:
    found = re.findall(r"^\s*iface\s+(\S+)\s+inet\s+(\S+)", text, re.M)
    return [{"interface": i, "dhcp": m == "dhcp", "file": path} for i, m in found if i != "lo"]


def _netplan(path: str, text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    section = iface = None  # indentation of `ethernets:` (or bonds, ...) and of its interface names
    for line in text.splitlines():
        content = line.split("#", 1)[0].rstrip()
        if not content.strip():
            continue
        depth = len(content) - len(content.lstrip())
        key = content.strip()
        if section is not None and depth <= section:
            section = iface = None
        if key.endswith(":") and key[:-1] in ("ethernets", "bonds", "bridges", "vlans", "wifis"):
            section, iface = depth, None
            continue
        if section is None:
            continue
        if iface is None or depth == iface:
            if key.endswith(":"):
                iface = depth
                out.append({"interface": key[:-1].strip("\"'"), "dhcp": False, "file": path})
            continue
        if out and re.fullmatch(r"dhcp4\s*:\s*(true|yes|on)", key, re.I):
            out[-1]["dhcp"] = True
    return out


def _ifcfg(path: str, text: str) -> list[dict[str, Any]]:
    values = {k.upper(): v.strip("\"'") for k, v in key_values(text).items()}
    name = values.get("DEVICE") or path.rsplit("ifcfg-", 1)[-1]
    if name == "lo":
        return []
    return [{"interface": name, "dhcp": values.get("BOOTPROTO", "none").lower() in ("dhcp", "bootp"), "file": path}]


def _keyfile(path: str, text: str) -> list[dict[str, Any]]:
    section, values = "", {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line:
            k, v = line.split("=", 1)
            values[f"{section}.{k.strip()}"] = v.strip()
    name = values.get("connection.interface-name") or values.get("connection.id") or path.rsplit("/", 1)[-1]
    return [{"interface": name, "dhcp": values.get("ipv4.method", "auto") == "auto", "file": path}]


def _networkd(path: str, text: str) -> list[dict[str, Any]]:
    name = (re.search(r"^\s*Name\s*=\s*(\S+)", text, re.M) or [None, path.rsplit("/", 1)[-1]])[1]
    dhcp = re.search(r"^\s*DHCP\s*=\s*(yes|true|ipv4|both)\s*$", text, re.M | re.I) is not None
    return [{"interface": name, "dhcp": dhcp, "file": path}]


def dhcp_interfaces(files: Mapping[str, str]) -> list[dict[str, Any]]:
    if not isinstance(files, Mapping):
        raise AnsibleFilterError("dhcp_interfaces expects a mapping of path -> text")
    out: list[dict[str, Any]] = []
    for path, text in sorted(files.items()):
        if path.startswith("/etc/netplan/"):
            out += _netplan(path, text)
        elif path.startswith("/etc/network/"):
            out += _ifupdown(path, text)
        elif "/ifcfg-" in path:
            out += _ifcfg(path, text)
        elif path.startswith("/etc/NetworkManager/"):
            out += _keyfile(path, text)
        elif path.endswith(".network"):
            out += _networkd(path, text)
    return out


def slurped_texts(results: Any) -> dict[str, str]:
    """The loop results of ansible.builtin.slurp as {path: text}."""
    out: dict[str, str] = {}
    for r in results or []:
        if isinstance(r, Mapping) and r.get("content") is not None:
            out[str(r.get("source") or r.get("item"))] = base64.b64decode(r["content"]).decode("utf-8", "replace")
    return out


def waagent_diagnosis(service: str, services: Mapping[str, Any], checks: list[str], *,
                      installed: bool, version_text: str = "", conf_text: str | None = None,
                      conf_expected: Mapping[str, str] | None = None, restart: Mapping[str, Any] | None = None,
                      extension_dirs: list[str] | None = None, selinux_mode: str | None = None,
                      selinux_denials: str | None = None, dhcp: list[Mapping[str, Any]] | None = None
                      ) -> dict[str, Any]:
    """`checks` picks what counts for health: service, conf, restart, extension, selinux, dhcp."""
    findings: list[dict[str, Any]] = []
    entry = services.get(service) or services.get(f"{service}.service") or {}
    state = entry.get("state") or ("not installed" if not installed else "unknown")
    running = state == "running"
    version = (WAAGENT_VERSION.search(version_text or "") or [None, None])[1]
    goal = (GOAL_STATE_VERSION.search(version_text or "") or [None, None])[1]
    agent = {"service": service, "installed": installed, "state": state, "version": version,
             "goal_state_version": goal}
    if not installed:
        findings.append({"check": "installed", "message": f"the Azure Linux Agent is not installed ({service}): "
                                                          "install it from the distribution repository"})
    elif "service" in checks and not running:
        findings.append({"check": "service", "message": f"{service} is {state}: start it"})
    conf = key_values(conf_text) if conf_text is not None else None
    if "conf" in checks and installed:
        if conf is None:
            findings.append({"check": "conf", "message": "/etc/waagent.conf is missing"})
        else:
            for key, want in (conf_expected or {}).items():
                have = conf.get(key)
                if have is None or have.lower() != str(want).lower():
                    findings.append({"check": "conf", "key": key, "expected": str(want), "actual": have,
                                     "message": f"/etc/waagent.conf: {key}={have if have is not None else '(unset)'}"
                                                f", expected {key}={want}"})
    if "restart" in checks and running and restart and restart.get("conf_mtime") and restart.get("started"):
        if int(restart["conf_mtime"]) > int(restart["started"]):
            findings.append({"check": "restart", "message": f"{service} runs with an older /etc/waagent.conf (changed "
                                                            "after the agent started): restart it"})
    if "extension" in checks and not extension_dirs:
        findings.append({"check": "extension", "message": "the backup extension is not installed (no /var/lib/waagent/"
                                                          "Microsoft.Azure.RecoveryServices.VMSnapshotLinux-*)"})
    selinux = {"mode": selinux_mode or "unknown", "waagent_denials": []}
    if "selinux" in checks:
        if selinux_mode is None:
            selinux["note"] = "no SELinux tools (getenforce) on the host: checked by hand if SELinux is used"
        elif selinux_mode.lower() == "enforcing":
            denials = [line for line in (selinux_denials or "").splitlines() if AVC_WAAGENT.search(line)
                       and "avc:" in line.lower()]
            selinux["waagent_denials"] = denials[:20]
            if denials:
                findings.append({"check": "selinux", "message": f"SELinux is enforcing and denied the agent "
                                                                f"{len(denials)} time(s) (ausearch -m avc): exclude "
                                                                "/var/lib/waagent from the policy"})
            elif selinux_denials is None:
                findings.append({"check": "selinux", "message": "SELinux is enforcing and its audit log could not "
                                                                "be read (ausearch): check that /var/lib/waagent is "
                                                                "excluded from the policy"})
    interfaces = list(dhcp or [])
    if "dhcp" in checks:
        for item in interfaces:
            if not item["dhcp"]:
                findings.append({"check": "dhcp", "interface": item["interface"],
                                 "message": f"DHCP is disabled on {item['interface']} ({item['file']}): IaaS backup "
                                            "needs DHCP inside the guest; a static private IP is set on the NIC in "
                                            "Azure, with DHCP kept in the guest"})
    healthy = not findings
    summary = (f"{service} is running" + (f" (version {version})" if version else "")
               + ("; /etc/waagent.conf as expected" if "conf" in checks else "")
               + ("; the backup extension is installed" if "extension" in checks else "")
               + ("; DHCP in the guest" if "dhcp" in checks and interfaces else "")) if healthy else \
        "; ".join(f["message"] for f in findings)
    return {"healthy": healthy, "summary": summary, "findings": findings, "agent": agent,
            "conf": {k: (conf or {}).get(k) for k in (conf_expected or {})}, "extension": extension_dirs or [],
            "selinux": selinux, "dhcp": interfaces}


def vmsnapshot_diagnosis(folders: list[str], handler_states: Mapping[str, str],
                         statuses: Mapping[str, str]) -> dict[str, Any]:
    """The backup extension (VMSnapshotLinux) as the guest sees it, for ExtensionStuckInDeletionState.

    Healthy: no extension folder (the next backup installs it), or one folder whose handler state (config/
    HandlerState) is Installed or Enabled and whose last status (status/<n>.status) is not an error.
    handler_states / statuses: {folder: text of the file}."""
    findings: list[dict[str, Any]] = []
    report = []
    for folder in sorted(folders):
        state = (handler_states.get(folder) or "").strip() or None
        status = None
        text = statuses.get(folder)
        if text:
            try:
                doc = json.loads(text)
                status = (doc[0] if isinstance(doc, list) else doc)["status"]["status"]
            except (ValueError, KeyError, IndexError, TypeError):
                status = "unreadable"
        report.append({"folder": folder, "handler_state": state, "status": status})
        if state not in ("Installed", "Enabled"):
            findings.append({"check": "handler-state", "folder": folder,
                             "message": f"{folder}: handler state {state or '(none)'}, not Installed or Enabled"})
        if status in ("error", "unreadable"):
            findings.append({"check": "status", "folder": folder,
                             "message": f"{folder}: the last extension status is {status}"})
    if len(report) > 1:
        findings.append({"check": "versions", "message": f"{len(report)} VMSnapshotLinux folders: "
                                                          + ", ".join(r["folder"] for r in report)})
    healthy = not findings
    if not report:
        summary = "no VMSnapshotLinux extension folder: the next backup installs the extension"
    elif healthy:
        summary = f"the backup extension is in a consistent state ({report[0]['folder']})"
    else:
        summary = "; ".join(f["message"] for f in findings)
    return {"healthy": healthy, "summary": summary, "findings": findings, "folders": report}


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"key_values": key_values, "dhcp_interfaces": dhcp_interfaces, "waagent_diagnosis": waagent_diagnosis,
                "slurped_texts": slurped_texts, "vmsnapshot_diagnosis": vmsnapshot_diagnosis}

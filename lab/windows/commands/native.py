"""Native executables: vssadmin, net, msdtc, msiexec, reg, icacls."""

from __future__ import annotations

import re
from typing import Any

from lab.windows import filestore, regstore, sc_exe, service_ops, vss
from lab.windows.commands.base import NotSimulated, Outcome, tokens, unquote
from lab.windows.defaults import DEFAULT_MSDTC_CONFIG, service_entry

NET_HELP = "\r\n\r\nMore help is available by typing NET HELPMSG {code}.\r\n"
SUCCESS = "The operation completed successfully.\r\n"


def _vssadmin(host: Any, match: re.Match[str]) -> Outcome:
    return Outcome(stdout=vss.list_writers(host.state))


def _net(host: Any, match: re.Match[str]) -> Outcome:
    action, name = match["action"].lower(), unquote(match["name"])
    state = host.state
    service = service_ops.find(state, name)
    if service is None:
        return Outcome(stderr="The service name is invalid." + NET_HELP.format(code=2185), rc=2)
    display = service["display_name"]
    try:
        if action == "stop":
            if service["state"] != "running":
                return Outcome(
                    stderr=f"The {display} service is not started." + NET_HELP.format(code=3521), rc=2
                )
            service_ops.stop(state, service, force=bool(match["yes"]), via="net stop")
            return Outcome(
                stdout=f"The {display} service is stopping.\r\n"
                f"The {display} service was stopped successfully.\r\n\r\n"
            )
        if service["state"] == "running":
            return Outcome(
                stderr="The requested service has already been started." + NET_HELP.format(code=2182), rc=2
            )
        service_ops.start(state, service, via="net start")
        return Outcome(
            stdout=f"The {display} service is starting.\r\n"
            f"The {display} service was started successfully.\r\n\r\n"
        )
    except service_ops.ServiceError as exc:
        return Outcome(stderr=f"System error 1058 has occurred.\r\n\r\n{exc}\r\n", rc=2)


def _msdtc(host: Any, match: re.Match[str]) -> Outcome:
    state = host.state
    if match["action"].lower() == "uninstall":
        service = service_ops.find(state, "MSDTC")
        if service is not None:
            service_ops.stop(state, service, force=True, via="msdtc -uninstall")
            del state["services"][service["name"]]
        state["msdtc"]["installed"] = False
        return Outcome()
    if service_ops.find(state, "MSDTC") is None:
        state["services"]["MSDTC"] = service_entry(
            "MSDTC",
            {
                "display_name": "Distributed Transaction Coordinator",
                "start_mode": "manual",
                "state": "stopped",
                "username": service_ops.NETWORK_SERVICE,
                "path": "C:\\Windows\\System32\\msdtc.exe",
            },
        )
    state["msdtc"] = {"installed": True, "config": dict(DEFAULT_MSDTC_CONFIG)}
    return Outcome()


def _msiexec(host: Any, match: re.Match[str]) -> Outcome:
    host.state["msi_registered"] = match["action"].lower() in ("register", "regserver")
    return Outcome()


def _reg(host: Any, match: re.Match[str]) -> Outcome:
    words = tokens(match["rest"])
    if not words:
        raise NotSimulated(match.group(0))
    key, options = words[0], words[1:]
    flags: dict[str, str | bool] = {}
    index = 0
    while index < len(options):
        option = options[index].lower()
        if option in ("/v", "/t", "/d") and index + 1 < len(options):
            flags[option] = options[index + 1]
            index += 2
        elif option in ("/f", "/ve"):
            flags[option] = True
            index += 1
        else:
            raise NotSimulated(f"reg option {options[index]} in: {match.group(0)}")
    state = host.state
    name = "" if flags.get("/ve") else str(flags.get("/v", ""))
    if match["verb"].lower() == "query":
        if not regstore.key_exists(state, key):
            return Outcome(
                stderr="ERROR: The system was unable to find the specified registry key or value.\r\n", rc=1
            )
        items = regstore.values(state, key).items()
        if "/v" in flags or "/ve" in flags:
            found = regstore.get_value(state, key, name)
            if found is None:
                return Outcome(
                    stderr="ERROR: The system was unable to find the specified registry key or value.\r\n",
                    rc=1,
                )
            items = [found]  # type: ignore[assignment]
        lines = ["", _reg_display_key(key)]
        for value_name, value in items:
            lines.append(
                f"    {value_name or '(Default)'}    {regstore.REG_TYPES[value['type']]}    "
                f"{_reg_display_data(value)}"
            )
        return Outcome(stdout="\r\n".join(lines + ["", ""]))
    kind_name = str(flags.get("/t", "REG_SZ")).upper()
    if kind_name not in regstore.TYPE_FROM_REG:
        raise NotSimulated(f"reg add type {kind_name}")
    kind = regstore.TYPE_FROM_REG[kind_name]
    raw = str(flags.get("/d", ""))
    data: Any = int(raw, 0) if kind in ("dword", "qword") else raw
    if "/v" not in flags and "/ve" not in flags:
        regstore.create_key(state, key)
        return Outcome(stdout=SUCCESS)
    if regstore.get_value(state, key, name) is not None and not flags.get("/f"):
        return Outcome(
            stderr=f"Value {name} exists, overwrite(Yes/No)? ERROR: no answer (use /f in a "
            "non-interactive session)\r\n",
            rc=1,
        )
    regstore.set_value(state, key, name, kind, data)
    return Outcome(stdout=SUCCESS)


def _reg_display_key(key: str) -> str:
    norm = regstore.normalize(key)
    hive, _, rest = norm.partition(":\\")
    long_names = {v: k for k, v in regstore.HIVES.items()}
    return f"{long_names.get(hive, hive)}\\{rest}"


def _reg_display_data(value: dict[str, Any]) -> str:
    if value["type"] in ("dword", "qword"):
        return hex(int(value["data"]))
    if value["type"] == "multistring":
        return "\\0".join(value["data"])
    return str(value["data"])


def _icacls(host: Any, match: re.Match[str]) -> Outcome:
    path = unquote(match["path"])
    found = filestore.find(host.state, path)
    if found is None:
        return Outcome(
            stdout="Successfully processed 0 files; Failed processing 1 files\r\n",
            stderr=f"{path}: The system cannot find the file specified.\r\n",
            rc=2,
        )
    rules = filestore.acl(dict(found[1]))
    pad = " " * (len(path) + 1)
    lines = [f"{path} {filestore.icacls_line(rules[0])}" if rules else path]
    lines += [pad + filestore.icacls_line(rule) for rule in rules[1:]]
    lines += ["", "Successfully processed 1 files; Failed processing 0 files", ""]
    return Outcome(stdout="\r\n".join(lines))


NATIVE: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^vssadmin(?:\.exe)?\s+list\s+writers$", re.I), _vssadmin),
    (
        re.compile(
            r"^net(?:\.exe)?\s+(?P<action>stop|start)\s+(?P<name>\"[^\"]+\"|'[^']+'|\S+)(?P<yes>\s+/y)?$",
            re.I,
        ),
        _net,
    ),
    (re.compile(r"^msdtc(?:\.exe)?\s+-(?P<action>uninstall|install)$", re.I), _msdtc),
    (
        re.compile(r"^msiexec(?:\.exe)?\s+/(?P<action>unregister|register|unregserver|regserver)$", re.I),
        _msiexec,
    ),
    (re.compile(r"^reg(?:\.exe)?\s+(?P<verb>add|query)\s+(?P<rest>.+)$", re.I), _reg),
    (re.compile(r"^icacls(?:\.exe)?\s+(?P<path>\"[^\"]+\"|'[^']+'|\S+)$", re.I), _icacls),
    (sc_exe.PATTERN, sc_exe.triggerinfo),
]

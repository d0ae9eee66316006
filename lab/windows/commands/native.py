"""Native executables: vssadmin, net, msdtc, msiexec, reg, icacls, and sc (lab.windows.sc_exe), registered with the
PowerShell subset's `native` decorator; win_command calls them directly, PowerShell scripts through the evaluator."""

from __future__ import annotations

from typing import Any

from lab.windows import filestore, regstore, sc_exe, service_ops, vss
from lab.windows.defaults import DEFAULT_MSDTC_CONFIG, service_entry
from lab.windows.powershell.commands import NativeCall, NativeResult, native
from lab.windows.powershell.errors import NotSimulated

__all__ = ["sc_exe"]  # its import registers sc.exe
NET_HELP = "\r\n\r\nMore help is available by typing NET HELPMSG {code}.\r\n"
SUCCESS = "The operation completed successfully.\r\n"


def _words(call: NativeCall) -> list[str]:
    return [a.lower() for a in call.argv]


@native("vssadmin")
def vssadmin(call: NativeCall) -> NativeResult:
    if _words(call) != ["list", "writers"]:
        raise NotSimulated(call.line)
    return NativeResult(stdout=vss.list_writers(call.state))


@native("net")
def net(call: NativeCall) -> NativeResult:
    words = _words(call)
    if len(words) not in (2, 3) or words[0] not in ("stop", "start") or (len(words) == 3 and words[2] != "/y"):
        raise NotSimulated(call.line)
    action, name = words[0], call.argv[1]
    state = call.state
    service = service_ops.find(state, name)
    if service is None:
        return NativeResult(stderr="The service name is invalid." + NET_HELP.format(code=2185), rc=2)
    display = service["display_name"]
    try:
        if action == "stop":
            if service["state"] != "running":
                return NativeResult(
                    stderr=f"The {display} service is not started." + NET_HELP.format(code=3521), rc=2
                )
            service_ops.stop(state, service, force=len(words) == 3, via="net stop")
            return NativeResult(
                stdout=f"The {display} service is stopping.\r\n"
                f"The {display} service was stopped successfully.\r\n\r\n"
            )
        if service["state"] == "running":
            return NativeResult(
                stderr="The requested service has already been started." + NET_HELP.format(code=2182), rc=2
            )
        service_ops.start(state, service, via="net start")
        return NativeResult(
            stdout=f"The {display} service is starting.\r\n"
            f"The {display} service was started successfully.\r\n\r\n"
        )
    except service_ops.ServiceError as exc:
        return NativeResult(stderr=f"System error 1058 has occurred.\r\n\r\n{exc}\r\n", rc=2)


@native("msdtc")
def msdtc(call: NativeCall) -> NativeResult:
    words = _words(call)
    if words not in (["-uninstall"], ["-install"]):
        raise NotSimulated(call.line)
    state = call.state
    if words == ["-uninstall"]:
        service = service_ops.find(state, "MSDTC")
        if service is not None:
            service_ops.stop(state, service, force=True, via="msdtc -uninstall")
            del state["services"][service["name"]]
        state["msdtc"]["installed"] = False
        return NativeResult()
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
    return NativeResult()


@native("msiexec")
def msiexec(call: NativeCall) -> NativeResult:
    words = _words(call)
    if len(words) != 1 or words[0] not in ("/unregister", "/register", "/unregserver", "/regserver"):
        raise NotSimulated(call.line)
    call.state["msi_registered"] = words[0] in ("/register", "/regserver")
    return NativeResult()


@native("reg")
def reg(call: NativeCall) -> NativeResult:
    if len(call.argv) < 2 or call.argv[0].lower() not in ("add", "query"):
        raise NotSimulated(call.line)
    verb, key, options = call.argv[0].lower(), call.argv[1], call.argv[2:]
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
            raise NotSimulated(f"reg option {options[index]} in: {call.line}")
    state = call.state
    name = "" if flags.get("/ve") else str(flags.get("/v", ""))
    missing = "ERROR: The system was unable to find the specified registry key or value.\r\n"
    if verb == "query":
        if not regstore.key_exists(state, key):
            return NativeResult(stderr=missing, rc=1)
        items: Any = regstore.values(state, key).items()
        if "/v" in flags or "/ve" in flags:
            found = regstore.get_value(state, key, name)
            if found is None:
                return NativeResult(stderr=missing, rc=1)
            items = [found]
        lines = ["", _reg_display_key(key)]
        for value_name, value in items:
            lines.append(
                f"    {value_name or '(Default)'}    {regstore.REG_TYPES[value['type']]}    "
                f"{_reg_display_data(value)}"
            )
        return NativeResult(stdout="\r\n".join(lines + ["", ""]))
    kind_name = str(flags.get("/t", "REG_SZ")).upper()
    if kind_name not in regstore.TYPE_FROM_REG:
        raise NotSimulated(f"reg add type {kind_name}")
    kind = regstore.TYPE_FROM_REG[kind_name]
    raw = str(flags.get("/d", ""))
    data: Any = int(raw, 0) if kind in ("dword", "qword") else raw
    if "/v" not in flags and "/ve" not in flags:
        regstore.create_key(state, key)
        return NativeResult(stdout=SUCCESS)
    if regstore.get_value(state, key, name) is not None and not flags.get("/f"):
        return NativeResult(
            stderr=f"Value {name} exists, overwrite(Yes/No)? ERROR: no answer (use /f in a "
            "non-interactive session)\r\n",
            rc=1,
        )
    regstore.set_value(state, key, name, kind, data)
    return NativeResult(stdout=SUCCESS)


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


@native("icacls")
def icacls(call: NativeCall) -> NativeResult:
    """`icacls <path>`: the DACL as stored (explicit ACEs, then inherited ones), one line per ACE."""
    if len(call.argv) != 1 or call.argv[0].startswith("/"):
        raise NotSimulated(f"{call.line} (only `icacls <path>` is simulated)")
    path = call.argv[0]
    if path.startswith("\\\\") and filestore.local_share(path) is None:
        raise NotSimulated(f"icacls on network paths ({path})")
    if filestore.find(call.state, path) is None:
        return NativeResult(
            stdout="Successfully processed 0 files; Failed processing 1 files\r\n",
            stderr=f"{path}: The system cannot find the file specified.\r\n",
            rc=2,
        )
    entries = filestore.icacls_listing(call.state, path)
    pad = " " * (len(path) + 1)
    lines = [f"{path} {entries[0]}" if entries else path]
    lines += [pad + entry for entry in entries[1:]]
    lines += ["", "Successfully processed 1 files; Failed processing 0 files", ""]
    return NativeResult(stdout="\r\n".join(lines))

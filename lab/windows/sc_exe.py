"""`sc.exe triggerinfo <service> <trigger>...`: service start/stop triggers (ChangeServiceConfig2
SERVICE_CONFIG_TRIGGER_INFO). The triggers replace the service's current ones; `delete` removes them all.
win_service_info reads them back (`triggers`).

Trigger forms (sc.exe help): start/device/UUID/HwId..., start|stop/custom/UUID/hexdata...,
start|stop/strcustom/UUID/string..., start/networkon, stop/networkoff, start/domainjoin, stop/domainleave,
start/portopen/port;protocol;imagepath;servicename, stop/portclose/..., start/machinepolicy, start/userpolicy,
start/rpcinterface/UUID, start/namedpipe/pipename. Other sc.exe verbs are not simulated.
"""

from __future__ import annotations

import re
from typing import Any

from lab.windows import service_ops
from lab.windows.powershell.commands import NativeCall, NativeResult, native
from lab.windows.powershell.errors import NotSimulated

NAMED_PIPE = "1f81d131-3fac-4537-9e0c-7e7b0c2f4b55"
RPC_INTERFACE = "bc90d167-9470-4139-a9ba-be0bbbf5b74d"
DOMAIN_JOIN = "1ce20aba-9851-4421-9430-1ddeb766e809"
DOMAIN_LEAVE = "ddaf516e-58c2-4866-9574-c3b615d42ea1"
PORT_OPEN = "b7569e07-8421-4ee0-ad10-86915afdad09"
PORT_CLOSE = "a144ed38-8e12-4de4-9d96-e64740b1a524"
MACHINE_POLICY = "659fcae6-5bdb-4da9-b1ff-ca2a178d46e0"
USER_POLICY = "54fb46c8-f089-464c-b1fd-59d1b62c3b50"
FIRST_IP = "4f27f2de-14e2-430b-a549-7cd48cbc8245"
LAST_IP = "cc4ba62a-162e-4648-847a-b6bdf993e335"
GUID = re.compile(r"^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$", re.I)
# form -> (allowed actions, trigger type, fixed sub type GUID or None when the UUID is an argument, data kind)
FORMS: dict[str, tuple[tuple[str, ...], str, str | None, str | None]] = {
    "device": (("start",), "device_interface_arrival", None, "string"),
    "custom": (("start", "stop"), "custom", None, "binary"),
    "strcustom": (("start", "stop"), "custom", None, "string"),
    "networkon": (("start",), "ip_address_availability", FIRST_IP, None),
    "networkoff": (("stop",), "ip_address_availability", LAST_IP, None),
    "domainjoin": (("start", "stop"), "domain_join", DOMAIN_JOIN, None),
    "domainleave": (("start", "stop"), "domain_join", DOMAIN_LEAVE, None),
    "portopen": (("start", "stop"), "firewall_port_event", PORT_OPEN, "multistring"),
    "portclose": (("start", "stop"), "firewall_port_event", PORT_CLOSE, "multistring"),
    "machinepolicy": (("start", "stop"), "group_policy", MACHINE_POLICY, None),
    "userpolicy": (("start", "stop"), "group_policy", USER_POLICY, None),
    "rpcinterface": (("start",), "network_endpoint", RPC_INTERFACE, "string"),
    "namedpipe": (("start",), "network_endpoint", NAMED_PIPE, "string"),
}
INVALID = "[SC] ChangeServiceConfig2 FAILED 87:\r\n\r\nThe parameter is incorrect.\r\n\r\n"


@native("sc")
def sc(call: NativeCall) -> NativeResult:
    """`sc.exe triggerinfo <service> <trigger>...`; other verbs are not simulated. From PowerShell, `sc` is the
    Set-Content alias: only `sc.exe` (or a path) reaches this executable."""
    if len(call.argv) < 2 or call.argv[0].lower() != "triggerinfo":
        raise NotSimulated(f"{call.line} (only `sc.exe triggerinfo <service> <trigger>...` is simulated)")
    args = call.argv[1:]
    service = service_ops.find(call.state, args[0])
    if service is None or service["name"].lower() != args[0].lower():
        return NativeResult(
            stdout="[SC] OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed "
            "service.\r\n\r\n",
            rc=1060,
        )
    triggers = []
    for arg in args[1:]:
        if arg.lower() == "delete":
            triggers = []
            continue
        trigger = _trigger(arg)
        if trigger is None:
            return NativeResult(stdout=INVALID, rc=87)
        triggers.append(trigger)
    service["triggers"] = triggers
    return NativeResult(stdout="[SC] ChangeServiceConfig2 SUCCESS\r\n")


def _trigger(arg: str) -> dict[str, Any] | None:
    parts = arg.split("/")
    if len(parts) < 2 or parts[1].lower() not in FORMS:
        return None
    action, form = parts[0].lower(), parts[1].lower()
    actions, kind, sub_type, data_kind = FORMS[form]
    if action not in actions:
        return None
    rest = parts[2:]
    if sub_type is None:
        guid = GUID.match(rest[0]) if rest else None
        if guid is None:
            return None
        sub_type, rest = guid.group(1).lower(), rest[1:]
    if data_kind is None and rest:
        return None
    if data_kind == "binary" and not all(re.fullmatch(r"(?:[0-9a-fA-F]{2})+", item) for item in rest):
        return None
    if data_kind == "multistring":
        items = [{"type": "string", "data": "/".join(rest).split(";")}] if rest else []
    else:
        items = [{"type": data_kind, "data": item.lower() if data_kind == "binary" else item} for item in rest]
    return {
        "action": "start_service" if action == "start" else "stop_service",
        "type": kind,
        "sub_type_guid": sub_type,
        "data_items": items,
    }

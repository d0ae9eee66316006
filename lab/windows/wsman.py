"""WS-Management SOAP parsing and reply rendering (the subset pywinrm and Ansible's winrm plugin use)."""

from __future__ import annotations

import base64
import dataclasses
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = f"{SHELL_URI}/Command"
ACTION_SEND = f"{SHELL_URI}/Send"
ACTION_RECEIVE = f"{SHELL_URI}/Receive"
ACTION_SIGNAL = f"{SHELL_URI}/Signal"
STATE_DONE = f"{SHELL_URI}/CommandState/Done"
STATE_RUNNING = f"{SHELL_URI}/CommandState/Running"
OPERATION_TIMEOUT_CODE = 2150858793


class WsmanError(ValueError):
    """A request the simulator cannot understand."""


@dataclasses.dataclass
class Request:
    action: str
    message_id: str
    shell_id: str | None
    body: ET.Element
    command_id: str | None = None
    command: str = ""
    arguments: list[str] = dataclasses.field(default_factory=list)
    stdin: bytes = b""
    stdin_end: bool = False


def _text(element: ET.Element | None) -> str:
    return (element.text or "") if element is not None else ""


def parse_request(raw: bytes) -> Request:
    """Parse one SOAP envelope into the fields the simulator needs."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise WsmanError(f"request is not XML: {exc}") from exc
    header = root.find("env:Header", NS)
    body = root.find("env:Body", NS)
    if header is None or body is None:
        raise WsmanError("SOAP envelope without Header or Body")
    action = _text(header.find("a:Action", NS)).strip()
    message_id = _text(header.find("a:MessageID", NS)).strip()
    shell_id = None
    for selector in header.findall("w:SelectorSet/w:Selector", NS):
        if selector.get("Name") == "ShellId":
            shell_id = _text(selector).strip()
    request = Request(action=action, message_id=message_id, shell_id=shell_id, body=body)
    if action == ACTION_COMMAND:
        line = body.find("rsp:CommandLine", NS)
        if line is None:
            raise WsmanError("Command without rsp:CommandLine")
        request.command = _text(line.find("rsp:Command", NS))
        request.arguments = [_text(arg) for arg in line.findall("rsp:Arguments", NS)]
    elif action == ACTION_SEND:
        chunks = []
        for stream in body.findall("rsp:Send/rsp:Stream", NS):
            request.command_id = stream.get("CommandId")
            if stream.text:
                chunks.append(base64.b64decode(stream.text))
            if stream.get("End", "").lower() == "true":
                request.stdin_end = True
        request.stdin = b"".join(chunks)
    elif action == ACTION_RECEIVE:
        desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
        request.command_id = desired.get("CommandId") if desired is not None else None
    elif action == ACTION_SIGNAL:
        signal = body.find("rsp:Signal", NS)
        request.command_id = signal.get("CommandId") if signal is not None else None
    return request


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    message_id = f"uuid:{uuid.uuid4()}".upper()
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["env"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}"'
        f' xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}"'
        ' xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def create_response(request: Request, shell_id: str, endpoint: str) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(endpoint)}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL_URI}/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters>"
        "</x:ResourceCreated>"
        f'<rsp:Shell xmlns:rsp="{NS["rsp"]}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
        "<rsp:ResourceUri>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</rsp:ResourceUri>"
        "<rsp:State>Connected</rsp:State></rsp:Shell>"
    )
    return _envelope(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", request.message_id, body
    )


def command_response(request: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return _envelope(f"{SHELL_URI}/CommandResponse", request.message_id, body)


def send_response(request: Request) -> bytes:
    return _envelope(f"{SHELL_URI}/SendResponse", request.message_id, "<rsp:SendResponse/>")


def receive_response(
    request: Request, command_id: str, stdout: bytes, stderr: bytes, exit_code: int
) -> bytes:
    streams = []
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            encoded = base64.b64encode(data).decode("ascii")
            streams.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}">{encoded}</rsp:Stream>')
        streams.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>')
    body = (
        "<rsp:ReceiveResponse>"
        + "".join(streams)
        + f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}">'
        f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        "</rsp:ReceiveResponse>"
    )
    return _envelope(f"{SHELL_URI}/ReceiveResponse", request.message_id, body)


def signal_response(request: Request) -> bytes:
    return _envelope(f"{SHELL_URI}/SignalResponse", request.message_id, "<rsp:SignalResponse/>")


def delete_response(request: Request) -> bytes:
    return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", request.message_id, "")


def fault_response(relates_to: str, reason: str, wsman_code: int = 2150858778) -> bytes:
    """A SOAP 1.2 fault with a WSManFault detail (pywinrm raises WSManFaultError from it)."""
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
        "<s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"'
        f' Code="{wsman_code}" Machine="localhost"><f:Message>{escape(reason)}</f:Message>'
        "</f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)

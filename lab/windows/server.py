"""HTTP front end: one WS-Management listener per simulated host, all in one process."""

from __future__ import annotations

import base64
import hmac
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.windows import wsman
from lab.windows.host import SimulatedHost
from lab.windows.payload import PayloadError, decode

log = logging.getLogger("lab.windows")

DEFAULT_USER = "labadmin"
READ_TIMEOUT_SEC = 30
OPERATION_TIMEOUT_SEC = 20


class _Command:
    def __init__(self, command: str, arguments: list[str]) -> None:
        self.command = command
        self.arguments = arguments
        self.stdin = bytearray()
        self.result: tuple[bytes, bytes, int] | None = None


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], host: SimulatedHost, stopping: threading.Event) -> None:
        super().__init__(address, _Handler)
        self.host = host
        self.stopping = stopping
        self.shells: dict[str, dict[str, _Command]] = {}
        self.shells_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle's algorithm on, the body waits for the client's delayed ACK
    # (40 ms on Linux) on every WinRM message. Windows' HTTP.sys answers without that delay.
    disable_nagle_algorithm = True
    server: _Listener

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.server.host.name, format % args)

    def _reply(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/soap+xml;charset=UTF-8",
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. read timeout fault)
            self.close_connection = True

    def _authorised(self) -> bool:
        host = self.server.host
        if host.faults.get("auth_failure"):
            return False
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), host.user.encode()) and hmac.compare_digest(
            password.encode(), host.password.encode()
        )

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/wsman":
            self._reply(404, b"not found", "text/plain")
            return
        if not self._authorised():
            self._reply(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        try:
            request = wsman.parse_request(raw)
        except wsman.WsmanError as exc:
            self._reply(400, str(exc).encode(), "text/plain")
            return
        try:
            self._dispatch(request)
        except _Replied:
            pass
        except _Dropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _dispatch(self, request: wsman.Request) -> None:
        server = self.server
        if request.action == wsman.ACTION_CREATE:
            shell_id = str(uuid.uuid4()).upper()
            with server.shells_lock:
                server.shells[shell_id] = {}
            endpoint = f"http://{server.server_address[0]}:{server.server_address[1]}/wsman"
            self._reply(200, wsman.create_response(request, shell_id, endpoint))
            return
        shell = server.shells.get(request.shell_id or "")
        if shell is None:
            self._reply(500, wsman.fault_response(request.message_id, f"unknown shell {request.shell_id}"))
            return
        if request.action == wsman.ACTION_DELETE:
            with server.shells_lock:
                server.shells.pop(request.shell_id or "", None)
            self._reply(200, wsman.delete_response(request))
        elif request.action == wsman.ACTION_COMMAND:
            command_id = str(uuid.uuid4()).upper()
            shell[command_id] = _Command(request.command, request.arguments)
            self._reply(200, wsman.command_response(request, command_id))
        elif request.action == wsman.ACTION_SEND:
            command = shell.get(request.command_id or "")
            if command is None:
                self._reply(
                    500, wsman.fault_response(request.message_id, f"unknown command {request.command_id}")
                )
                return
            command.stdin.extend(request.stdin)
            self._reply(200, wsman.send_response(request))
        elif request.action == wsman.ACTION_RECEIVE:
            command = shell.get(request.command_id or "")
            if command is None:
                self._reply(
                    500, wsman.fault_response(request.message_id, f"unknown command {request.command_id}")
                )
                return
            if command.result is None:
                command.result = self._run(command)
            stdout, stderr, rc = command.result
            self._reply(200, wsman.receive_response(request, request.command_id or "", stdout, stderr, rc))
        elif request.action == wsman.ACTION_SIGNAL:
            shell.pop(request.command_id or "", None)
            self._reply(200, wsman.signal_response(request))
        else:
            self._reply(
                500, wsman.fault_response(request.message_id, f"action not simulated: {request.action}")
            )

    def _run(self, command: _Command) -> tuple[bytes, bytes, int]:
        host = self.server.host
        try:
            invocation = decode(command.command, command.arguments, bytes(command.stdin))
        except PayloadError as exc:
            message = f"lab.windows simulator cannot decode the request: {exc}"
            return b"", message.encode(), 1
        self._apply_faults(invocation.name)
        return host.execute(invocation)

    def _apply_faults(self, name: str) -> None:
        faults = self.server.host.faults
        only = faults.get("modules")
        if only and name not in only:
            return
        delay = float(faults.get("delay_seconds") or 0)
        if delay > 0:
            self.server.stopping.wait(delay)
        if faults.get("http_500"):
            self._reply(500, b"Internal Server Error (simulated fault)", "text/plain")
            raise _Replied()
        if faults.get("drop_connection"):
            raise _Dropped()


class _Dropped(Exception):
    """No reply is sent: close the connection."""


class _Replied(Exception):
    """An error reply was already sent: keep the connection open, as HTTP.sys does after a 500, so the client's next
    message on it (Ansible cleans the command up in a `finally`) is answered rather than reset."""


class SimulatedWindowsServer:
    """Serve several simulated Windows hosts, each on its own listener thread (usable in-process in tests)."""

    def __init__(
        self,
        hosts: dict[str, dict[str, Any]],
        workdir: Path | None = None,
        password: str | None = None,
        user: str = DEFAULT_USER,
    ) -> None:
        self.stopping = threading.Event()
        self.hosts: dict[str, SimulatedHost] = {}
        for name, spec in hosts.items():
            host_password = spec.get("password") or password
            if not host_password:
                raise ValueError(f"host {name}: no password given")
            self.hosts[name] = SimulatedHost(
                name, spec, workdir=workdir, user=spec.get("user") or user, password=host_password
            )
        self._listeners: dict[str, _Listener] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> dict[str, dict[str, Any]]:
        for name, host in self.hosts.items():
            address = str(host.spec.get("address") or "127.0.0.1")
            listener = _Listener((address, int(host.spec.get("port") or 0)), host, self.stopping)
            self._listeners[name] = listener
            thread = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.2},
                name=f"winrm-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self.inventory()

    def inventory(self) -> dict[str, dict[str, Any]]:
        result = {}
        for name, listener in self._listeners.items():
            host = self.hosts[name]
            address, port = listener.server_address[:2]
            result[name] = {
                "ansible_host": address,
                "ansible_port": port,
                "ansible_connection": "winrm",
                "ansible_winrm_scheme": "http",
                "ansible_winrm_transport": "basic",
                "ansible_winrm_server_cert_validation": "ignore",
                "ansible_user": host.user,
                "ansible_password": host.password,
                "ansible_winrm_read_timeout_sec": int(host.spec.get("read_timeout_sec") or READ_TIMEOUT_SEC),
                "ansible_winrm_operation_timeout_sec": int(
                    host.spec.get("operation_timeout_sec") or OPERATION_TIMEOUT_SEC
                ),
            }
        return result

    def stop(self) -> None:
        self.stopping.set()
        for listener in self._listeners.values():
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners.clear()
        self._threads.clear()

    def wait(self, poll: float = 0.5) -> None:
        while not self.stopping.is_set():
            time.sleep(poll)

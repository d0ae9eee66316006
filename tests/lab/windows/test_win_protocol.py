"""WS-Management protocol through pywinrm directly (no Ansible start-up): shells, concurrency, auth."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError

from lab.windows.server import SimulatedWindowsServer

pytestmark = pytest.mark.filterwarnings(
    "ignore:'pywinrm' will use an environment variable:DeprecationWarning"
)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = SimulatedWindowsServer({"vm1": {}, "vm2": {"locale": "fr-FR"}}, workdir=tmp_path, password="pw")
    hostvars = srv.start()
    yield srv, hostvars
    srv.stop()


def session(hostvars: dict, password: str = "pw") -> winrm.Session:
    url = f"http://{hostvars['ansible_host']}:{hostvars['ansible_port']}/wsman"
    return winrm.Session(
        url,
        auth=(hostvars["ansible_user"], password),
        transport="basic",
        read_timeout_sec=10,
        operation_timeout_sec=5,
    )


def test_concurrent_commands_on_several_hosts(server) -> None:
    srv, hostvars = server

    def run(name: str) -> str:
        result = session(hostvars[name]).run_ps("vssadmin list writers")
        assert result.status_code == 0, result.std_err
        return result.std_out.decode()

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(run, ["vm1", "vm2"] * 10))
    assert all(o.startswith("vssadmin 1.1 - Volume Shadow") for o in outputs[::2])
    assert all("Nom de l'enregistreur" in o for o in outputs[1::2])
    assert len(srv.hosts["vm1"].state["commands_run"]) == 10


def test_unknown_raw_command_and_service_change(server) -> None:
    _, hostvars = server
    s = session(hostvars["vm1"])
    result = s.run_ps("Get-Process")
    assert result.status_code == 1 and b"command not simulated: Get-Process" in result.std_err
    assert s.run_ps("net stop VSS").status_code == 0
    assert b"[7] Failed" in s.run_ps("vssadmin list writers").std_out


def test_wrong_password_is_rejected(server) -> None:
    _, hostvars = server
    with pytest.raises((InvalidCredentialsError, WinRMError)):
        session(hostvars["vm1"], password="wrong").run_ps("vssadmin list writers")


def test_http_500_keeps_the_connection_for_the_next_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP.sys answers a 500 and keeps the connection: Ansible's cleanup in `finally` reuses it and must be answered,
    or its error replaces the 500 the task should report."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    srv = SimulatedWindowsServer({"vm1": {"faults": {"http_500": True}}}, workdir=tmp_path, password="pw")
    hostvars = srv.start()["vm1"]
    listener = srv._listeners["vm1"]
    accepted = []
    accept = listener.get_request

    def counting_accept():  # type: ignore[no-untyped-def]
        accepted.append(1)
        return accept()

    listener.get_request = counting_accept  # type: ignore[method-assign]
    try:
        protocol = session(hostvars).protocol
        shell_id = protocol.open_shell()
        command_id = protocol.run_command(shell_id, "powershell", ["-Command", "vssadmin list writers"])
        with pytest.raises(WinRMTransportError) as raised:
            protocol.get_command_output(shell_id, command_id)
        assert raised.value.code == 500
        protocol.cleanup_command(shell_id, command_id)
        assert len(accepted) == 1
        protocol.close_shell(shell_id)
    finally:
        srv.stop()

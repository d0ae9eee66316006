"""Fixtures for the lab's ARM endpoint: an in-process endpoint (HTTPS with a lab CA) and a socket guard.

No test here may reach a non-loopback address: `loopback_only` (autouse) makes any such connect() fail the test,
and the endpoint records the Host header of every request it answers.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.azure import tls
from lab.azure.server import ArmEndpoint
from lab.azure.spec import vm_id, vm_spec
from lab.azure.world import World

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "collections") not in sys.path:
    sys.path.append(str(ROOT / "collections"))

from ansible_collections.remediate.azure.plugins.module_utils import arm  # noqa: E402


class NonLoopbackConnect(AssertionError):
    pass


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Fail any connect() to an address that is not loopback (the SDK must only talk to the lab)."""
    attempts: list = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            attempts.append(address)
            raise NonLoopbackConnect(f"a test tried to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts
    assert not attempts, f"non-loopback connections attempted: {attempts}"


@dataclass
class ArmLab:
    world: World
    endpoint: ArmEndpoint
    ca: Path

    def settings(self, **overrides: Any) -> arm.Settings:
        w = self.world
        values = {"endpoint": self.endpoint.origin, "auth": "service_principal", "authority": self.endpoint.origin,
                  "tenant_id": w.tenant, "client_id": w.client_id, "client_secret": w.client_secret,
                  "ca_bundle": str(self.ca), "disable_instance_discovery": True, "retry_total": 3} | overrides
        return arm.Settings(**values).validated()

    def vm(self, host: str) -> arm.VmId:
        return arm.parse_vm_id(vm_id(self.world.vms[host]))

    def requests(self, op: str | None = None) -> list[dict]:
        return [r for r in self.world.requests if op is None or r["op"] == op]


@pytest.fixture
def arm_lab(tmp_path: Path):
    """factory(hosts) -> ArmLab: an in-process endpoint for the scenario hosts given ({name: spec})."""
    started: list[ArmEndpoint] = []

    def factory(hosts: dict[str, dict]) -> ArmLab:
        certs = tls.make(tmp_path)
        world = World([vm_spec(name, spec) for name, spec in hosts.items()], state_file=tmp_path / "state.json")
        endpoint = ArmEndpoint(world, cert=certs["cert"], key=certs["key"])
        endpoint.start()
        started.append(endpoint)
        return ArmLab(world, endpoint, certs["ca"])

    yield factory
    for endpoint in started:
        endpoint.stop()

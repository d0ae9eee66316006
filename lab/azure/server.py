"""The lab's ARM endpoint: HTTPS on loopback, a token endpoint for the service-principal flow, and the
control-plane operations the runbooks use. Anything else answers 501 `LabNotSimulated` naming the request.

Every request is recorded (method, path, Host header, status, operation) in memory and in requests.jsonl, so the
tests can assert that every call went to this loopback endpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lab.azure.spec import vm_id
from lab.azure.world import ArmFault, World, iso

log = logging.getLogger("lab.azure")

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RGP = SUB + r"/resourcegroups/(?P<rg>[^/]+)"
VMP = RGP + r"/providers/microsoft\.compute/virtualmachines/(?P<vm>[^/]+)"
VAULT = RGP + r"/providers/microsoft\.recoveryservices/vaults/(?P<vault>[^/]+)"
ITEM = (VAULT + r"/backupfabrics/(?P<fabric>[^/]+)/protectioncontainers/(?P<container>[^/]+)/protecteditems/"
        r"(?P<item>[^/]+)")
TOKEN_LIFETIME = 3599


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], lab: ArmEndpoint) -> None:
        super().__init__(address, _Handler)
        self.lab = lab
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:  # noqa: ANN001 - socketserver signature
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:  # noqa: ANN001 - socketserver signature
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the clients' keep-alive connections, so that no handler thread outlives the endpoint."""
        with self.connections_lock:
            for conn in list(self.open_connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug(format, *args)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.lab.handle(self.command, self.path, dict(self.headers.items()), body)
        data = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle  # noqa: N815 - stdlib names


def _error(status: int, code: str, message: str) -> tuple[int, dict, dict]:
    return status, {}, {"error": {"code": code, "message": message}}


class ArmEndpoint:
    """The endpoint and its routes; `world` holds the state."""

    def __init__(self, world: World, *, address: str = "127.0.0.1", port: int = 0, cert: Path | None = None,
                 key: Path | None = None, request_log: Path | None = None) -> None:
        self.world = world
        self.address = address
        self.port = port
        self.cert, self.key = cert, key
        self.request_log = request_log
        self.httpd: _Server | None = None
        self.thread: threading.Thread | None = None
        ext = VMP + r"/extensions/(?P<ext>[^/]+)"
        lock = RGP + r"/providers/microsoft\.authorization/locks"
        rpc = RGP + r"/providers/microsoft\.compute/restorepointcollections"
        table: list[tuple[str, str, str, Callable]] = [
            ("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", "token", self.token),
            ("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", "token", self.oidc),
            ("GET", VMP, "vm.get", self.vm_get),
            ("GET", VMP + "/instanceview", "vm.instance_view", self.vm_instance_view),
            ("GET", VMP + "/extensions", "extensions.list", self.extensions_list),
            ("GET", ext, "extension.get", self.extension_get),
            ("DELETE", ext, "extension.delete", self.extension_delete),
            ("GET", SUB + r"/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)",
             "compute.operation", self.compute_operation),
            ("GET", SUB + r"/resourcegroups", "resource_groups.list", self.resource_groups),
            ("GET", lock, "locks.list", self.locks_list),
            ("GET", lock + r"/(?P<lock>[^/]+)", "lock.get", self.lock_get),
            ("DELETE", lock + r"/(?P<lock>[^/]+)", "lock.delete", self.lock_delete),
            ("GET", rpc, "rpc.list", self.rpc_list),
            ("GET", rpc + r"/(?P<rpc>[^/]+)", "rpc.get", self.rpc_get),
            ("POST", SUB + r"/providers/microsoft\.recoveryservices/locations/(?P<loc>[^/]+)/backupstatus",
             "backup.status", self.backup_status),
            ("POST", ITEM + "/backup", "backup.trigger", self.backup_trigger),
            ("GET", VAULT + r"/backupoperations/(?P<op>[^/]+)", "backup.operation", self.backup_operation),
            ("GET", VAULT + r"/backupjobs/(?P<job>[^/]+)", "job.get", self.job_get),
        ]
        self.routes = [(method, re.compile(pattern, re.I), op, fn) for method, pattern, op, fn in table]

    # -- lifecycle ----------------------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"https://{self.address}:{self.port}"

    def start(self) -> str:
        self.httpd = _Server((self.address, self.port), self)
        self.port = self.httpd.server_address[1]
        if self.cert and self.key:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.cert, self.key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="lab-arm", daemon=True)
        self.thread.start()
        return self.origin

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.close_connections()
            self.httpd.server_close()
            self.httpd = None

    # -- request handling -------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        parts = urlsplit(target)
        path = unquote(parts.path).rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route, match = None, None
        for r_method, regex, op, fn in self.routes:
            m = regex.fullmatch(path)
            if m and r_method == method:
                route, match = (op, fn), m
                break
        op = route[0] if route else "unknown"
        with self.world.lock:
            self.world.advance()
            host = self._host_of(op, match, path, body) if match else None
            try:
                status, extra, payload = self._dispatch(method, path, query, headers, body, route, match, host)
            except ArmFault as fault:
                status, extra, payload = fault.status, fault.headers, {"error": {"code": fault.code,
                                                                                 "message": fault.message}}
            record = {"method": method, "path": path, "host_header": headers.get("Host") or headers.get("host"),
                      "op": op, "vm": host, "status": status, "time": iso()}
            self.world.requests.append(record)
            if self.request_log:
                with open(self.request_log, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
        return status, extra, payload

    def _host_of(self, op: str, m: re.Match, path: str, body: bytes) -> str | None:
        """Which scenario host a request concerns (for its faults), from the path or the body."""
        g = m.groupdict()
        w = self.world
        if "vm" in g and g.get("vm"):
            vm = w.find_vm(g["sub"], g["rg"], g["vm"])
            return vm["host"] if vm else None
        if g.get("item"):
            for vm in w.vms.values():
                if g["item"].lower().endswith(f";{vm['resource_group'].lower()};{vm['name'].lower()}"):
                    return vm["host"]
        if g.get("job") and g["job"] in w.jobs:
            return w.jobs[g["job"]]["host"]
        if g.get("op"):
            op_rec = w.compute_ops.get(g["op"]) or w.backup_ops.get(g["op"])
            return op_rec["host"] if op_rec else None
        if op == "backup.status":
            try:
                vm = w.vm_by_id(str(json.loads(body or b"{}").get("resourceId") or ""))
            except ValueError:
                vm = None
            return vm["host"] if vm else None
        if g.get("rg") and g["rg"].casefold() in w.groups:
            owners = w.groups[g["rg"].casefold()]["owners"]
            return owners[0] if len(owners) == 1 else None
        return None

    def _fault(self, op: str, host: str | None) -> ArmFault | None:
        for vm in self.world.vms.values():
            for f in vm["faults"]:
                if f["op"] not in ("any", op) or (host is not None and vm["host"] != host):
                    continue
                if op == "token" and f["op"] != "token":
                    continue
                if f["count"] and f["fired"] >= f["count"]:
                    continue
                f["fired"] += 1
                headers = {"Retry-After": str(f["retry_after"])} if f.get("retry_after") is not None else {}
                if f["status"] == 401:
                    headers["WWW-Authenticate"] = (f'Bearer authorization_uri="{self.origin}/{self.world.tenant}", '
                                                   'error="invalid_token", error_description="The access token '
                                                   'has expired"')
                code = f["code"] or {401: "ExpiredAuthenticationToken", 403: "AuthorizationFailed",
                                     429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                                     503: "ServiceUnavailable", 504: "GatewayTimeout"}[f["status"]]
                message = f["message"] or (f"The access token expiry UTC time '{iso(time.time() - 60)}' is earlier "
                                           f"than current UTC time '{iso()}'." if f["status"] == 401
                                           else f"lab fault for {op} ({f['fired']} of {f['count'] or 'always'})")
                return ArmFault(f["status"], code, message, headers)
        return None

    def _dispatch(self, method, path, query, headers, body, route, match, host):  # noqa: ANN001, PLR0913
        if route is None:
            raise ArmFault(501, "LabNotSimulated", f"lab/azure does not simulate {method} {path}")
        op, fn = route
        fault = self._fault(op, host)
        if fault:
            raise fault
        if op != "token":
            if "api-version" not in query:
                raise ArmFault(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) "
                                                                  "is required for all requests.")
            auth = headers.get("Authorization") or headers.get("authorization") or ""
            if not auth.startswith("Bearer ") or auth[7:] not in self.world.tokens:
                raise ArmFault(401, "InvalidAuthenticationToken", "The access token is invalid.",
                               {"WWW-Authenticate": f'Bearer authorization_uri="{self.origin}/{self.world.tenant}", '
                                                    'error="invalid_token"'})
        return fn(match.groupdict(), query, body)

    # -- Microsoft Entra ID (client credentials) ------------------------------------------------------------------
    def oidc(self, g: dict, query: dict, body: bytes):
        base = f"{self.origin}/{g['tenant']}"
        return 200, {}, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                         "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                         "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                         "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                         "issuer": f"{base}/v2.0", "jwks_uri": f"{base}/discovery/v2.0/keys",
                         "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                         "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                                   "client_secret_basic"]}

    def token(self, g: dict, query: dict, body: bytes):
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        w = self.world
        if g["tenant"] != w.tenant:
            return 400, {}, {"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{g['tenant']}' "
                             "not found."}
        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "lab/azure simulates the "
                             "client_credentials grant only"}
        if form.get("client_id") != w.client_id or not secrets.compare_digest(form.get("client_secret", ""),
                                                                              w.client_secret):
            return 401, {}, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret "
                             "provided."}
        if form.get("scope") != f"{self.origin}/.default":
            return 400, {}, {"error": "invalid_scope", "error_description": f"AADSTS70011: The provided value for "
                             f"scope {form.get('scope')!r} is not valid (this lab's audience is {self.origin})."}
        token = secrets.token_urlsafe(32)
        w.tokens.add(token)
        return 200, {}, {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME,
                         "access_token": token}

    # -- Microsoft.Compute ----------------------------------------------------------------------------------------
    def vm_get(self, g, query, body):
        vm = self.world.require_vm(g["sub"], g["rg"], g["vm"])
        return 200, {}, self.world.vm_json(vm, query.get("$expand"))

    def vm_instance_view(self, g, query, body):
        return 200, {}, self.world.instance_view(self.world.require_vm(g["sub"], g["rg"], g["vm"]))

    def extensions_list(self, g, query, body):
        vm = self.world.require_vm(g["sub"], g["rg"], g["vm"])
        return 200, {}, {"value": [self.world.extension_json(vm, e) for e in vm["extensions"]]}

    def _extension(self, g):
        vm = self.world.require_vm(g["sub"], g["rg"], g["vm"])
        ext = next((e for e in vm["extensions"] if e["name"].casefold() == g["ext"].casefold()), None)
        return vm, ext

    def extension_get(self, g, query, body):
        vm, ext = self._extension(g)
        if ext is None:
            raise ArmFault(404, "NotFound", "The entity was not found in this Azure location.")
        return 200, {}, self.world.extension_json(vm, ext)

    def extension_delete(self, g, query, body):
        vm, ext = self._extension(g)
        if ext is None:
            return 204, {}, None
        op = self.world.start_extension_delete(vm, ext)
        url = (f"{self.origin}/subscriptions/{vm['subscription']}/providers/Microsoft.Compute/locations/"
               f"{vm['location']}/operations/{op}?api-version={query['api-version']}")
        return 202, {"Azure-AsyncOperation": url, "Location": url + "&monitor=true", "Retry-After": "1"}, None

    def compute_operation(self, g, query, body):
        op = self.world.compute_ops.get(g["op"])
        if op is None:
            raise ArmFault(404, "NotFound", f"The operation {g['op']} was not found.")
        if query.get("monitor") == "true":
            return (202, {"Retry-After": "1"}, None) if op["status"] == "InProgress" else (200, {}, None)
        data = {"name": op["id"], "status": op["status"], "startTime": op["start_time"]}
        if op.get("end_time"):
            data["endTime"] = op["end_time"]
        if op.get("error"):
            data["error"] = op["error"]
        return 200, ({"Retry-After": "1"} if op["status"] == "InProgress" else {}), data

    # -- Microsoft.Resources / Microsoft.Authorization -------------------------------------------------------
    def resource_groups(self, g, query, body):
        w = self.world
        names: dict[str, dict] = {}
        for vm in w.vms.values():
            if vm["subscription"].casefold() == g["sub"].casefold() and vm["resource_group_exists"]:
                names.setdefault(vm["resource_group"].casefold(), {"name": vm["resource_group"],
                                                                   "location": vm["location"]})
            b = vm["backup"]
            if b and b["vault"]["subscription"].casefold() == g["sub"].casefold():
                names.setdefault(b["vault"]["resource_group"].casefold(), {"name": b["vault"]["resource_group"],
                                                                           "location": vm["location"]})
        for grp in w.groups.values():
            if grp["subscription"].casefold() == g["sub"].casefold():
                names.setdefault(grp["name"].casefold(), {"name": grp["name"], "location": grp["location"]})
        return 200, {}, {"value": [{"id": f"/subscriptions/{g['sub']}/resourceGroups/{n['name']}", "name": n["name"],
                                    "type": "Microsoft.Resources/resourceGroups", "location": n["location"],
                                    "properties": {"provisioningState": "Succeeded"}}
                                   for n in sorted(names.values(), key=lambda n: n["name"].casefold())]}

    def _group(self, g) -> dict:
        grp = self.world.groups.get(g["rg"].casefold())
        if grp is None or grp["subscription"].casefold() != g["sub"].casefold():
            if any(vm["resource_group"].casefold() == g["rg"].casefold() for vm in self.world.vms.values()):
                return {"name": g["rg"], "subscription": g["sub"], "location": "", "owners": [], "locks": {},
                        "collections": {}}
            raise ArmFault(404, "ResourceGroupNotFound", f"Resource group '{g['rg']}' could not be found.")
        return grp

    def locks_list(self, g, query, body):
        grp = self._group(g)
        return 200, {}, {"value": [self.world.lock_json(grp, lk) for lk in grp["locks"].values()]}

    def lock_get(self, g, query, body):
        grp = self._group(g)
        lock = grp["locks"].get(g["lock"].casefold())
        if lock is None or lock.get("resource"):
            raise ArmFault(404, "LockNotFound", f"The lock '{g['lock']}' could not be found.")
        return 200, {}, self.world.lock_json(grp, lock)

    def lock_delete(self, g, query, body):
        grp = self._group(g)
        lock = grp["locks"].get(g["lock"].casefold())
        if lock is None or lock.get("resource"):
            return 204, {}, None
        del grp["locks"][g["lock"].casefold()]
        self.world.save()
        return 200, {}, None

    def rpc_list(self, g, query, body):
        grp = self._group(g)
        return 200, {}, {"value": [self.world.rpc_json(grp, c, None) for c in grp["collections"].values()]}

    def rpc_get(self, g, query, body):
        grp = self._group(g)
        col = grp["collections"].get(g["rpc"].casefold())
        if col is None:
            raise ArmFault(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/restorePointCollections/"
                                                    f"{g['rpc']}' under resource group '{g['rg']}' was not found.")
        return 200, {}, self.world.rpc_json(grp, col, query.get("$expand"))

    # -- Microsoft.RecoveryServices -------------------------------------------------------------------------------
    def backup_status(self, g, query, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise ArmFault(400, "InvalidRequestContent", "The request content was invalid.") from None
        if str(req.get("resourceType") or "") != "VM":
            raise ArmFault(501, "LabNotSimulated", f"lab/azure simulates backupStatus for resourceType VM only, not "
                                                   f"{req.get('resourceType')!r}")
        vm = self.world.vm_by_id(str(req.get("resourceId") or ""))
        if vm is None or not vm["exists"] or not vm["backup"] or not vm["backup"]["protected"] \
                or vm["location"] != g["loc"].lower():
            return 200, {}, {"protectionStatus": "NotProtected"}
        v = vm["backup"]["vault"]
        container = f"iaasvmcontainerv2;{vm['resource_group'].lower()};{vm['name'].lower()}"
        return 200, {}, {"protectionStatus": "Protected", "fabricName": "Azure",
                         "vaultId": f"/subscriptions/{v['subscription']}/resourceGroups/{v['resource_group']}/"
                                    f"providers/Microsoft.RecoveryServices/vaults/{v['name']}",
                         "containerName": container, "protectedItemName": f"vm;{container}",
                         "policyName": vm["backup"]["policy"], "registrationStatus": "Registered"}

    def _vault_vm(self, g) -> dict:
        vms = self.world.require_vault(g["sub"], g["rg"], g["vault"])
        if "item" in g:
            for vm in vms:
                container = f"iaasvmcontainerv2;{vm['resource_group']};{vm['name']}".lower()
                containers = (container, f"iaasvmcontainer;{container}")
                if (g["fabric"].lower(), g["item"].lower()) == ("azure", f"vm;{container}") \
                        and g["container"].lower() in containers:
                    return vm
            raise ArmFault(404, "ResourceNotFound", f"protected item {g['item']} not found in vault {g['vault']}")
        return vms[0]

    def backup_trigger(self, g, query, body):
        vm = self._vault_vm(g)
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise ArmFault(400, "InvalidRequestContent", "The request content was invalid.") from None
        if (req.get("properties") or {}).get("objectType") != "IaasVMBackupRequest":
            raise ArmFault(400, "BMSUserErrorInvalidInput", "Input is invalid: properties.objectType must be "
                                                            "IaasVMBackupRequest for an Azure VM")
        if any(j["status"] == "InProgress" and j["host"] == vm["host"] for j in self.world.jobs.values()):
            raise ArmFault(400, "UserErrorBackupOperationInProgress", "Taking backup for this item is not allowed "
                                                                      "since a backup job is already in progress")
        op = self.world.start_backup(vm)
        base = self.origin + vm_item_path(vm, g)
        return 202, {"Location": f"{base}/operationResults/{op}?api-version={query['api-version']}",
                     "Azure-AsyncOperation": f"{base}/operationsStatus/{op}?api-version={query['api-version']}",
                     "Retry-After": "1"}, None

    def backup_operation(self, g, query, body):
        self.world.require_vault(g["sub"], g["rg"], g["vault"])
        op = self.world.backup_ops.get(g["op"])
        if op is None:
            raise ArmFault(404, "ResourceNotFound", f"operation {g['op']} not found")
        data: dict[str, Any] = {"id": op["id"], "name": op["id"], "status": op["status"], "startTime": op["start_time"]}
        if op["status"] != "InProgress":
            data["endTime"] = op.get("end_time")
            data["properties"] = {"objectType": "OperationStatusJobExtendedInfo", "jobId": op["job"]}
        return 200, {}, data

    def job_get(self, g, query, body):
        vms = self.world.require_vault(g["sub"], g["rg"], g["vault"])
        job = self.world.jobs.get(g["job"].lower())
        if job is None or job["host"] not in {vm["host"] for vm in vms}:
            raise ArmFault(404, "ResourceNotFound", f"The job {g['job']} was not found in vault {g['vault']}.")
        return 200, {}, self.world.job_json(self.world.vms[job["host"]], job)


def vm_item_path(vm: dict, g: dict) -> str:
    v = vm["backup"]["vault"]
    container = f"iaasvmcontainerv2;{vm['resource_group']};{vm['name']}"
    return (f"/subscriptions/{v['subscription']}/resourceGroups/{v['resource_group']}/providers/"
            f"Microsoft.RecoveryServices/vaults/{v['name']}/backupFabrics/Azure/protectionContainers/"
            f"IaasVMContainer;{container}/protectedItems/VM;{container}")


__all__ = ["ArmEndpoint", "vm_id"]

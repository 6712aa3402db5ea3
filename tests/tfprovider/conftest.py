"""Fixtures for driving the stand-in azapi provider with the real terraform binary.

Two ARM endpoints: the project's simulator (a subprocess in its own process group, the main
oracle) and a tiny in-thread fake whose behaviour the tests steer (long-running operations,
throttling), because those paths must be exercised deterministically.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import shutil
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tenant_replicator import devstack

_API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


@dataclass
class ArmEndpoint:
    endpoint: str
    ca_file: str
    fake: FakeArm | None = None


@pytest.fixture(scope="session")
def terraform_binary() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.skip("terraform is not on PATH")
    return path


# ---------------------------------------------------------------- the real simulator


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArmEndpoint]:
    """The project's ARM simulator in its own process group, on a free loopback port."""
    base = tmp_path_factory.mktemp("sim")
    with devstack.Stack(workdir=base, env=devstack.base_env(base)) as stack:
        devstack.start_simulator(stack, fresh=False)
        yield ArmEndpoint(endpoint=stack.arm_endpoint.rstrip("/"), ca_file=stack.ca_file)


# ---------------------------------------------------------------- a steerable fake ARM


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


class FakeArm:
    """Resources by lower-cased ID; knobs: ``async_puts``, ``throttle`` (429s to send), ``requests``."""

    def __init__(self) -> None:
        self.resources: dict[str, dict] = {}
        self.operations: dict[str, int] = {}
        self.async_puts = False
        self.throttle = 0
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.endpoint = ""

    def parent_missing(self, rid: str) -> str | None:
        segs = rid.strip("/").split("/")
        if len(segs) <= 4:
            return None
        rg = "/".join(segs[:4]).lower()
        if "/" + rg not in self.resources:
            return "ResourceGroupNotFound"
        if len(segs) > 8 and "/" + "/".join(segs[:-2]).lower() not in self.resources:
            return "ParentResourceNotFound"
        return None


def _make_handler(arm: FakeArm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error": {"code": code, "message": message}})

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with arm.lock:
                arm.requests.append((method, url.path))
                if not self.headers.get("Authorization", "").startswith("Bearer "):
                    return self._error(401, "AuthenticationFailed", "no bearer token")
                if arm.throttle > 0:
                    arm.throttle -= 1
                    return self._send(
                        429, {"error": {"code": "TooManyRequests", "message": "slow"}}, {"Retry-After": "0"}
                    )
                if url.path.startswith("/_ops/"):
                    left = arm.operations.get(url.path, 0)
                    arm.operations[url.path] = left - 1
                    status = "InProgress" if left > 0 else "Succeeded"
                    return self._send(200, {"status": status}, {"Retry-After": "0"})
                version = parse_qs(url.query).get("api-version", [""])[0]
                if not _API_VERSION_RE.match(version):
                    return self._error(400, "InvalidApiVersionParameter", f"api-version {version!r} is invalid")
                key = url.path.lower()
                if method == "GET":
                    if key not in arm.resources:
                        return self._error(404, "ResourceNotFound", f"{url.path} not found")
                    return self._send(200, arm.resources[key])
                if method == "DELETE":
                    if key not in arm.resources:
                        return self._send(204)
                    for k in [k for k in arm.resources if k == key or k.startswith(key + "/")]:
                        del arm.resources[k]
                    return self._send(200)
                missing = arm.parent_missing(url.path)
                if missing:
                    return self._error(404, missing, f"parent of {url.path} not found")
                body = json.loads(raw or b"{}")
                stored = dict(body)
                stored.update(id=url.path, name=url.path.rsplit("/", 1)[-1], etag='W/"1"')
                stored["properties"] = {**(body.get("properties") or {}), "provisioningState": "Succeeded"}
                created = key not in arm.resources
                arm.resources[key] = stored
                if arm.async_puts:
                    op = f"/_ops/{len(arm.operations)}"
                    arm.operations[op] = 2
                    return self._send(201, stored, {"Azure-AsyncOperation": arm.endpoint + op, "Retry-After": "0"})
                return self._send(201 if created else 200, stored)

        def do_GET(self) -> None:  # noqa: N802
            self._route("GET")

        def do_PUT(self) -> None:  # noqa: N802
            self._route("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._route("DELETE")

    return Handler


@pytest.fixture
def fake_arm(tmp_path: Path) -> Iterator[ArmEndpoint]:
    """An in-thread HTTPS fake ARM (no child process to leak); torn down after the test."""
    arm = FakeArm()
    cert, key = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(arm))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    arm.endpoint = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ArmEndpoint(endpoint=arm.endpoint, ca_file=str(cert), fake=arm)
    finally:
        server.shutdown()
        server.server_close()

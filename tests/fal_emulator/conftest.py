"""Starts the emulator as a real subprocess and points an unmodified fal-client at it.

fal_client reads FAL_RUN_HOST / FAL_QUEUE_RUN_HOST when it is imported, so test modules
must not import it at top level: they get a private copy from the `fal` fixture, imported
with the emulator's env vars set. REST_URL / CDN_URL have no env var and are reassigned
(protocol notes, 2.3).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from imagegen_fal_emulator import client_env, rest_url

FAL_KEY = "test-key-id:test-key-secret"
USER_ID = "user-under-test"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Emulator:
    port: int
    cert_dir: Path
    env: dict[str, str]
    http: httpx.Client

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def fal_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    cert_dir = tmp_path_factory.mktemp("fal-emulator-certs")
    port = free_port()
    log_path = cert_dir / "emulator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imagegen_fal_emulator",
                "--host", HOST,
                "--port", str(port),
                "--cert-dir", str(cert_dir),
                "--latency", "0.2",
                "--key", FAL_KEY,
                "--user-id", USER_ID,
                "--webhook-retry-delays", "0.1,0.2",
                "--max-concurrent", "2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (cert_dir / "bundle.pem").exists() or not _healthy(port, cert_dir):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"emulator did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(cert_dir / "bundle.pem"))
        with httpx.Client(verify=context, timeout=10) as http:
            yield Emulator(port, cert_dir, client_env(HOST, port, cert_dir, FAL_KEY), http)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _healthy(port: int, cert_dir: Path) -> bool:
    context = ssl.create_default_context(cafile=str(cert_dir / "ca.pem"))
    try:
        return httpx.get(f"https://{HOST}:{port}/health", verify=context).status_code == 200
    except httpx.HTTPError:
        return False


def _is_fal_client_module(name: str) -> bool:
    return name == "fal_client" or name.startswith("fal_client.")


@pytest.fixture(scope="session")
def fal(fal_emulator: Emulator) -> ModuleType:
    """A private copy of fal_client, imported while the emulator's env vars are set.

    Private, so that neither an earlier import elsewhere in the session nor a later one
    shares these hosts: the copy is removed from sys.modules right after importing it.
    """
    saved_modules = {n: m for n, m in sys.modules.items() if _is_fal_client_module(n)}
    saved_env = {name: os.environ.get(name) for name in fal_emulator.env}
    for name in saved_modules:
        del sys.modules[name]
    os.environ.update(fal_emulator.env)
    try:
        fal_client = importlib.import_module("fal_client")
    finally:
        for name in [n for n in sys.modules if _is_fal_client_module(n)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    # No env var exists for the upload hosts (protocol notes, 2.3).
    fal_client.client.REST_URL = rest_url(HOST, fal_emulator.port)
    fal_client.client.CDN_URL = rest_url(HOST, fal_emulator.port)
    return fal_client


@pytest.fixture(autouse=True)
def fal_env(fal_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAL_KEY and SSL_CERT_FILE are read when a client first calls out, i.e. during tests."""
    for name, value in fal_emulator.env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def fal_sync(fal: ModuleType) -> Any:
    """A fresh SyncClient: its key, TLS trust and hosts all come from the env vars."""
    return fal.SyncClient()


@dataclass
class WebhookReceiver:
    """A loopback HTTP endpoint that records deliveries; can refuse the first attempt."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refuse_first_for: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, request_id: str, count: int = 1, timeout: float = 10) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                hits = [
                    (headers, body)
                    for headers, body in self.received
                    if headers.get("x-fal-webhook-request-id") == request_id
                ]
            if len(hits) >= count:
                return hits
            time.sleep(0.05)
        raise AssertionError(f"no webhook for {request_id} within {timeout}s")


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            request_id = headers.get("x-fal-webhook-request-id", "")
            with receiver.lock:
                receiver.received.append((headers, body))
                refuse = request_id in receiver.refuse_first_for
                receiver.refuse_first_for.discard(request_id)
            self.send_response(500 if refuse else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    receiver.url = f"http://{HOST}:{server.server_address[1]}/fal/webhook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def verify_webhook(headers: dict[str, str], body: bytes, jwks: dict[str, Any]) -> bool:
    """What a webhook receiver does before trusting a delivery."""
    names = ("request-id", "user-id", "timestamp", "signature")
    values = [headers.get(f"x-fal-webhook-{name}") for name in names]
    if any(value is None for value in values):
        return False
    request_id, user_id, timestamp, signature = (str(value) for value in values)
    if abs(time.time() - int(timestamp)) > 300:
        return False
    message = f"{request_id}\n{user_id}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}"
    for key in jwks["keys"]:
        raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(bytes.fromhex(signature), message.encode())
        except InvalidSignature:
            continue
        return True
    return False


@pytest.fixture(scope="session")
def webhook_verifier() -> Callable[[dict[str, str], bytes, dict[str, Any]], bool]:
    """The receiver-side signature check, written from the protocol notes."""
    return verify_webhook

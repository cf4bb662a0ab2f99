"""Fixtures that start real infrastructure on free ports, once per test session.

Nothing here is optional: if a server cannot start, the tests that need it error out (in CI and
locally alike) instead of being skipped.
"""

import gzip
import io
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from imagegen_devstack.infra import NatsServer, PostgresServer, S3Server, free_port
from imagegen_devstack.stack import LocalStack, StackOptions, StackPorts, migrate_all
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from PIL import Image


@dataclass(frozen=True)
class Infrastructure:
    database_url: str
    nats_url: str
    s3_endpoint_url: str


@contextmanager
def state_dir(name: str) -> Iterator[Path]:
    """A temporary folder outside pytest's own tree: Postgres runs as its own OS user, and any
    pytest session starting meanwhile resets its tree to owner-only access."""
    path = Path(tempfile.mkdtemp(prefix=f"imagegen-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    """Postgres (migrated for every service), NATS with JetStream and an S3 server."""
    with state_dir("infra") as root:
        yield from _infrastructure(root)


def _infrastructure(root: Path) -> Iterator[Infrastructure]:
    postgres = PostgresServer(root / "postgres", free_port(), fast=True)
    nats = NatsServer(root / "nats", free_port(), free_port(), log_path=root / "nats.log")
    s3 = S3Server(free_port(), log_path=root / "s3.log")
    with postgres, nats, s3:
        postgres.create_database("imagegen")
        database_url = postgres.dsn("imagegen")
        migrate_all(database_url)
        yield Infrastructure(database_url, nats.url, s3.endpoint_url)


@dataclass(frozen=True)
class ExportedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str


class TraceCollector:
    """An in-memory OTLP/HTTP trace receiver: every process of the stack exports its spans here."""

    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def receive(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ExportedSpan(
                            attributes.get("service.name", ""),
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[ExportedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def trace_collector() -> Iterator[TraceCollector]:
    collector = TraceCollector()
    try:
        yield collector
    finally:
        collector.close()


@pytest.fixture(scope="session")
def stack(trace_collector: TraceCollector) -> Iterator[LocalStack]:
    """The whole system as processes, exactly as `make run` starts it, on free ports, exporting
    their spans to `trace_collector`."""
    with state_dir("stack") as root:
        # Polling the provider one second after submission makes webhooks and polls race for jobs.
        options = StackOptions(
            fal_latency=0.3,
            fast_postgres=True,
            extra_env={
                "GENERATION_PROVIDER_POLL_AFTER_SECONDS": "1",
                "GENERATION_PROVIDER_POLL_INTERVAL_SECONDS": "0.5",
                # A killed worker's job goes to another worker after this long.
                "GENERATION_WORKER_ACK_WAIT_SECONDS": "3",
                "GENERATION_QUEUE_METRICS_INTERVAL_SECONDS": "0.5",
                # Webhook retries within seconds (four attempts in all), found within 0.2 s of due.
                "GATEWAY_WEBHOOK_RETRY_SCHEDULE_SECONDS": "[0.5, 1, 1]",
                "GATEWAY_WEBHOOK_DELIVERY_POLL_SECONDS": "0.2",
                "OTEL_EXPORTER_OTLP_ENDPOINT": trace_collector.endpoint,
                # Export within a fraction of a second instead of every five.
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            },
        )
        local = LocalStack(root, StackPorts.free(), options)
        local.start()
        try:
            yield local
        finally:
            local.stop()


class ImageServer:
    """Training images over HTTP on loopback (the local stack lets storage fetch from it):
    `/image/<n>.png` is a distinct 640x768 picture per n, `/small.png` is too small to train on,
    `/text.png` is not an image, and anything else is 404."""

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.body(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def png(n: int, size: tuple[int, int] = (640, 768)) -> bytes:
        # A different colour per n, so no two images are duplicates.
        image = Image.new("RGB", size, ((n * 37) % 256, (n * 91) % 256, (n * 151) % 256))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    def body(self, path: str) -> bytes | None:
        if path == "/small.png":
            return self.png(0, (300, 300))
        if path == "/text.png":
            return b"this is not an image"
        match = re.fullmatch(r"/image/(\d+)\.png", path)
        return self.png(int(match.group(1))) if match else None

    def urls(self, numbers: range) -> list[str]:
        return [f"{self.base_url}/image/{n}.png" for n in numbers]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    # Lowercased names.
    headers: dict[str, str]
    body: bytes
    answered: int


class WebhookReceiver:
    """A team's webhook endpoint on loopback (the local stack may post there): records every POST
    by path and answers 204, or the statuses queued for that path with `fail_next`, in order."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self.queued: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    queued = receiver.queued.get(self.path, [])
                    status = queued.pop(0) if queued else 204
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    receiver.received.append(ReceivedWebhook(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def new_path(self) -> str:
        return f"/hooks/{uuid.uuid4().hex}"

    def fail_next(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.queued[path] = list(statuses)

    def at(self, path: str) -> list[ReceivedWebhook]:
        with self.lock:
            return [request for request in self.received if request.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def team_id() -> str:
    """A team id unique per test, so tests sharing a database never see each other's rows."""
    return f"team-{uuid.uuid4().hex[:12]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests under integration/ and e2e/ are marked by folder, so `-m` selects layers.
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)

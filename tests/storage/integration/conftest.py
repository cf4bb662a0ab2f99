"""Storage against the real S3 server and Postgres of the `infrastructure` fixture, fetching from a
local HTTP server."""

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from imagegen_storage.bootstrap import build_storage
from imagegen_storage.config import StorageSettings

BUCKET = "storage-tests"
# Redirects to where the test says (?to=...), to prove each hop is checked.
REDIRECT = "/redirect"
# Sends a byte at a time, slower than a test's time cap allows for the whole download.
SLOW = "/slow.png"


class FileServer:
    """Serves the bytes tests register, on loopback (which the test storage may fetch from), and
    remembers every path asked for."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requested: list[str] = []
        files, requested = self.files, self.requested

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requested.append(self.path)
                if self.path.startswith(REDIRECT):
                    self.send_response(302)
                    self.send_header("Location", parse_qs(urlsplit(self.path).query)["to"][0])
                    self.end_headers()
                    return
                if self.path == SLOW:
                    self.send_response(200)
                    self.end_headers()
                    try:
                        for _ in range(20):
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:
                        pass
                    return
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, data: bytes) -> str:
        """A URL of its own that answers these bytes."""
        path = f"/{uuid.uuid4().hex}"
        self.files[path] = data
        return f"{self.url}{path}"

    def times_requested(self, url: str) -> int:
        return self.requested.count(urlsplit(url).path)


class KeepAliveServer:
    """Answers every GET with the same PNG over HTTP/1.1, keeping connections open, and remembers
    which connection (the client's port) and Host header each request came with."""

    def __init__(self, body: bytes) -> None:
        self.requests: list[tuple[int, str]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                requests.append((self.client_address[1], self.headers["Host"]))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def keep_alive_server(png) -> Iterator[KeepAliveServer]:
    server = KeepAliveServer(png(32, 32))
    yield server
    server.httpd.shutdown()


@pytest.fixture(scope="session")
def http_files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture(scope="session")
def file_server(http_files) -> str:
    return http_files.url


@pytest.fixture
def storage_settings(infrastructure):
    """Settings for a storage on the test servers; keyword arguments override any of them."""

    def settings(**overrides) -> StorageSettings:
        values = {
            "grpc_port": 0,
            "database_url": infrastructure.database_url,
            "s3_endpoint_url": infrastructure.s3_endpoint_url,
            "s3_bucket": BUCKET,
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
            "max_download_bytes": 100_000,
            # The test file server listens on loopback, which production refuses.
            "fetch_allowed_networks": ["127.0.0.0/8"],
            "upload_backoff_seconds": 0.01,
            **overrides,
        }
        return StorageSettings(**values)

    return settings


@pytest.fixture
async def make_storage(storage_settings):
    built = []

    async def make(**overrides):
        storage = build_storage(storage_settings(**overrides))
        await storage.blobs.ensure_bucket()
        built.append(storage)
        return storage

    yield make
    for storage in built:
        await storage.fetcher.close()
        await storage.engine.dispose()


@pytest.fixture
async def storage(make_storage):
    return await make_storage()


@pytest.fixture
def s3(infrastructure):
    return boto3.client(
        "s3",
        endpoint_url=infrastructure.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def object_exists(s3):
    def exists(key: str) -> bool:
        try:
            s3.head_object(Bucket=BUCKET, Key=key)
        except ClientError:
            return False
        return True

    return exists


@pytest.fixture(scope="session")
def moved():
    """moved(storage, days): the same storage with its clock moved, as STORAGE_CLOCK_OFFSET_SECONDS does."""

    def move(storage, days: float):
        return dataclasses.replace(storage, clock=lambda: datetime.now(UTC) + timedelta(days=days))

    return move

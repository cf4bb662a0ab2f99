"""Storage against a real S3-compatible server and Postgres, fetching from a real local HTTP server."""

import hashlib
import io
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import httpx
import pytest
from imagegen_platform.errors import InvalidArgument, NotFound
from imagegen_storage.adapters.tables import stored_file
from imagegen_storage.bootstrap import build_storage
from imagegen_storage.config import StorageSettings
from imagegen_storage.domain.files import FileKind
from imagegen_storage.service_layer import handlers
from PIL import Image
from sqlalchemy import func, select


def png_bytes(width: int, height: int, noise: bool = False) -> bytes:
    """A PNG; noise makes it incompressible, so its size is about width x height x 3."""
    image = (
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        if noise
        else Image.new("RGB", (width, height), (200, 30, 40))
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


FILES = {
    "/red.png": png_bytes(64, 48),
    "/notes.txt": b"not an image",
    "/big.png": png_bytes(300, 300, noise=True),
}


class FileHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = FILES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FileHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
async def storage(infrastructure):
    settings = StorageSettings(
        grpc_port=0,
        database_url=infrastructure.database_url,
        s3_endpoint_url=infrastructure.s3_endpoint_url,
        s3_bucket="storage-tests",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        max_download_bytes=100_000,
    )
    storage = build_storage(settings)
    await storage.blobs.ensure_bucket()
    yield storage
    await storage.fetcher.close()
    await storage.engine.dispose()


async def import_image(storage, team_id: str, url: str, key: str):
    return await handlers.import_file(
        storage,
        team_id=team_id,
        kind=FileKind.GENERATED_IMAGE,
        owner_id="job-1",
        source_url=url,
        idempotency_key=key,
    )


async def test_an_imported_image_is_stored_under_the_team_prefix_with_metadata(
    storage, infrastructure, file_server, team_id
):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert (row.content_type, row.width, row.height) == ("image/png", 64, 48)
    assert row.sha256_hex == hashlib.sha256(FILES["/red.png"]).hexdigest()
    assert row.size_bytes == len(FILES["/red.png"])
    assert row.s3_key.startswith(f"teams/{team_id}/generated_image/job-1/")
    assert row.expires_at - row.created_at == timedelta(days=90)

    s3 = boto3.client(
        "s3",
        endpoint_url=infrastructure.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    head = s3.head_object(Bucket="storage-tests", Key=row.s3_key)
    assert head["ContentType"] == "image/png"
    assert head["Metadata"]["team-id"] == team_id
    assert head["Metadata"]["sha256"] == row.sha256_hex
    assert head["Metadata"]["expires-at"] == row.expires_at.isoformat()


async def test_importing_twice_with_one_key_stores_one_file(storage, file_server, team_id):
    first = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    again = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert first.id == again.id


async def test_signed_urls_read_the_bytes_and_are_fresh_each_time(storage, file_server, team_id):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    [(file_id, url, expires_at)] = await handlers.sign_urls(storage, team_id, [row.id])
    assert file_id == row.id
    assert "X-Amz-Expires=3600" in url
    assert timedelta(seconds=3590) < expires_at - datetime.now(UTC) <= timedelta(seconds=3600)
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == FILES["/red.png"]


async def test_another_teams_file_is_not_found(storage, file_server, team_id):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    with pytest.raises(NotFound):
        await handlers.sign_urls(storage, "someone-else", [row.id])


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/notes.txt", "not_an_image"), ("/missing.png", "source_refused"), ("/big.png", "file_too_large")],
)
async def test_bad_sources_are_refused_and_store_nothing(storage, file_server, team_id, path, reason):
    with pytest.raises(InvalidArgument) as caught:
        await import_image(storage, team_id, f"{file_server}{path}", f"{team_id}/0")
    assert caught.value.reason == reason
    async with storage.engine.connect() as connection:
        rows = await connection.scalar(
            select(func.count()).select_from(stored_file).where(stored_file.c.team_id == team_id)
        )
    assert rows == 0

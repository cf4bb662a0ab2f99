"""Storage against a real S3-compatible server and Postgres, fetching from a real local HTTP server."""

import asyncio
import base64
import dataclasses
import hashlib
import io
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from imagegen_platform.errors import InvalidArgument, NotFound, Unavailable
from imagegen_storage.adapters.tables import stored_file
from imagegen_storage.bootstrap import build_storage
from imagegen_storage.config import StorageSettings
from imagegen_storage.domain.files import FileKind, FileState
from imagegen_storage.service_layer import handlers
from PIL import Image
from pydantic import ValidationError
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


# Redirects to where the test says (?to=...), to prove each hop is checked.
REDIRECT = "/redirect"


class FileHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith(REDIRECT):
            self.send_response(302)
            self.send_header("Location", parse_qs(urlsplit(self.path).query)["to"][0])
            self.end_headers()
            return
        if self.path == "/slow.png":
            # A byte at a time, slower than the test's time cap allows for the whole download.
            self.send_response(200)
            self.end_headers()
            try:
                for byte in FILES["/red.png"][:20]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
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


def settings_for(infrastructure, **overrides) -> StorageSettings:
    values = {
        "grpc_port": 0,
        "database_url": infrastructure.database_url,
        "s3_endpoint_url": infrastructure.s3_endpoint_url,
        "s3_bucket": "storage-tests",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "max_download_bytes": 100_000,
        # The test file server listens on loopback, which production refuses.
        "fetch_allowed_networks": ["127.0.0.0/8"],
        "upload_backoff_seconds": 0.01,
        **overrides,
    }
    return StorageSettings(**values)


@pytest.fixture
async def make_storage(infrastructure):
    built = []

    async def make(**overrides):
        storage = build_storage(settings_for(infrastructure, **overrides))
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


def moved(storage, days: float):
    """The same storage with its clock moved (as STORAGE_CLOCK_OFFSET_SECONDS does)."""
    return dataclasses.replace(storage, clock=lambda: datetime.now(UTC) + timedelta(days=days))


def object_exists(s3, key: str) -> bool:
    try:
        s3.head_object(Bucket="storage-tests", Key=key)
    except ClientError:
        return False
    return True


async def import_image(storage, team_id: str, url: str, key: str, owner_id: str = "job-1", plan: str = ""):
    return await handlers.import_file(
        storage,
        team_id=team_id,
        kind=FileKind.GENERATED_IMAGE,
        owner_id=owner_id,
        source_url=url,
        idempotency_key=key,
        plan=plan,
    )


async def test_an_imported_image_is_stored_under_the_team_prefix_with_metadata(
    storage, s3, file_server, team_id
):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert (row.content_type, row.width, row.height) == ("image/png", 64, 48)
    assert row.sha256_hex == hashlib.sha256(FILES["/red.png"]).hexdigest()
    assert row.size_bytes == len(FILES["/red.png"])
    assert row.s3_key.startswith(f"teams/{team_id}/generated_image/job-1/")
    assert row.expires_at - row.created_at == timedelta(days=90)
    assert (row.kind, row.state, row.removed_at) == ("generated_image", "stored", None)

    head = s3.head_object(Bucket="storage-tests", Key=row.s3_key)
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == row.size_bytes
    assert head["ETag"].strip('"') == hashlib.md5(FILES["/red.png"]).hexdigest()
    assert head["Metadata"] == {
        "file-id": row.id,
        "team-id": team_id,
        "kind": "generated_image",
        "owner-id": "job-1",
        "sha256": row.sha256_hex,
        "expires-at": row.expires_at.isoformat(),
    }
    tags = s3.get_object_tagging(Bucket="storage-tests", Key=row.s3_key)["TagSet"]
    assert tags == [{"Key": "imagegen-retention-days", "Value": "90"}]


async def test_importing_twice_with_one_key_stores_one_file(storage, file_server, team_id):
    first = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    again = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert first.id == again.id


async def test_signed_urls_read_the_bytes_and_are_fresh_each_time(storage, file_server, team_id):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    [first] = await handlers.sign_urls(storage, team_id, [row.id])
    assert (first.file_id, first.state, first.file_expires_at) == (row.id, FileState.STORED, row.expires_at)
    assert "X-Amz-Expires=3600" in first.url
    assert timedelta(seconds=3590) < first.url_expires_at - datetime.now(UTC) <= timedelta(seconds=3600)
    async with httpx.AsyncClient() as client:
        assert (await client.get(first.url)).content == FILES["/red.png"]
    await asyncio.sleep(1.1)  # signatures carry a timestamp with one-second resolution
    [again] = await handlers.sign_urls(storage, team_id, [row.id])
    assert again.url != first.url
    assert again.url_expires_at > first.url_expires_at


async def test_the_url_lifetime_is_configurable_and_never_outlives_the_file(
    make_storage, file_server, team_id
):
    storage = await make_storage(url_ttl_seconds=120)
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    [signed] = await handlers.sign_urls(storage, team_id, [row.id])
    assert "X-Amz-Expires=120" in signed.url

    # Ten minutes before the file expires, a one-hour URL would outlive it.
    near_the_end = moved(await make_storage(), 90 - 10 / (24 * 60))
    _, access = await handlers.get_file(near_the_end, team_id, row.id)
    ttl = int(parse_qs(urlsplit(access.url).query)["X-Amz-Expires"][0])
    assert 590 <= ttl <= 600
    assert access.url_expires_at <= row.expires_at


async def test_another_teams_file_is_not_found(storage, file_server, team_id):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    with pytest.raises(NotFound):
        await handlers.sign_urls(storage, "someone-else", [row.id])
    with pytest.raises(NotFound):
        await handlers.get_file(storage, "someone-else", row.id)
    with pytest.raises(NotFound):
        await handlers.get_file(storage, team_id, str(uuid.uuid4()))


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


# --- uploads: retried and verified -----------------------------------------------------------


async def test_a_transient_s3_error_is_retried_and_the_file_stored_once(
    storage, s3, file_server, team_id, monkeypatch
):
    real_put = storage.blobs.client.put_object
    calls = []

    def flaky_put(**kwargs):
        calls.append(kwargs["Key"])
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
            )
        return real_put(**kwargs)

    monkeypatch.setattr(storage.blobs.client, "put_object", flaky_put)
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert len(calls) == 2
    assert s3.get_object(Bucket="storage-tests", Key=row.s3_key)["Body"].read() == FILES["/red.png"]


async def test_an_upload_that_does_not_verify_never_counts_as_stored(
    storage, file_server, team_id, monkeypatch
):
    real_put = storage.blobs.client.put_object

    def corrupting_put(**kwargs):
        # Same size, different bytes: only the checksum can tell.
        body = bytearray(kwargs["Body"])
        body[-20] ^= 0xFF
        return real_put(**{**kwargs, "Body": bytes(body)})

    monkeypatch.setattr(storage.blobs.client, "put_object", corrupting_put)
    with pytest.raises(Unavailable) as caught:
        await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert caught.value.reason in ("storage_unverified", "storage_unavailable")
    async with storage.engine.connect() as connection:
        rows = await connection.scalar(
            select(func.count()).select_from(stored_file).where(stored_file.c.team_id == team_id)
        )
    assert rows == 0


async def test_a_permanent_s3_error_is_not_retried(storage, file_server, team_id, monkeypatch):
    calls = []

    def denied_put(**kwargs):
        calls.append(1)
        raise ClientError(
            {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject"
        )

    monkeypatch.setattr(storage.blobs.client, "put_object", denied_put)
    with pytest.raises(Unavailable):
        await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert len(calls) == 1


# --- CloudFront ------------------------------------------------------------------------------


async def test_with_cloudfront_configured_urls_are_cloudfront_signed_urls(make_storage, file_server, team_id):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    storage = await make_storage(
        cloudfront_domain="d111111abcdef8.cloudfront.net",
        cloudfront_key_pair_id="K2JCJMDEHXQW5F",
        cloudfront_private_key=pem,
        url_ttl_seconds=600,
    )
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    [signed] = await handlers.sign_urls(storage, team_id, [row.id])

    parts = urlsplit(signed.url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "d111111abcdef8.cloudfront.net",
        f"/{row.s3_key}",
    )
    query = parse_qs(parts.query)
    assert query["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    expires = int(query["Expires"][0])
    assert abs(expires - (time.time() + 600)) < 5
    # The canned policy CloudFront rebuilds from the URL and Expires, verified with the public key.
    resource = f"https://{parts.netloc}{parts.path}"
    policy = json.dumps(
        {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]},
        separators=(",", ":"),
    ).encode()
    signature = base64.b64decode(query["Signature"][0].translate(str.maketrans("-_~", "+=/")))
    key.public_key().verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())


def test_cloudfront_needs_its_domain_key_pair_id_and_private_key_together(infrastructure):
    with pytest.raises(ValidationError):
        settings_for(infrastructure, cloudfront_domain="d111111abcdef8.cloudfront.net")


# --- retention: lifecycle, expiry, cleanup ---------------------------------------------------


async def test_the_lifecycle_rules_are_applied_once_and_keep_other_rules(make_storage, s3):
    bucket = f"lifecycle-{uuid.uuid4().hex[:12]}"
    storage = await make_storage(s3_bucket=bucket, retention_days_by_plan={"enterprise": 365})
    foreign = {
        "ID": "someone-elses",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 7},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [foreign]})

    days = storage.retention.all_days()
    assert days == {90, 365}
    assert await storage.blobs.apply_lifecycle(days) is True
    assert await storage.blobs.apply_lifecycle(days) is False  # a restart changes nothing

    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["someone-elses"]["Expiration"] == {"Days": 7}
    for retention in (90, 365):
        rule = rules[f"imagegen-retention-{retention}d"]
        assert rule["Filter"] == {"Tag": {"Key": "imagegen-retention-days", "Value": str(retention)}}
        assert rule["Expiration"] == {"Days": retention}
    assert rules["imagegen-abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }


async def test_retention_follows_the_plan_the_caller_names(make_storage, s3, file_server, team_id):
    storage = await make_storage(retention_days_by_plan={"enterprise": 365, "free": 30})
    enterprise = await import_image(
        storage, team_id, f"{file_server}/red.png", f"{team_id}/0", plan="enterprise"
    )
    unknown = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/1", plan="basic")
    assert enterprise.expires_at - enterprise.created_at == timedelta(days=365)
    assert unknown.expires_at - unknown.created_at == timedelta(days=90)
    tags = s3.get_object_tagging(Bucket="storage-tests", Key=enterprise.s3_key)["TagSet"]
    assert tags == [{"Key": "imagegen-retention-days", "Value": "365"}]


async def test_an_expired_image_reads_as_expired_with_its_date_before_and_after_cleanup(
    storage, s3, file_server, team_id
):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    later = moved(storage, 91)

    [signed] = await handlers.sign_urls(later, team_id, [row.id])
    assert (signed.state, signed.url, signed.url_expires_at) == (FileState.EXPIRED, None, None)
    assert signed.file_expires_at == row.expires_at

    assert await handlers.cleanup(later, batch_size=1000) >= 1
    assert not object_exists(s3, row.s3_key)
    after, access = await handlers.get_file(storage, team_id, row.id)
    assert (after.state, access.state, access.url) == ("expired", FileState.EXPIRED, None)
    assert after.removed_at is not None
    assert access.file_expires_at == row.expires_at


async def test_cleanup_leaves_files_that_are_not_due(storage, s3, file_server, team_id):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    await handlers.cleanup(moved(storage, 89), batch_size=1000)
    _, access = await handlers.get_file(storage, team_id, row.id)
    assert access.state is FileState.STORED
    assert object_exists(s3, row.s3_key)


async def test_two_cleanups_at_once_remove_every_due_file_exactly_once(storage, s3, file_server, team_id):
    # Imported 100 days ago by the clock: due now, by the real clock.
    past = moved(storage, -100)
    rows = [await import_image(past, team_id, f"{file_server}/red.png", f"{team_id}/{i}") for i in range(12)]
    async with storage.engine.connect() as connection:
        due = await connection.scalar(
            select(func.count())
            .select_from(stored_file)
            .where(stored_file.c.state == "stored", stored_file.c.expires_at <= datetime.now(UTC))
        )
    assert due >= 12

    first, second = await asyncio.gather(
        handlers.cleanup(storage, batch_size=3), handlers.cleanup(storage, batch_size=3)
    )
    assert first + second == due
    assert await handlers.cleanup(storage, batch_size=3) == 0
    async with storage.engine.connect() as connection:
        states = (
            (await connection.execute(select(stored_file.c.state).where(stored_file.c.team_id == team_id)))
            .scalars()
            .all()
        )
    assert states == ["expired"] * 12
    assert not any(object_exists(s3, row.s3_key) for row in rows)


async def test_cleanup_works_in_bounded_batches(storage, file_server, team_id):
    past = moved(storage, -100)
    for i in range(5):
        await import_image(past, team_id, f"{file_server}/red.png", f"{team_id}/{i}")
    assert await handlers.cleanup(storage, batch_size=2, max_batches=1) == 2
    await handlers.cleanup(storage, batch_size=2)
    assert await handlers.cleanup_batch(storage, batch_size=2) == 0


async def test_deleting_a_job_removes_its_files_the_same_way(storage, s3, file_server, team_id):
    kept = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/k", owner_id="job-kept")
    gone = [
        await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/{i}", owner_id="job-gone")
        for i in range(2)
    ]
    assert await handlers.delete_owner_files(storage, "someone-else", "job-gone") == 0
    assert await handlers.delete_owner_files(storage, team_id, "job-gone") == 2
    assert await handlers.delete_owner_files(storage, team_id, "job-gone") == 0
    signed = await handlers.sign_urls(storage, team_id, [gone[0].id, kept.id])
    assert [access.state for access in signed] == [FileState.DELETED, FileState.STORED]

    await handlers.cleanup(storage, batch_size=1000)
    for row in gone:
        after, access = await handlers.get_file(storage, team_id, row.id)
        assert (after.state, access.state) == ("deleted", FileState.DELETED)
        assert not object_exists(s3, row.s3_key)
    assert object_exists(s3, kept.s3_key)


# --- fetching: SSRF guard, time cap ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/red.png",
        "http://localhost:{port}/red.png",
        "http://[::1]:{port}/red.png",
        "http://[::ffff:127.0.0.1]:{port}/red.png",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.7/red.png",
        "http://192.168.1.1/red.png",
        "http://100.64.0.1/red.png",
        "http://0.0.0.0:{port}/red.png",
    ],
)
async def test_fetching_from_a_non_public_address_is_refused(make_storage, file_server, team_id, url):
    storage = await make_storage(fetch_allowed_networks=[])
    port = urlsplit(file_server).port
    with pytest.raises(InvalidArgument) as caught:
        await import_image(storage, team_id, url.format(port=port), f"{team_id}/0")
    assert caught.value.reason == "source_not_allowed"


async def test_every_redirect_is_checked_again(storage, file_server, team_id):
    metadata = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(InvalidArgument) as caught:
        await import_image(storage, team_id, f"{file_server}{REDIRECT}?to={metadata}", f"{team_id}/0")
    assert caught.value.reason == "source_not_allowed"

    row = await import_image(storage, team_id, f"{file_server}{REDIRECT}?to=/red.png", f"{team_id}/1")
    assert row.size_bytes == len(FILES["/red.png"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://x/"])
async def test_only_http_urls_are_fetched(storage, team_id, url):
    with pytest.raises(InvalidArgument) as caught:
        await import_image(storage, team_id, url, f"{team_id}/0")
    assert caught.value.reason == "invalid_url"


async def test_a_download_that_takes_too_long_is_abandoned(make_storage, file_server, team_id):
    storage = await make_storage(download_timeout_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await import_image(storage, team_id, f"{file_server}/slow.png", f"{team_id}/0")
    assert caught.value.reason == "source_timeout"
    assert time.monotonic() - started < 3

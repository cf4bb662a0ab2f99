"""Storage against a real S3-compatible server and Postgres, fetching from a real local HTTP server."""

import asyncio
import base64
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from imagegen_platform.errors import InvalidArgument, NotFound, Unavailable
from imagegen_storage.adapters.tables import stored_file
from imagegen_storage.domain.files import FileKind, FileState
from imagegen_storage.service_layer import handlers
from pydantic import ValidationError
from sqlalchemy import func, select


@pytest.fixture(scope="module", autouse=True)
def files(png, http_files) -> dict[str, bytes]:
    """What the file server answers at these paths (max_download_bytes is 100,000 in these tests)."""
    served = {
        "/red.png": png(64, 48),
        "/notes.txt": b"not an image",
        "/big.png": png(300, 300, noise=True),
    }
    http_files.files.update(served)
    return served


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
    storage, s3, file_server, team_id, files
):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    assert (row.content_type, row.width, row.height) == ("image/png", 64, 48)
    assert row.sha256_hex == hashlib.sha256(files["/red.png"]).hexdigest()
    assert row.size_bytes == len(files["/red.png"])
    assert row.s3_key.startswith(f"teams/{team_id}/generated_image/job-1/")
    assert row.expires_at - row.created_at == timedelta(days=90)
    assert (row.kind, row.state, row.removed_at) == ("generated_image", "stored", None)

    head = s3.head_object(Bucket="storage-tests", Key=row.s3_key)
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == row.size_bytes
    assert head["ETag"].strip('"') == hashlib.md5(files["/red.png"]).hexdigest()
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


async def test_signed_urls_read_the_bytes_and_are_fresh_each_time(storage, file_server, team_id, files):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    [first] = await handlers.sign_urls(storage, team_id, [row.id])
    assert (first.file_id, first.state, first.file_expires_at) == (row.id, FileState.STORED, row.expires_at)
    assert "X-Amz-Expires=3600" in first.url
    assert timedelta(seconds=3590) < first.url_expires_at - datetime.now(UTC) <= timedelta(seconds=3600)
    async with httpx.AsyncClient() as client:
        assert (await client.get(first.url)).content == files["/red.png"]
    await asyncio.sleep(1.1)  # signatures carry a timestamp with one-second resolution
    [again] = await handlers.sign_urls(storage, team_id, [row.id])
    assert again.url != first.url
    assert again.url_expires_at > first.url_expires_at


async def test_the_url_lifetime_is_configurable_and_never_outlives_the_file(
    make_storage, file_server, team_id, moved
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
    storage, s3, file_server, team_id, monkeypatch, files
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
    assert s3.get_object(Bucket="storage-tests", Key=row.s3_key)["Body"].read() == files["/red.png"]


async def test_an_upload_that_does_not_verify_never_counts_as_stored(
    storage, file_server, team_id, monkeypatch
):
    real_put = storage.blobs.client.put_object

    def corrupting_put(**kwargs):
        # Same size, different bytes: only the checksum can tell. In-memory files go as bytes.
        sent = kwargs["Body"]
        body = bytearray(sent if isinstance(sent, bytes) else sent.read())
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


def test_cloudfront_needs_its_domain_key_pair_id_and_private_key_together(storage_settings):
    with pytest.raises(ValidationError):
        storage_settings(cloudfront_domain="d111111abcdef8.cloudfront.net")


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
    # Generated images and previews (90), the enterprise plan (365), and unclaimed uploads (1).
    assert days == {1, 90, 365}
    assert await storage.blobs.apply_lifecycle(days) is True
    assert await storage.blobs.apply_lifecycle(days) is False  # a restart changes nothing

    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["someone-elses"]["Expiration"] == {"Days": 7}
    for retention in (1, 90, 365):
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
    storage, file_server, team_id, moved, object_exists
):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    later = moved(storage, 91)

    [signed] = await handlers.sign_urls(later, team_id, [row.id])
    assert (signed.state, signed.url, signed.url_expires_at) == (FileState.EXPIRED, None, None)
    assert signed.file_expires_at == row.expires_at

    assert await handlers.cleanup(later, batch_size=1000) >= 1
    assert not object_exists(row.s3_key)
    after, access = await handlers.get_file(storage, team_id, row.id)
    assert (after.state, access.state, access.url) == ("expired", FileState.EXPIRED, None)
    assert after.removed_at is not None
    assert access.file_expires_at == row.expires_at


async def test_cleanup_leaves_files_that_are_not_due(storage, file_server, team_id, moved, object_exists):
    row = await import_image(storage, team_id, f"{file_server}/red.png", f"{team_id}/0")
    await handlers.cleanup(moved(storage, 89), batch_size=1000)
    _, access = await handlers.get_file(storage, team_id, row.id)
    assert access.state is FileState.STORED
    assert object_exists(row.s3_key)


async def test_two_cleanups_at_once_remove_every_due_file_exactly_once(
    storage, file_server, team_id, moved, object_exists
):
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
    assert not any(object_exists(row.s3_key) for row in rows)


async def test_cleanup_works_in_bounded_batches(storage, file_server, team_id, moved):
    past = moved(storage, -100)
    for i in range(5):
        await import_image(past, team_id, f"{file_server}/red.png", f"{team_id}/{i}")
    assert await handlers.cleanup(storage, batch_size=2, max_batches=1) == 2
    await handlers.cleanup(storage, batch_size=2)
    assert await handlers.cleanup_batch(storage, batch_size=2) == 0


async def test_deleting_a_job_removes_its_files_the_same_way(storage, file_server, team_id, object_exists):
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
        assert not object_exists(row.s3_key)
    assert object_exists(kept.s3_key)


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


async def test_every_redirect_is_checked_again(storage, file_server, team_id, files):
    metadata = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(InvalidArgument) as caught:
        await import_image(storage, team_id, f"{file_server}/redirect?to={metadata}", f"{team_id}/0")
    assert caught.value.reason == "source_not_allowed"

    row = await import_image(storage, team_id, f"{file_server}/redirect?to=/red.png", f"{team_id}/1")
    assert row.size_bytes == len(files["/red.png"])


@pytest.fixture
def cdn_name(storage, monkeypatch) -> str:
    """A second name for 127.0.0.1, as a CDN serves many names from one address."""
    real_resolve = storage.fetcher.guard.resolve

    async def resolve(host: str, port: int):
        return await real_resolve("127.0.0.1" if host == "cdn.test" else host, port)

    monkeypatch.setattr(storage.fetcher.guard, "resolve", resolve)
    return "cdn.test"


async def test_connections_are_reused_only_for_the_same_name_at_the_same_address(
    storage, team_id, keep_alive_server, cdn_name
):
    port = keep_alive_server.port
    del keep_alive_server.requests[:]
    hosts = ["127.0.0.1", "127.0.0.1", cdn_name, cdn_name]
    for index, host in enumerate(hosts):
        await import_image(storage, team_id, f"http://{host}:{port}/a.png", f"{team_id}/{index}")
    connections = [connection for connection, _ in keep_alive_server.requests]
    assert [host for _, host in keep_alive_server.requests] == [f"{host}:{port}" for host in hosts]
    assert connections[0] == connections[1] and connections[2] == connections[3]
    assert connections[1] != connections[2]


async def test_the_least_recently_used_idle_pool_is_closed_beyond_the_limit(
    storage, team_id, keep_alive_server, cdn_name
):
    storage.fetcher.pools.limit = 1
    port = keep_alive_server.port
    del keep_alive_server.requests[:]
    for index, host in enumerate(["127.0.0.1", cdn_name, "127.0.0.1"]):
        await import_image(storage, team_id, f"http://{host}:{port}/a.png", f"{team_id}/{index}")
    connections = [connection for connection, _ in keep_alive_server.requests]
    assert len(set(connections)) == 3


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

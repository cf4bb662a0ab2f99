"""Presigned uploads, training sets and small files put by callers, against the real S3 server and
Postgres; images come from the local file server and from real PUTs to presigned URLs."""

import asyncio
import hashlib
import io
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from imagegen_platform.errors import InvalidArgument, Unavailable
from imagegen_storage.adapters.tables import stored_file
from imagegen_storage.domain.files import FileKind, FileState
from imagegen_storage.domain.training_sets import (
    ImageSource,
    SourceKind,
    TrainingSetChanged,
    TrainingSetRules,
)
from imagegen_storage.service_layer import handlers, training_sets
from sqlalchemy import select

BUCKET = "storage-tests"
RULES = TrainingSetRules(min_images=2, max_images=6, min_short_side_pixels=512)


def url(address: str) -> ImageSource:
    return ImageSource(SourceKind.URL, address)


def upload_id(file_id: str) -> ImageSource:
    return ImageSource(SourceKind.UPLOAD, file_id)


def file_id(file_id: str) -> ImageSource:
    return ImageSource(SourceKind.FILE, file_id)


@pytest.fixture
def photo(png):
    """A distinct 600x800 photo per number."""
    return lambda n: png(600, 800, color=(n % 256, 120, 200))


async def create_upload(storage, team_id: str, data: bytes) -> handlers.Upload:
    return await handlers.create_upload(
        storage, team_id=team_id, content_type="image/png", size_bytes=len(data), filename="photo.png"
    )


async def uploaded(storage, team_id: str, data: bytes):
    """An upload whose bytes the team PUT to its presigned URL, as a client does."""
    upload = await create_upload(storage, team_id, data)
    async with httpx.AsyncClient() as client:
        response = await client.put(upload.url, content=data, headers=upload.headers)
    assert response.status_code == 200, response.text
    return upload.row


async def prepare(storage, team_id: str, owner_id: str, sources, key: str, rules=RULES):
    return await training_sets.prepare_training_set(
        storage, team_id=team_id, owner_id=owner_id, sources=sources, rules=rules, idempotency_key=key
    )


async def team_rows(storage, team_id: str) -> dict[str, object]:
    async with storage.engine.connect() as connection:
        rows = (await connection.execute(select(stored_file).where(stored_file.c.team_id == team_id))).all()
    return {row.id: row for row in rows}


def team_objects(s3, team_id: str) -> set[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"teams/{team_id}/")
    return {item["Key"] for item in listing.get("Contents", [])}


def read_object(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


# --- presigned uploads ------------------------------------------------------------------------


async def test_an_upload_is_a_presigned_put_that_lands_tagged_for_removal(storage, s3, photo, team_id):
    data = photo(1)
    upload = await create_upload(storage, team_id, data)
    row = upload.row
    assert (row.kind, row.owner_id, row.state, row.filename) == (
        "training_image",
        "",
        "awaiting_upload",
        "photo.png",
    )
    assert (row.content_type, row.size_bytes, row.sha256_hex) == ("image/png", len(data), None)
    assert row.expires_at - row.created_at == timedelta(days=1)
    assert row.s3_key == f"teams/{team_id}/uploads/{row.id}.png"
    assert timedelta(minutes=14) < upload.url_expires_at - row.created_at <= timedelta(minutes=15)
    assert upload.headers == {"Content-Type": "image/png", "x-amz-tagging": "imagegen-retention-days=1"}

    query = parse_qs(urlsplit(upload.url).query)
    assert query["X-Amz-Expires"] == ["900"]
    # The type, the size and the tag are part of the signature, so S3 refuses a PUT with any other.
    # moto (our local S3) checks no signature at all, so the refusal itself cannot be shown here.
    assert {"content-type", "content-length", "x-amz-tagging"} <= set(
        query["X-Amz-SignedHeaders"][0].split(";")
    )

    async with httpx.AsyncClient() as client:
        response = await client.put(upload.url, content=data, headers=upload.headers)
    assert response.status_code == 200
    assert read_object(s3, row.s3_key) == data
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=row.s3_key)["TagSet"]
    assert tags == [{"Key": "imagegen-retention-days", "Value": "1"}]

    # Not readable through us until a training set has checked and claimed it.
    _, access = await handlers.get_file(storage, team_id, row.id)
    assert (access.state, access.url) == (FileState.AWAITING_UPLOAD, None)


async def test_an_upload_the_team_announces_wrongly_is_refused_field_by_field(storage, team_id):
    with pytest.raises(InvalidArgument) as caught:
        await handlers.create_upload(
            storage, team_id=team_id, content_type="image/gif", size_bytes=100_001, filename="x" * 256
        )
    assert caught.value.reason == "invalid_upload"
    assert set(caught.value.details) == {"content_type", "size_bytes", "filename"}
    assert await team_rows(storage, team_id) == {}


async def test_an_unclaimed_upload_is_removed_by_the_cleanup_after_its_expiry(
    storage, object_exists, moved, photo, team_id
):
    row = await uploaded(storage, team_id, photo(1))
    await handlers.cleanup(moved(storage, 0.9), batch_size=1000)
    assert object_exists(row.s3_key)

    await handlers.cleanup(moved(storage, 1.1), batch_size=1000)
    assert not object_exists(row.s3_key)
    after, access = await handlers.get_file(storage, team_id, row.id)
    assert (after.state, access.state) == ("expired", FileState.EXPIRED)
    assert after.removed_at is not None


async def test_the_upload_retention_and_url_lifetime_are_settings(make_storage, photo, team_id):
    storage = await make_storage(upload_retention_days=3, upload_url_ttl_seconds=60)
    upload = await create_upload(storage, team_id, photo(1))
    assert upload.row.expires_at - upload.row.created_at == timedelta(days=3)
    assert parse_qs(urlsplit(upload.url).query)["X-Amz-Expires"] == ["60"]
    assert 3 in storage.retention.all_days()


# --- training sets: problems ------------------------------------------------------------------


async def test_a_set_with_several_problems_lists_each_and_stores_nothing(
    make_storage, s3, http_files, png, photo, team_id
):
    storage = await make_storage()
    good = http_files.serve(photo(1))
    pending = await create_upload(storage, team_id, photo(2))  # never PUT
    put = await uploaded(storage, team_id, photo(3))
    others = await uploaded(storage, "another-team", photo(4))
    objects_before = team_objects(s3, team_id)
    sources = [
        url(good),
        url(f"{http_files.url}/missing.png"),
        url(http_files.serve(b"just some text")),
        url(http_files.serve(png(300, 300))),
        url(http_files.serve(photo(1))),
        upload_id(pending.row.id),
        upload_id(others.id),
        url(http_files.serve(png(300, 300, noise=True))),  # over the tests' 100,000-byte cap
        file_id("no-such-file"),
        upload_id(put.id),
    ]
    prepared = await prepare(storage, team_id, "model-1", sources, f"{team_id}/v1", rules=RULES)

    assert [(problem.index, problem.code) for problem in prepared.problems] == [
        (-1, "too_many_images"),
        (1, "unreachable"),
        (2, "not_an_image"),
        (3, "too_small"),
        (4, "duplicate"),
        (5, "upload_incomplete"),
        (6, "upload_not_found"),
        (7, "too_large"),
        (8, "file_not_found"),
    ]
    messages = {problem.index: problem.message for problem in prepared.problems}
    assert "404" in messages[1]
    assert "300x300" in messages[3]
    assert messages[4] == "the same image as source 0"
    assert (prepared.images, prepared.zip) == ([], None)

    # Nothing stored, the uploads untouched.
    rows = await team_rows(storage, team_id)
    assert set(rows) == {pending.row.id, put.id}
    assert {row.state for row in rows.values()} == {"awaiting_upload"}
    assert team_objects(s3, team_id) == objects_before


async def test_an_expired_upload_is_not_found(storage, moved, photo, team_id):
    row = await uploaded(storage, team_id, photo(1))
    prepared = await prepare(moved(storage, 2), team_id, "model-1", [upload_id(row.id)], f"{team_id}/v1")
    assert [(p.index, p.code) for p in prepared.problems] == [(-1, "too_few_images"), (0, "upload_not_found")]


# --- training sets: stored --------------------------------------------------------------------


async def test_a_valid_set_stores_its_images_and_a_zip_of_them_in_order(
    storage, s3, object_exists, http_files, photo, team_id
):
    from_urls = [photo(1), photo(2)]
    urls = [http_files.serve(data) for data in from_urls]
    upload = await uploaded(storage, team_id, photo(3))
    sources = [url(urls[0]), upload_id(upload.id), url(urls[1])]
    prepared = await prepare(storage, team_id, "model-1", sources, f"{team_id}/v1")

    assert prepared.problems == []
    expected = [from_urls[0], photo(3), from_urls[1]]
    assert len(prepared.images) == 3
    for image, data in zip(prepared.images, expected, strict=True):
        assert (image.kind, image.owner_id, image.state, image.expires_at) == (
            "training_image",
            "model-1",
            "stored",
            None,
        )
        assert (image.content_type, image.width, image.height) == ("image/png", 600, 800)
        assert (image.size_bytes, image.sha256_hex) == (len(data), hashlib.sha256(data).hexdigest())
        assert image.s3_key.startswith(f"teams/{team_id}/training_image/model-1/")
        assert read_object(s3, image.s3_key) == data

    # The upload is claimed: the same file, now the model's, its checked bytes under the model's
    # prefix, and the object the client PUT gone.
    claimed = prepared.images[1]
    assert (claimed.id, claimed.filename) == (upload.id, "photo.png")
    assert not object_exists(upload.s3_key)
    assert s3.get_object_tagging(Bucket=BUCKET, Key=claimed.s3_key)["TagSet"] == []

    zip_row = prepared.zip
    assert (zip_row.kind, zip_row.owner_id, zip_row.content_type, zip_row.expires_at) == (
        "training_zip",
        "model-1",
        "application/zip",
        None,
    )
    with zipfile.ZipFile(io.BytesIO(read_object(s3, zip_row.s3_key))) as archive:
        assert archive.namelist() == ["000.png", "001.png", "002.png"]
        assert [archive.read(name) for name in archive.namelist()] == expected


async def test_a_replay_returns_the_first_set_without_fetching_again(storage, http_files, photo, team_id):
    urls = [http_files.serve(photo(1)), http_files.serve(photo(2))]
    upload = await uploaded(storage, team_id, photo(3))
    sources = [url(urls[0]), url(urls[1]), upload_id(upload.id)]
    first = await prepare(storage, team_id, "model-1", sources, f"{team_id}/v1")
    again = await prepare(storage, team_id, "model-1", sources, f"{team_id}/v1")

    assert [image.id for image in again.images] == [image.id for image in first.images]
    assert again.zip.id == first.zip.id
    assert [http_files.times_requested(address) for address in urls] == [1, 1]


async def test_two_calls_with_one_key_at_once_make_one_set(storage, http_files, photo, team_id):
    urls = [http_files.serve(photo(n)) for n in range(4)]
    sources = [url(address) for address in urls]
    first, second = await asyncio.gather(
        prepare(storage, team_id, "model-1", sources, f"{team_id}/v1"),
        prepare(storage, team_id, "model-1", sources, f"{team_id}/v1"),
    )
    assert [image.id for image in first.images] == [image.id for image in second.images]
    assert first.zip.id == second.zip.id
    assert [http_files.times_requested(address) for address in urls] == [1, 1, 1, 1]
    assert len(await team_rows(storage, team_id)) == 5


async def test_a_later_set_reuses_the_models_images_by_id(storage, s3, http_files, photo, team_id):
    first = await prepare(
        storage, team_id, "model-1", [url(http_files.serve(photo(n))) for n in range(2)], f"{team_id}/v1"
    )
    sources = [file_id(image.id) for image in first.images] + [url(http_files.serve(photo(2)))]
    second = await prepare(storage, team_id, "model-1", sources, f"{team_id}/v2")

    assert second.problems == []
    assert [image.id for image in second.images[:2]] == [image.id for image in first.images]
    assert second.zip.id != first.zip.id
    with zipfile.ZipFile(io.BytesIO(read_object(s3, second.zip.s3_key))) as archive:
        assert archive.read("000.png") == photo(0)

    # Another model cannot use them.
    other = await prepare(storage, team_id, "model-2", sources, f"{team_id}/other")
    assert [(p.index, p.code) for p in other.problems] == [(0, "file_not_found"), (1, "file_not_found")]


async def test_an_upload_used_by_one_model_is_refused_to_another(storage, http_files, photo, team_id):
    upload = await uploaded(storage, team_id, photo(1))
    sources = [upload_id(upload.id), url(http_files.serve(photo(2)))]
    assert (await prepare(storage, team_id, "model-1", sources, f"{team_id}/a")).problems == []
    # The owner may list it again (it is its file now); another model may not.
    again = await prepare(storage, team_id, "model-1", sources, f"{team_id}/b")
    assert (again.problems, again.images[0].id) == ([], upload.id)
    other = await prepare(storage, team_id, "model-2", sources, f"{team_id}/c")
    assert [(p.index, p.code) for p in other.problems] == [(0, "upload_already_used")]


async def test_two_models_racing_for_one_upload_never_both_get_it(storage, s3, http_files, photo, team_id):
    upload = await uploaded(storage, team_id, photo(1))
    results = await asyncio.gather(
        *(
            prepare(
                storage,
                team_id,
                f"model-{n}",
                [upload_id(upload.id), url(http_files.serve(photo(10 + n)))],
                f"{team_id}/{n}",
            )
            for n in range(2)
        ),
        return_exceptions=True,
    )
    winners = [result for result in results if not isinstance(result, Exception) and result.zip]
    assert len(winners) == 1
    [loser] = [result for result in results if result not in winners]
    # It lost while checking (the upload was claimed already) or while claiming (the caller retries).
    assert isinstance(loser, TrainingSetChanged) or [p.code for p in loser.problems] == [
        "upload_already_used"
    ]
    # No object is left that no row points at.
    rows = await team_rows(storage, team_id)
    assert team_objects(s3, team_id) == {row.s3_key for row in rows.values() if row.state == "stored"}


# --- files a caller puts, and owners deleted ---------------------------------------------------


async def test_a_model_config_is_put_once_per_key_and_kept_as_long_as_its_model(storage, s3, team_id):
    config = b'{"trigger_word": "ohwx", "steps": 1000}'
    row = await handlers.put_file(
        storage,
        team_id=team_id,
        kind=FileKind.MODEL_CONFIG,
        owner_id="model-1",
        content=config,
        idempotency_key=f"{team_id}/config",
    )
    assert (row.kind, row.content_type, row.expires_at, row.size_bytes) == (
        "model_config",
        "application/json",
        None,
        len(config),
    )
    assert row.s3_key == f"teams/{team_id}/model_config/model-1/{row.id}.json"
    assert read_object(s3, row.s3_key) == config
    again = await handlers.put_file(
        storage,
        team_id=team_id,
        kind=FileKind.MODEL_CONFIG,
        owner_id="model-1",
        content=config,
        idempotency_key=f"{team_id}/config",
    )
    assert again.id == row.id
    assert len(await team_rows(storage, team_id)) == 1


@pytest.mark.parametrize(
    ("kind", "content", "reason"),
    [
        (FileKind.MODEL_CONFIG, b"[]", "not_a_json_object"),
        (FileKind.PREVIEW, b"not an image", "not_an_image"),
        (FileKind.PREVIEW, b"\0" * (4 * 1024 * 1024 + 1), "file_too_large"),
    ],
)
async def test_bad_bytes_are_refused_and_nothing_is_stored(storage, team_id, kind, content, reason):
    with pytest.raises(InvalidArgument) as caught:
        await handlers.put_file(
            storage, team_id=team_id, kind=kind, owner_id="model-1", content=content, idempotency_key=team_id
        )
    assert caught.value.reason == reason
    assert await team_rows(storage, team_id) == {}


async def test_deleting_a_model_removes_its_training_set_weights_and_config(
    storage, s3, object_exists, http_files, photo, team_id
):
    upload = await uploaded(storage, team_id, photo(1))
    prepared = await prepare(
        storage, team_id, "model-1", [upload_id(upload.id), url(http_files.serve(photo(2)))], f"{team_id}/v1"
    )
    header = b'{"__metadata__": {}}'
    weights = len(header).to_bytes(8, "little") + header
    put = [
        await handlers.put_file(
            storage, team_id=team_id, kind=kind, owner_id="model-1", content=content, idempotency_key=key
        )
        for kind, content, key in [
            (FileKind.LORA_WEIGHTS, weights, f"{team_id}/weights"),
            (FileKind.MODEL_CONFIG, b"{}", f"{team_id}/config"),
        ]
    ]
    kept = await prepare(
        storage, team_id, "model-2", [url(http_files.serve(photo(n))) for n in (3, 4)], f"{team_id}/kept"
    )
    files = [*prepared.images, prepared.zip, *put]

    assert await handlers.delete_owner_files(storage, team_id, "model-1") == 5
    await handlers.cleanup(storage, batch_size=1000)

    for row in files:
        after, access = await handlers.get_file(storage, team_id, row.id)
        assert (after.state, access.state) == ("deleted", FileState.DELETED)
        assert not object_exists(row.s3_key)
    assert all(object_exists(row.s3_key) for row in [*kept.images, kept.zip])
    # The replay of a deleted set says what became of it.
    replay = await prepare(storage, team_id, "model-1", [], f"{team_id}/v1")
    assert [image.state for image in replay.images] == ["deleted", "deleted"]


async def test_when_s3_fails_while_reading_the_call_fails_and_stores_nothing(
    storage, photo, team_id, monkeypatch
):
    upload = await uploaded(storage, team_id, photo(1))

    async def unavailable(key, max_bytes):
        raise Unavailable("storage_unavailable", "the file could not be read")

    monkeypatch.setattr(storage.blobs, "read", unavailable)
    with pytest.raises(Unavailable):
        await prepare(
            storage, team_id, "model-1", [upload_id(upload.id), upload_id(upload.id)], f"{team_id}/v1"
        )
    assert [row.state for row in (await team_rows(storage, team_id)).values()] == ["awaiting_upload"]

"""The StorageService contract: the real gRPC server in-process, called through the generated stub,
on the real Postgres and S3 server."""

import io
import zipfile

import grpc
import httpx
import pytest
from imagegen.storage.v1 import storage_pb2, storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform.grpc_client import error_reason, open_channel
from imagegen_platform.grpc_server import start_server, stop_server
from imagegen_storage.__main__ import storage_service

RULES = storage_pb2.TrainingSetRules(min_images=2, max_images=10, min_short_side_pixels=512)


@pytest.fixture
async def stub(storage):
    server, health, port = await start_server("127.0.0.1", 0, storage_service(storage))
    channel = open_channel(f"127.0.0.1:{port}", timeout_seconds=30)
    yield storage_service_pb2_grpc.StorageServiceStub(channel)
    await channel.close()
    await stop_server(server, health, grace=None)


@pytest.fixture
def photo_url(http_files, png):
    """The URL of a distinct 600x800 photo per number."""
    return lambda n: http_files.serve(png(600, 800, color=(n % 256, 60, 90)))


async def fails(call, code: grpc.StatusCode) -> tuple[str | None, dict[str, str]]:
    """The ErrorInfo reason and metadata of a call that must fail with this code."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return error_reason(caught.value)


async def import_image(stub, team_id: str, url: str, owner_id: str = "job-1"):
    response = await stub.ImportFile(
        storage_service_pb2.ImportFileRequest(
            team_id=team_id,
            kind=storage_pb2.FILE_KIND_GENERATED_IMAGE,
            owner_id=owner_id,
            source_url=url,
            idempotency_key=f"{team_id}/{url}",
        )
    )
    return response.file


async def upload(stub, team_id: str, data: bytes) -> storage_pb2.StoredFile:
    response = await stub.CreateUpload(
        storage_service_pb2.CreateUploadRequest(
            team_id=team_id, content_type="image/png", size_bytes=len(data), filename="me.png"
        )
    )
    async with httpx.AsyncClient() as client:
        put = await client.put(response.upload_url, content=data, headers=dict(response.upload_headers))
    assert put.status_code == 200
    return response.file


def training_set(team_id: str, owner_id: str, key: str, *sources: storage_pb2.TrainingImageSource):
    return storage_service_pb2.PrepareTrainingSetRequest(
        team_id=team_id, owner_id=owner_id, sources=sources, rules=RULES, idempotency_key=key
    )


async def test_imported_files_are_read_through_fresh_urls_and_another_team_finds_none(
    stub, photo_url, team_id
):
    stored = await import_image(stub, team_id, photo_url(1))
    assert (stored.kind, stored.state, stored.width, stored.height) == (
        storage_pb2.FILE_KIND_GENERATED_IMAGE,
        storage_pb2.FILE_STATE_STORED,
        600,
        800,
    )
    signed = await stub.SignFileUrls(
        storage_service_pb2.SignFileUrlsRequest(team_id=team_id, file_ids=[stored.id])
    )
    async with httpx.AsyncClient() as client:
        assert (await client.get(signed.signed_urls[0].url)).status_code == 200
    got = await stub.GetFile(storage_service_pb2.GetFileRequest(team_id=team_id, file_id=stored.id))
    assert (got.file.id, got.signed_url.state) == (stored.id, storage_pb2.FILE_STATE_STORED)

    for call in (
        stub.GetFile(storage_service_pb2.GetFileRequest(team_id="another-team", file_id=stored.id)),
        stub.SignFileUrls(
            storage_service_pb2.SignFileUrlsRequest(team_id="another-team", file_ids=[stored.id])
        ),
    ):
        reason, _ = await fails(call, grpc.StatusCode.NOT_FOUND)
        assert reason == "file_not_found"


@pytest.mark.parametrize(
    ("request_fields", "reason"),
    [
        ({"kind": storage_pb2.FILE_KIND_UNSPECIFIED}, "invalid_import"),
        ({"source_url": "http://10.0.0.7/a.png"}, "source_not_allowed"),
        ({"source_url": "not a url"}, "invalid_url"),
    ],
)
async def test_bad_imports_are_invalid_arguments(stub, team_id, request_fields, reason):
    request = storage_service_pb2.ImportFileRequest(
        team_id=team_id,
        kind=storage_pb2.FILE_KIND_GENERATED_IMAGE,
        owner_id="job-1",
        source_url="http://example.invalid/a.png",
        idempotency_key=team_id,
    )
    for name, value in request_fields.items():
        setattr(request, name, value)
    assert (await fails(stub.ImportFile(request), grpc.StatusCode.INVALID_ARGUMENT))[0] == reason


async def test_get_file_and_delete_owner_files_need_their_ids(stub, team_id):
    for call in (
        stub.GetFile(storage_service_pb2.GetFileRequest(team_id=team_id)),
        stub.DeleteOwnerFiles(storage_service_pb2.DeleteOwnerFilesRequest(owner_id="job-1")),
    ):
        assert (await fails(call, grpc.StatusCode.INVALID_ARGUMENT))[0] == "invalid_request"


async def test_deleting_an_owner_marks_only_that_teams_files(stub, photo_url, team_id):
    stored = await import_image(stub, team_id, photo_url(1), owner_id="job-9")
    other_team = await stub.DeleteOwnerFiles(
        storage_service_pb2.DeleteOwnerFilesRequest(team_id="another-team", owner_id="job-9")
    )
    deleted = await stub.DeleteOwnerFiles(
        storage_service_pb2.DeleteOwnerFilesRequest(team_id=team_id, owner_id="job-9")
    )
    assert (other_team.marked, deleted.marked) == (0, 1)
    got = await stub.GetFile(storage_service_pb2.GetFileRequest(team_id=team_id, file_id=stored.id))
    assert (got.file.state, got.signed_url.url) == (storage_pb2.FILE_STATE_DELETED, "")


async def test_an_upload_is_handed_out_and_awaits_its_bytes(stub, png, team_id):
    data = png(600, 800)
    response = await stub.CreateUpload(
        storage_service_pb2.CreateUploadRequest(
            team_id=team_id, content_type="image/png", size_bytes=len(data), filename="me.png"
        )
    )
    assert (response.file.kind, response.file.state, response.file.owner_id) == (
        storage_pb2.FILE_KIND_TRAINING_IMAGE,
        storage_pb2.FILE_STATE_AWAITING_UPLOAD,
        "",
    )
    assert dict(response.upload_headers) == {
        "Content-Type": "image/png",
        "x-amz-tagging": "imagegen-retention-days=1",
    }
    assert response.upload_expires_at.ToDatetime() > response.file.created_at.ToDatetime()
    async with httpx.AsyncClient() as client:
        put = await client.put(response.upload_url, content=data, headers=dict(response.upload_headers))
    assert put.status_code == 200

    got = await stub.GetFile(storage_service_pb2.GetFileRequest(team_id=team_id, file_id=response.file.id))
    assert (got.file.state, got.signed_url.url) == (storage_pb2.FILE_STATE_AWAITING_UPLOAD, "")
    await fails(
        stub.GetFile(storage_service_pb2.GetFileRequest(team_id="another-team", file_id=response.file.id)),
        grpc.StatusCode.NOT_FOUND,
    )


@pytest.mark.parametrize(
    ("request_fields", "fields"),
    [
        ({"team_id": ""}, {"team_id"}),
        ({"content_type": "image/gif", "size_bytes": 0}, {"content_type", "size_bytes"}),
        ({"size_bytes": 100_001, "filename": "x" * 256}, {"size_bytes", "filename"}),
    ],
)
async def test_a_wrongly_announced_upload_names_each_wrong_field(stub, team_id, request_fields, fields):
    request = storage_service_pb2.CreateUploadRequest(
        team_id=team_id, content_type="image/png", size_bytes=1000, filename="me.png"
    )
    for name, value in request_fields.items():
        setattr(request, name, value)
    reason, metadata = await fails(stub.CreateUpload(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert (reason, set(metadata)) == ("invalid_upload", fields)


async def test_a_training_set_is_stored_from_urls_and_uploads_once_per_key(stub, s3, png, photo_url, team_id):
    uploaded = await upload(stub, team_id, png(600, 800, color=(1, 1, 1)))
    request = training_set(
        team_id,
        "model-1",
        f"{team_id}/v1",
        storage_pb2.TrainingImageSource(url=photo_url(1)),
        storage_pb2.TrainingImageSource(upload_id=uploaded.id),
    )
    first = await stub.PrepareTrainingSet(request)
    assert list(first.problems) == []
    assert [image.id for image in first.images][1] == uploaded.id
    assert {(image.kind, image.owner_id, image.state) for image in first.images} == {
        (storage_pb2.FILE_KIND_TRAINING_IMAGE, "model-1", storage_pb2.FILE_STATE_STORED)
    }
    assert first.zip.kind == storage_pb2.FILE_KIND_TRAINING_ZIP
    zip_url = (
        await stub.GetFile(storage_service_pb2.GetFileRequest(team_id=team_id, file_id=first.zip.id))
    ).signed_url
    async with httpx.AsyncClient() as client:
        archive = zipfile.ZipFile(io.BytesIO((await client.get(zip_url.url)).content))
    assert archive.namelist() == ["000.png", "001.png"]

    again = await stub.PrepareTrainingSet(request)
    assert (again.zip.id, [image.id for image in again.images]) == (
        first.zip.id,
        [image.id for image in first.images],
    )
    await fails(
        stub.GetFile(storage_service_pb2.GetFileRequest(team_id="another-team", file_id=first.zip.id)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_a_training_set_with_problems_answers_them_all(stub, png, photo_url, team_id):
    others = await upload(stub, "another-team", png(600, 800, color=(2, 2, 2)))
    response = await stub.PrepareTrainingSet(
        training_set(
            team_id,
            "model-1",
            f"{team_id}/v1",
            storage_pb2.TrainingImageSource(url=photo_url(1)),
            storage_pb2.TrainingImageSource(upload_id=others.id),
            storage_pb2.TrainingImageSource(file_id="no-such-file"),
        )
    )
    assert [(problem.index, problem.code) for problem in response.problems] == [
        (1, "upload_not_found"),
        (2, "file_not_found"),
    ]
    assert (list(response.images), response.HasField("zip")) == ([], False)


async def test_a_malformed_training_set_request_names_each_wrong_field(stub, team_id):
    request = storage_service_pb2.PrepareTrainingSetRequest(
        team_id=team_id,
        sources=[
            storage_pb2.TrainingImageSource(url="http://example.com/a.png"),
            storage_pb2.TrainingImageSource(),
        ],
        rules=storage_pb2.TrainingSetRules(min_images=0, max_images=10),
        idempotency_key=f"{team_id}/v1",
    )
    reason, metadata = await fails(stub.PrepareTrainingSet(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert (reason, set(metadata)) == ("invalid_training_set", {"owner_id", "rules.min_images", "sources[1]"})


async def test_put_file_stores_a_model_config_once_per_key(stub, team_id):
    request = storage_service_pb2.PutFileRequest(
        team_id=team_id,
        kind=storage_pb2.FILE_KIND_MODEL_CONFIG,
        owner_id="model-1",
        content=b'{"steps": 1000}',
        idempotency_key=f"{team_id}/config",
    )
    first = await stub.PutFile(request)
    again = await stub.PutFile(request)
    assert (first.file.kind, first.file.content_type, first.file.HasField("expires_at")) == (
        storage_pb2.FILE_KIND_MODEL_CONFIG,
        "application/json",
        False,
    )
    assert again.file.id == first.file.id


@pytest.mark.parametrize(
    ("request_fields", "reason"),
    [
        ({"kind": storage_pb2.FILE_KIND_UNSPECIFIED}, "invalid_request"),
        ({"idempotency_key": ""}, "invalid_request"),
        ({"content": b"[1, 2]"}, "not_a_json_object"),
    ],
)
async def test_bad_put_files_are_invalid_arguments(stub, team_id, request_fields, reason):
    request = storage_service_pb2.PutFileRequest(
        team_id=team_id,
        kind=storage_pb2.FILE_KIND_MODEL_CONFIG,
        owner_id="model-1",
        content=b"{}",
        idempotency_key=team_id,
    )
    for name, value in request_fields.items():
        setattr(request, name, value)
    assert (await fails(stub.PutFile(request), grpc.StatusCode.INVALID_ARGUMENT))[0] == reason

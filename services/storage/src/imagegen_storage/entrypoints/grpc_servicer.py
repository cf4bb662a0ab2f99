"""StorageService over gRPC: translates between wire messages and the handlers."""

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.storage.v1 import storage_pb2, storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument

from imagegen_storage.domain.files import FileKind, FileState
from imagegen_storage.domain.training_sets import ImageSource, SourceKind, TrainingSetRules
from imagegen_storage.service_layer import handlers, training_sets

_KIND_FROM_WIRE = {
    storage_pb2.FILE_KIND_GENERATED_IMAGE: FileKind.GENERATED_IMAGE,
    storage_pb2.FILE_KIND_TRAINING_ZIP: FileKind.TRAINING_ZIP,
    storage_pb2.FILE_KIND_TRAINING_IMAGE: FileKind.TRAINING_IMAGE,
    storage_pb2.FILE_KIND_LORA_WEIGHTS: FileKind.LORA_WEIGHTS,
    storage_pb2.FILE_KIND_PREVIEW: FileKind.PREVIEW,
    storage_pb2.FILE_KIND_MODEL_CONFIG: FileKind.MODEL_CONFIG,
}
_KIND_TO_WIRE = {kind: wire for wire, kind in _KIND_FROM_WIRE.items()}
_STATE_TO_WIRE = {
    FileState.STORED: storage_pb2.FILE_STATE_STORED,
    FileState.EXPIRED: storage_pb2.FILE_STATE_EXPIRED,
    FileState.DELETED: storage_pb2.FILE_STATE_DELETED,
    FileState.AWAITING_UPLOAD: storage_pb2.FILE_STATE_AWAITING_UPLOAD,
}


def _timestamp(value) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def stored_file_message(row, state: FileState | None = None) -> storage_pb2.StoredFile:
    return storage_pb2.StoredFile(
        id=row.id,
        team_id=row.team_id,
        kind=_KIND_TO_WIRE[FileKind(row.kind)],
        owner_id=row.owner_id,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256_hex=row.sha256_hex or "",
        width=row.width or 0,
        height=row.height or 0,
        created_at=_timestamp(row.created_at),
        expires_at=_timestamp(row.expires_at),
        state=_STATE_TO_WIRE[state or FileState(row.state)],
        removed_at=_timestamp(row.removed_at),
    )


def signed_url_message(access: handlers.Access) -> storage_pb2.SignedUrl:
    return storage_pb2.SignedUrl(
        file_id=access.file_id,
        url=access.url or "",
        expires_at=_timestamp(access.url_expires_at),
        state=_STATE_TO_WIRE[access.state],
        file_expires_at=_timestamp(access.file_expires_at),
    )


def _required(**fields: object) -> dict[str, str]:
    """Field errors for the required fields left empty, by field name."""
    return {name: "is required" for name, value in fields.items() if not value}


class StorageServicer(storage_service_pb2_grpc.StorageServiceServicer):
    def __init__(self, storage: handlers.Storage) -> None:
        self.storage = storage

    async def ImportFile(self, request, context: grpc.aio.ServicerContext):
        """Copy a file from a URL into the team's prefix, once per key."""
        kind = _KIND_FROM_WIRE.get(request.kind)
        if kind is None or not request.team_id or not request.owner_id or not request.idempotency_key:
            raise InvalidArgument(
                "invalid_import", "team_id, kind, owner_id and idempotency_key are required"
            )
        row = await handlers.import_file(
            self.storage,
            team_id=request.team_id,
            kind=kind,
            owner_id=request.owner_id,
            source_url=request.source_url,
            idempotency_key=request.idempotency_key,
            plan=request.plan,
        )
        return storage_service_pb2.ImportFileResponse(file=stored_file_message(row))

    async def SignFileUrls(self, request, context: grpc.aio.ServicerContext):
        """Sign fresh read URLs for a team's files; expired or deleted files carry their state."""
        signed = await handlers.sign_urls(self.storage, request.team_id, list(request.file_ids))
        return storage_service_pb2.SignFileUrlsResponse(
            signed_urls=[signed_url_message(access) for access in signed]
        )

    async def GetFile(self, request, context: grpc.aio.ServicerContext):
        """One of a team's files with a fresh read URL while it can be read."""
        if not request.team_id or not request.file_id:
            raise InvalidArgument("invalid_request", "team_id and file_id are required")
        row, access = await handlers.get_file(self.storage, request.team_id, request.file_id)
        return storage_service_pb2.GetFileResponse(
            file=stored_file_message(row, access.state), signed_url=signed_url_message(access)
        )

    async def DeleteOwnerFiles(self, request, context: grpc.aio.ServicerContext):
        """Mark every file of a deleted job or model for removal."""
        if not request.team_id or not request.owner_id:
            raise InvalidArgument("invalid_request", "team_id and owner_id are required")
        marked = await handlers.delete_owner_files(self.storage, request.team_id, request.owner_id)
        return storage_service_pb2.DeleteOwnerFilesResponse(marked=marked)

    async def PutFile(self, request, context: grpc.aio.ServicerContext):
        """Store small bytes the caller already has, once per key."""
        kind = _KIND_FROM_WIRE.get(request.kind)
        violations = _required(
            team_id=request.team_id,
            kind=kind,
            owner_id=request.owner_id,
            idempotency_key=request.idempotency_key,
        )
        if violations or kind is None:
            raise InvalidArgument("invalid_request", "the file cannot be stored", violations)
        row = await handlers.put_file(
            self.storage,
            team_id=request.team_id,
            kind=kind,
            owner_id=request.owner_id,
            content=request.content,
            idempotency_key=request.idempotency_key,
        )
        return storage_service_pb2.PutFileResponse(file=stored_file_message(row))

    async def CreateUpload(self, request, context: grpc.aio.ServicerContext):
        """Hand out a presigned PUT for one training image of a team."""
        violations = _required(team_id=request.team_id)
        if violations:
            raise InvalidArgument("invalid_upload", "the upload cannot be accepted", violations)
        upload = await handlers.create_upload(
            self.storage,
            team_id=request.team_id,
            content_type=request.content_type,
            size_bytes=request.size_bytes,
            filename=request.filename,
        )
        return storage_service_pb2.CreateUploadResponse(
            file=stored_file_message(upload.row),
            upload_url=upload.url,
            upload_expires_at=_timestamp(upload.url_expires_at),
            upload_headers=upload.headers,
        )

    async def PrepareTrainingSet(self, request, context: grpc.aio.ServicerContext):
        """Check a training set and store its images and zip for the owner, or list every problem."""
        rules = TrainingSetRules(
            min_images=request.rules.min_images,
            max_images=request.rules.max_images,
            min_short_side_pixels=request.rules.min_short_side_pixels,
        )
        violations = _required(
            team_id=request.team_id, owner_id=request.owner_id, idempotency_key=request.idempotency_key
        )
        violations |= {f"rules.{name}": problem for name, problem in rules.violations().items()}
        sources = []
        for index, source in enumerate(request.sources):
            # The oneof's field names are the source kinds' values.
            which = source.WhichOneof("source")
            if which is None or not getattr(source, which):
                violations[f"sources[{index}]"] = "must set url, upload_id or file_id"
            else:
                sources.append(ImageSource(SourceKind(which), getattr(source, which)))
        if violations:
            raise InvalidArgument("invalid_training_set", "the training set request is not valid", violations)
        prepared = await training_sets.prepare_training_set(
            self.storage,
            team_id=request.team_id,
            owner_id=request.owner_id,
            sources=sources,
            rules=rules,
            idempotency_key=request.idempotency_key,
        )
        return storage_service_pb2.PrepareTrainingSetResponse(
            problems=[
                storage_pb2.TrainingSetProblem(
                    index=problem.index, code=problem.code, message=problem.message
                )
                for problem in prepared.problems
            ],
            images=[stored_file_message(row) for row in prepared.images],
            zip=stored_file_message(prepared.zip) if prepared.zip is not None else None,
        )

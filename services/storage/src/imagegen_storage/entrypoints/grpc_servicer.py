"""StorageService over gRPC: translates between wire messages and the handlers."""

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.storage.v1 import storage_pb2, storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument

from imagegen_storage.domain.files import FileKind, FileState
from imagegen_storage.service_layer import handlers

_KIND_FROM_WIRE = {
    storage_pb2.FILE_KIND_GENERATED_IMAGE: FileKind.GENERATED_IMAGE,
    storage_pb2.FILE_KIND_TRAINING_ZIP: FileKind.TRAINING_ZIP,
    storage_pb2.FILE_KIND_TRAINING_IMAGE: FileKind.TRAINING_IMAGE,
    storage_pb2.FILE_KIND_LORA_WEIGHTS: FileKind.LORA_WEIGHTS,
    storage_pb2.FILE_KIND_PREVIEW: FileKind.PREVIEW,
}
_KIND_TO_WIRE = {kind: wire for wire, kind in _KIND_FROM_WIRE.items()}
_STATE_TO_WIRE = {
    FileState.STORED: storage_pb2.FILE_STATE_STORED,
    FileState.EXPIRED: storage_pb2.FILE_STATE_EXPIRED,
    FileState.DELETED: storage_pb2.FILE_STATE_DELETED,
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
        sha256_hex=row.sha256_hex,
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

"""StorageService over gRPC: translates between wire messages and the handlers."""

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.storage.v1 import storage_pb2, storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument

from imagegen_storage.domain.files import FileKind
from imagegen_storage.service_layer import handlers

_KIND_FROM_WIRE = {storage_pb2.FILE_KIND_GENERATED_IMAGE: FileKind.GENERATED_IMAGE}
_KIND_TO_WIRE = {kind: wire for wire, kind in _KIND_FROM_WIRE.items()}


def _timestamp(value) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def stored_file_message(row) -> storage_pb2.StoredFile:
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
        )
        return storage_service_pb2.ImportFileResponse(file=stored_file_message(row))

    async def SignFileUrls(self, request, context: grpc.aio.ServicerContext):
        """Sign fresh read URLs for a team's files."""
        signed = await handlers.sign_urls(self.storage, request.team_id, list(request.file_ids))
        return storage_service_pb2.SignFileUrlsResponse(
            signed_urls=[
                storage_pb2.SignedUrl(file_id=file_id, url=url, expires_at=_timestamp(expires_at))
                for file_id, url, expires_at in signed
            ]
        )

"""PrepareTrainingSet: check every image of a set, then store the images and a zip of them, or nothing.

Three steps. Read every source's bytes, a few at a time, checking and spooling each (in memory up to
SPOOL_IN_MEMORY_BYTES, in a temporary file beyond). Check the images and the set, collecting every
problem; with any, answer them all and store nothing. Store each image (a fetched one as a new file,
an upload claimed by the owner, an earlier file of the owner as it is), then the zip, whose row
commits together with the list of its images: that list is what a replay answers with.
"""

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from imagegen_platform.errors import DomainError
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from imagegen_storage.adapters.tables import stored_file, training_set_image
from imagegen_storage.domain.files import FileInfo, FileKind, FileState, ImageInfo, object_key, state_at
from imagegen_storage.domain.training_sets import (
    CheckedImage,
    ImageSource,
    SourceKind,
    TrainingSetChanged,
    TrainingSetProblem,
    TrainingSetRules,
    TrainingZip,
    check_image,
    training_set_problems,
)
from imagegen_storage.service_layer.handlers import Storage, object_metadata, store_object

# Sources read at once: enough to hide each fetch's latency, few enough to bound memory and load.
CONCURRENT_READS = 8
# Bytes of one image (or of the zip) kept in memory before the spool moves to a temporary file.
SPOOL_IN_MEMORY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PreparedTrainingSet:
    """Every problem of the set (then nothing was stored), or its stored images and zip."""

    problems: list[TrainingSetProblem]
    images: list[Any]
    zip: Any | None


class _Unreadable(Exception):
    """A source whose bytes could not be had: a problem of its index, not a failure of the call."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _ReadImage:
    source: ImageSource
    checked: CheckedImage
    # The bytes, spooled until the store.
    body: IO[bytes]
    # The upload's or earlier file's row; None for a URL.
    row: Any | None

    @property
    def image(self) -> ImageInfo:
        # Only images without problems are stored, and not being an image is a problem.
        assert self.checked.image is not None
        return self.checked.image


async def prepare_training_set(
    storage: Storage,
    *,
    team_id: str,
    owner_id: str,
    sources: Sequence[ImageSource],
    rules: TrainingSetRules,
    idempotency_key: str,
) -> PreparedTrainingSet:
    """Check a training set and store it for its owner, once per key; a replay returns the first
    result without reading any source again.

    A failure while storing (S3 down, an upload lost to another call) leaves what was stored the
    owner's: a retry with the same key reuses it, and deleting the owner removes it."""
    zip_key = f"{idempotency_key}/zip"
    # Concurrency: calls with one key take turns on a transaction-scoped advisory lock (released
    # however the call ends), so a concurrent replay waits for the first call and answers with its
    # result: one key never yields two sets, nor fetches twice. The lock's connection idles in its
    # transaction meanwhile: one pooled connection per set being prepared.
    async with storage.engine.connect() as lock, lock.begin():
        await lock.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(zip_key, 0))))
        prepared = await _prepared(lock, zip_key)
        if prepared is not None:
            return prepared
        with contextlib.ExitStack() as spools:
            reads, unreadable = await _read_sources(storage, team_id, owner_id, sources, spools)
            checked = [read.checked for read in reads]
            problems = training_set_problems(rules, len(sources), checked, unreadable)
            if problems:
                return PreparedTrainingSet(problems, [], None)
            return await _store(storage, team_id, owner_id, idempotency_key, reads)


async def _prepared(connection: AsyncConnection, zip_key: str) -> PreparedTrainingSet | None:
    """The set stored under this key before, if any."""
    zip_row = (
        await connection.execute(select(stored_file).where(stored_file.c.idempotency_key == zip_key))
    ).one_or_none()
    if zip_row is None:
        return None
    images = (
        await connection.execute(
            select(stored_file)
            .join(training_set_image, training_set_image.c.image_file_id == stored_file.c.id)
            .where(training_set_image.c.zip_file_id == zip_row.id)
            .order_by(training_set_image.c.position)
        )
    ).all()
    return PreparedTrainingSet([], list(images), zip_row)


async def _read_sources(
    storage: Storage,
    team_id: str,
    owner_id: str,
    sources: Sequence[ImageSource],
    spools: contextlib.ExitStack,
) -> tuple[list[_ReadImage], list[TrainingSetProblem]]:
    """Every source's bytes, checked and spooled, in source order; the problems of those unreadable."""
    rows = await _referenced_rows(storage, team_id, sources)
    now = storage.clock()
    limit = asyncio.Semaphore(CONCURRENT_READS)

    async def read(index: int, source: ImageSource) -> _ReadImage | TrainingSetProblem:
        # Within the limit until spooled, so at most CONCURRENT_READS images are in memory at once.
        async with limit:
            row = rows.get(source.reference) if source.kind is not SourceKind.URL else None
            try:
                data = await _source_bytes(storage, source, row, owner_id, now)
            except _Unreadable as unreadable:
                return TrainingSetProblem(index, unreadable.code, unreadable.message)
            checked = await asyncio.to_thread(check_image, index, data)
            body = spools.enter_context(tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY_BYTES))
            body.write(data)
            return _ReadImage(source, checked, body, row)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(read(index, source)) for index, source in enumerate(sources)]
    except ExceptionGroup as failures:
        # A failure of ours (S3 down) cancelled the other reads and fails the call with its own error.
        raise failures.exceptions[0] from None
    results = [task.result() for task in tasks]
    reads = [result for result in results if isinstance(result, _ReadImage)]
    unreadable = [result for result in results if isinstance(result, TrainingSetProblem)]
    return reads, unreadable


async def _referenced_rows(storage: Storage, team_id: str, sources: Sequence[ImageSource]) -> dict[str, Any]:
    """The team's training images the sources name by id (another team's ids find nothing)."""
    ids = [source.reference for source in sources if source.kind is not SourceKind.URL]
    if not ids:
        return {}
    async with storage.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(stored_file).where(
                    stored_file.c.team_id == team_id,
                    stored_file.c.kind == FileKind.TRAINING_IMAGE.value,
                    stored_file.c.id.in_(ids),
                )
            )
        ).all()
    return {row.id: row for row in rows}


async def _source_bytes(
    storage: Storage, source: ImageSource, row: Any | None, owner_id: str, now: datetime
) -> bytes:
    if source.kind is SourceKind.URL:
        try:
            return await storage.fetcher.fetch(source.reference)
        except DomainError as error:
            # Whatever stops the fetch (a refused address, a 404, a timeout) is the set's to fix.
            code = "too_large" if error.reason == "file_too_large" else "unreachable"
            raise _Unreadable(code, f"the image could not be fetched: {error.message}") from None
    state = None
    if row is not None:
        state = state_at(FileState(row.state), row.expires_at, row.delete_requested_at is not None, now)
    if source.kind is SourceKind.UPLOAD:
        if state is FileState.STORED and row.owner_id != owner_id:
            raise _Unreadable("upload_already_used", "the upload is in another model's training set")
        if state not in (FileState.AWAITING_UPLOAD, FileState.STORED):
            raise _Unreadable(
                "upload_not_found", "no such upload (uploads no training set uses in time expire)"
            )
        missing = _Unreadable("upload_incomplete", "nothing has been uploaded to the upload's URL yet")
    else:
        missing = _Unreadable("file_not_found", "this model has no stored training image with this id")
        if state is not FileState.STORED or row.owner_id != owner_id:
            raise missing
    try:
        data = await storage.blobs.read(row.s3_key, storage.max_file_bytes)
    except DomainError as error:
        if error.reason != "file_too_large":
            raise
        raise _Unreadable("too_large", error.message) from None
    if data is None:
        raise missing
    return data


async def _store(
    storage: Storage, team_id: str, owner_id: str, idempotency_key: str, reads: list[_ReadImage]
) -> PreparedTrainingSet:
    images = []
    with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY_BYTES) as zip_body:
        with TrainingZip(zip_body) as training_zip:
            for read in reads:
                training_zip.add(read.image.extension, read.body)
                images.append(await _store_image(storage, team_id, owner_id, idempotency_key, read))
                # The zip holds these bytes now: at most one copy of the set is kept at a time.
                read.body.close()

        async def record_images(connection: AsyncConnection, zip_file_id: str) -> None:
            await connection.execute(
                insert(training_set_image),
                [
                    {"zip_file_id": zip_file_id, "position": position, "image_file_id": image.id}
                    for position, image in enumerate(images)
                ],
            )

        zip_row = await store_object(
            storage,
            team_id=team_id,
            kind=FileKind.TRAINING_ZIP,
            owner_id=owner_id,
            body=zip_body,
            info=FileInfo("application/zip", "zip"),
            idempotency_key=f"{idempotency_key}/zip",
            record_with=record_images,
        )
    return PreparedTrainingSet([], images, zip_row)


async def _store_image(storage: Storage, team_id: str, owner_id: str, idempotency_key: str, read: _ReadImage):
    if read.source.kind is SourceKind.URL:
        image = read.image
        return await store_object(
            storage,
            team_id=team_id,
            kind=FileKind.TRAINING_IMAGE,
            owner_id=owner_id,
            body=read.body,
            info=FileInfo(image.content_type, image.extension, image.width, image.height),
            idempotency_key=f"{idempotency_key}/image/{read.checked.index}",
        )
    if read.row.state == FileState.AWAITING_UPLOAD.value:
        return await _claim_upload(storage, owner_id, read)
    # An earlier training image of the owner, or an upload it claimed before: used as it is.
    return read.row


async def _claim_upload(storage: Storage, owner_id: str, read: _ReadImage):
    """Make an upload the owner's training image.

    The checked bytes are stored anew under the owner's prefix, verified like every file, because
    the presigned URL can overwrite the uploaded object until it expires: that object is never what
    a training image points at, and is deleted once the claim commits. The row changes only while it
    still awaits its bytes (not expired, not claimed by a concurrent call)."""
    upload, image, checked = read.row, read.image, read.checked
    # A new object name per claim: a claim that loses a race deletes its own copy, never the winner's.
    key = object_key(upload.team_id, FileKind.TRAINING_IMAGE, owner_id, str(uuid.uuid4()), image.extension)
    metadata = object_metadata(
        upload.id, upload.team_id, FileKind.TRAINING_IMAGE, owner_id, checked.sha256_hex, None
    )
    await storage.blobs.put_verified(key, read.body, image.content_type, metadata)
    async with storage.engine.begin() as connection:
        claimed = (
            await connection.execute(
                update(stored_file)
                .where(
                    stored_file.c.id == upload.id,
                    stored_file.c.state == FileState.AWAITING_UPLOAD.value,
                    stored_file.c.expires_at > storage.clock(),
                )
                .values(
                    owner_id=owner_id,
                    s3_key=key,
                    state=FileState.STORED.value,
                    content_type=image.content_type,
                    size_bytes=checked.size_bytes,
                    sha256_hex=checked.sha256_hex,
                    width=image.width,
                    height=image.height,
                    # Kept as long as its owner, like every training image.
                    expires_at=None,
                )
                .returning(*stored_file.c)
            )
        ).one_or_none()
    if claimed is None:
        await storage.blobs.delete([key])
        raise TrainingSetChanged(
            "upload_changed",
            "an upload expired or was used by another call while the set was prepared; try again",
            {"uploadId": upload.id},
        )
    await storage.blobs.delete([upload.s3_key])
    return claimed

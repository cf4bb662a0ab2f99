"""Storage use cases: store a file in the team's prefix (fetched from a URL, or bytes the caller has),
hand out presigned uploads, sign reads, remove files when due. Training sets: training_sets.py."""

import hashlib
import io
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import IO, Any, Protocol

from imagegen_platform import db
from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_storage.adapters.fetcher import HttpFetcher
from imagegen_storage.adapters.s3 import S3BlobStore
from imagegen_storage.adapters.tables import stored_file
from imagegen_storage.domain.files import (
    LIVE_STATES,
    FileInfo,
    FileKind,
    FileState,
    check_upload,
    expiry,
    inspect_file,
    object_key,
    state_at,
    upload_key,
)

log = logging.getLogger(__name__)

# The contract's limit for PutFile: small files the caller already has (previews, configs).
MAX_PUT_FILE_BYTES = 4 * 1024 * 1024


class UrlSigner(Protocol):
    def sign(self, key: str, ttl_seconds: int) -> str: ...


@dataclass(frozen=True)
class Retention:
    """Days each kind is kept (None: as long as its job or model); generated images per plan; uploads
    no training set claimed."""

    days_by_kind: dict[FileKind, int | None]
    unclaimed_upload_days: int
    generated_image_days_by_plan: dict[str, int] = field(default_factory=dict)

    def days(self, kind: FileKind, plan: str = "") -> int | None:
        if kind is FileKind.GENERATED_IMAGE and plan in self.generated_image_days_by_plan:
            return self.generated_image_days_by_plan[plan]
        return self.days_by_kind.get(kind)

    def all_days(self) -> set[int]:
        """Every retention an object can carry, one S3 lifecycle rule each."""
        values = {days for days in self.days_by_kind.values() if days is not None}
        return values | set(self.generated_image_days_by_plan.values()) | {self.unclaimed_upload_days}


# Built once, so each call finds them in SQLAlchemy's compiled cache without building them again.
_BY_KEY = select(stored_file).where(stored_file.c.idempotency_key == bindparam("idempotency_key"))
# The first row with a key wins; the inserted row comes back whole, so there is no read after it.
_INSERT_FIRST = (
    pg_insert(stored_file)
    .on_conflict_do_nothing(index_elements=[stored_file.c.idempotency_key])
    .returning(*stored_file.c)
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Storage:
    engine: AsyncEngine
    blobs: S3BlobStore
    fetcher: HttpFetcher
    signer: UrlSigner
    url_ttl_seconds: int
    # The largest file storage takes from anyone: fetched from a URL or sent to a presigned upload.
    max_file_bytes: int
    upload_url_ttl_seconds: int
    retention: Retention
    clock: Callable[[], datetime] = _utc_now

    @cached_property
    def autocommit(self) -> AsyncEngine:
        return db.autocommit(self.engine)


@dataclass(frozen=True)
class Access:
    """How a file can be read right now: a fresh URL while stored, else its state and date."""

    file_id: str
    state: FileState
    url: str | None
    url_expires_at: datetime | None
    file_expires_at: datetime | None


async def _by_key(storage: Storage, idempotency_key: str):
    async with storage.autocommit.connect() as connection:
        return (await connection.execute(_BY_KEY, {"idempotency_key": idempotency_key})).one_or_none()


async def import_file(
    storage: Storage,
    *,
    team_id: str,
    kind: FileKind,
    owner_id: str,
    source_url: str,
    idempotency_key: str,
    plan: str = "",
):
    """Copy a file from a URL into our bucket, verified, and record it; a replay returns the first
    row without fetching again."""
    existing = await _by_key(storage, idempotency_key)
    if existing is not None:
        return existing
    data = await storage.fetcher.fetch(source_url)
    return await _store_new_object(
        storage,
        team_id=team_id,
        kind=kind,
        owner_id=owner_id,
        body=io.BytesIO(data),
        info=inspect_file(kind, data),
        idempotency_key=idempotency_key,
        plan=plan,
    )


async def put_file(
    storage: Storage, *, team_id: str, kind: FileKind, owner_id: str, content: bytes, idempotency_key: str
):
    """Store bytes the caller already has; a replay returns the first row."""
    if len(content) > MAX_PUT_FILE_BYTES:
        raise InvalidArgument("file_too_large", f"the file is over {MAX_PUT_FILE_BYTES} bytes")
    return await store_bytes(
        storage, team_id=team_id, kind=kind, owner_id=owner_id, data=content, idempotency_key=idempotency_key
    )


async def store_bytes(
    storage: Storage,
    *,
    team_id: str,
    kind: FileKind,
    owner_id: str,
    data: bytes,
    idempotency_key: str,
    plan: str = "",
):
    """Check the bytes are what the kind must be, then store them."""
    info = inspect_file(kind, data)
    return await store_object(
        storage,
        team_id=team_id,
        kind=kind,
        owner_id=owner_id,
        body=io.BytesIO(data),
        info=info,
        idempotency_key=idempotency_key,
        plan=plan,
    )


async def store_object(
    storage: Storage,
    *,
    team_id: str,
    kind: FileKind,
    owner_id: str,
    body: IO[bytes],
    info: FileInfo,
    idempotency_key: str,
    plan: str = "",
    record_with: Callable[[AsyncConnection, str], Awaitable[None]] | None = None,
):
    """Put checked bytes under the owner's prefix and record them, once per key: a replay returns
    the first row without storing anything. `record_with(connection, file_id)` writes what must
    commit with the row."""
    existing = await _by_key(storage, idempotency_key)
    if existing is not None:
        return existing
    return await _store_new_object(
        storage,
        team_id=team_id,
        kind=kind,
        owner_id=owner_id,
        body=body,
        info=info,
        idempotency_key=idempotency_key,
        plan=plan,
        record_with=record_with,
    )


async def _store_new_object(
    storage: Storage,
    *,
    team_id: str,
    kind: FileKind,
    owner_id: str,
    body: IO[bytes],
    info: FileInfo,
    idempotency_key: str,
    plan: str = "",
    record_with: Callable[[AsyncConnection, str], Awaitable[None]] | None = None,
):
    """store_object once the key was found unused: the first row with a key wins.

    The row is written only after S3 holds the verified bytes, so no caller ever gets an id whose
    object is missing."""
    file_id = str(uuid.uuid4())
    created_at = storage.clock()
    retention_days = storage.retention.days(kind, plan)
    expires_at = expiry(created_at, retention_days)
    body.seek(0)
    sha256_hex = hashlib.file_digest(body, "sha256").hexdigest()
    size_bytes = body.seek(0, io.SEEK_END)
    key = object_key(team_id, kind, owner_id, file_id, info.extension)
    metadata = object_metadata(file_id, team_id, kind, owner_id, sha256_hex, expires_at)
    await storage.blobs.put_verified(key, body, info.content_type, metadata, retention_days)
    values = {
        "id": file_id,
        "team_id": team_id,
        "kind": kind.value,
        "owner_id": owner_id,
        "idempotency_key": idempotency_key,
        "s3_key": key,
        "content_type": info.content_type,
        "size_bytes": size_bytes,
        "sha256_hex": sha256_hex,
        "width": info.width,
        "height": info.height,
        "state": FileState.STORED.value,
        "created_at": created_at,
        "expires_at": expires_at,
    }
    if record_with is None:
        async with storage.autocommit.connect() as connection:
            row = (await connection.execute(_INSERT_FIRST, values)).one_or_none()
    else:
        async with storage.engine.begin() as connection:
            row = (await connection.execute(_INSERT_FIRST, values)).one_or_none()
            if row is not None:
                await record_with(connection, file_id)
    if row is not None:
        return row
    # A concurrent store with the same key won; its row is the answer and our copy is nobody's
    # (kept-forever kinds have no lifecycle rule that would ever remove it).
    await storage.blobs.delete([key])
    return await _by_key(storage, idempotency_key)


def object_metadata(
    file_id: str, team_id: str, kind: FileKind, owner_id: str, sha256_hex: str, expires_at: datetime | None
) -> dict[str, str]:
    """What an object says about itself, so the bucket can be understood without the database."""
    metadata = {
        "file-id": file_id,
        "team-id": team_id,
        "kind": kind.value,
        "owner-id": owner_id,
        "sha256": sha256_hex,
    }
    if expires_at is not None:
        metadata["expires-at"] = expires_at.isoformat()
    return metadata


@dataclass(frozen=True)
class Upload:
    """A presigned PUT handed out for one training image."""

    row: Any
    url: str
    url_expires_at: datetime
    headers: dict[str, str]


async def create_upload(
    storage: Storage, *, team_id: str, content_type: str, size_bytes: int, filename: str
) -> Upload:
    """Hand out a presigned PUT for one training image. Its row awaits the bytes until a training set
    claims it; unclaimed, it expires after the upload retention and the cleanup removes it (the
    object also carries that retention's tag, so the bucket's lifecycle removes it regardless)."""
    extension = check_upload(content_type, size_bytes, filename, storage.max_file_bytes)
    file_id = str(uuid.uuid4())
    now = storage.clock()
    retention_days = storage.retention.unclaimed_upload_days
    key = upload_key(team_id, file_id, extension)
    ttl = storage.upload_url_ttl_seconds
    url, headers = storage.blobs.sign_upload(key, content_type, size_bytes, retention_days, ttl)
    async with storage.engine.begin() as connection:
        row = (
            await connection.execute(
                insert(stored_file)
                .values(
                    id=file_id,
                    team_id=team_id,
                    kind=FileKind.TRAINING_IMAGE.value,
                    # Unclaimed: a training set makes it its owner's.
                    owner_id="",
                    s3_key=key,
                    content_type=content_type,
                    size_bytes=size_bytes,
                    state=FileState.AWAITING_UPLOAD.value,
                    created_at=now,
                    expires_at=expiry(now, retention_days),
                    filename=filename or None,
                )
                .returning(*stored_file.c)
            )
        ).one()
    return Upload(row, url, now + timedelta(seconds=ttl), headers)


def access(storage: Storage, row) -> Access:
    """A fresh URL for a readable file, never outliving the file itself."""
    now = storage.clock()
    state = state_at(FileState(row.state), row.expires_at, row.delete_requested_at is not None, now)
    if state is not FileState.STORED:
        return Access(row.id, state, None, None, row.expires_at)
    ttl = storage.url_ttl_seconds
    if row.expires_at is not None:
        ttl = max(1, min(ttl, int((row.expires_at - now).total_seconds())))
    url = storage.signer.sign(row.s3_key, ttl)
    return Access(row.id, state, url, now + timedelta(seconds=ttl), row.expires_at)


async def sign_urls(storage: Storage, team_id: str, file_ids: list[str]) -> list[Access]:
    """Fresh read URLs, in request order; expired files say so; another team's file is not found."""
    async with storage.autocommit.connect() as connection:
        rows = (
            await connection.execute(
                select(stored_file).where(stored_file.c.team_id == team_id, stored_file.c.id.in_(file_ids))
            )
        ).all()
    by_id = {row.id: row for row in rows}
    missing = [file_id for file_id in file_ids if file_id not in by_id]
    if missing:
        raise NotFound("file_not_found", "no such file", {"fileIds": ",".join(missing)})
    return [access(storage, by_id[file_id]) for file_id in file_ids]


async def get_file(storage: Storage, team_id: str, file_id: str):
    """One of the team's files and how to read it; another team's file is not found."""
    async with storage.autocommit.connect() as connection:
        row = (
            await connection.execute(
                select(stored_file).where(stored_file.c.team_id == team_id, stored_file.c.id == file_id)
            )
        ).one_or_none()
    if row is None:
        raise NotFound("file_not_found", "no such file", {"fileId": file_id})
    return row, access(storage, row)


async def delete_owner_files(storage: Storage, team_id: str, owner_id: str) -> int:
    """Mark a deleted job's or model's files; they read as deleted at once and the cleanup
    removes their objects, exactly as it removes expired ones."""
    async with storage.engine.begin() as connection:
        result = await connection.execute(
            update(stored_file)
            .where(
                stored_file.c.team_id == team_id,
                stored_file.c.owner_id == owner_id,
                stored_file.c.state == FileState.STORED.value,
                stored_file.c.delete_requested_at.is_(None),
            )
            .values(delete_requested_at=storage.clock())
        )
    return result.rowcount


async def cleanup_batch(storage: Storage, batch_size: int) -> int:
    """Remove one batch of due files: past their expiry (unclaimed uploads too), or their owner deleted.

    Concurrency: the batch's rows are locked FOR UPDATE SKIP LOCKED for the whole transaction, so
    two cleanups running at once take disjoint batches and never wait on each other; objects are
    deleted before the rows are marked, so a crash between the two leaves rows that the next run
    takes again (deleting an absent object succeeds). Returns how many files were removed."""
    now = storage.clock()
    async with storage.engine.begin() as connection:
        rows = (
            await connection.execute(
                select(stored_file.c.id, stored_file.c.s3_key, stored_file.c.delete_requested_at)
                .where(
                    stored_file.c.state.in_([state.value for state in LIVE_STATES]),
                    or_(stored_file.c.expires_at <= now, stored_file.c.delete_requested_at.isnot(None)),
                )
                .order_by(stored_file.c.expires_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        await storage.blobs.delete([row.s3_key for row in rows])
        deleted = [row.id for row in rows if row.delete_requested_at is not None]
        expired = [row.id for row in rows if row.delete_requested_at is None]
        for ids, state in ((deleted, FileState.DELETED), (expired, FileState.EXPIRED)):
            if ids:
                await connection.execute(
                    update(stored_file)
                    .where(stored_file.c.id.in_(ids))
                    .values(state=state.value, removed_at=now)
                )
    return len(rows)


async def cleanup(storage: Storage, batch_size: int, max_batches: int | None = None) -> int:
    """Remove every due file, batch by batch (each its own short transaction)."""
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        removed = await cleanup_batch(storage, batch_size)
        total += removed
        batches += 1
        if removed < batch_size:
            break
    if total:
        log.info("cleanup removed files", extra={"removed": total})
    return total

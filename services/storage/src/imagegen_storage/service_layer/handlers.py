"""Storage use cases: import a file into the team's prefix, sign reads of it."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from imagegen_platform.errors import NotFound
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_storage.adapters.fetcher import HttpFetcher
from imagegen_storage.adapters.s3 import S3BlobStore
from imagegen_storage.adapters.tables import stored_file
from imagegen_storage.domain.files import FileKind, expiry, inspect_image, object_key


@dataclass
class Storage:
    engine: AsyncEngine
    blobs: S3BlobStore
    fetcher: HttpFetcher
    url_ttl_seconds: int
    retention_days: dict[FileKind, int]


async def _by_key(storage: Storage, idempotency_key: str):
    async with storage.engine.connect() as connection:
        return (
            await connection.execute(
                select(stored_file).where(stored_file.c.idempotency_key == idempotency_key)
            )
        ).one_or_none()


async def import_file(
    storage: Storage,
    *,
    team_id: str,
    kind: FileKind,
    owner_id: str,
    source_url: str,
    idempotency_key: str,
):
    """Copy a file into our bucket, verified, and record it; a replay returns the first row."""
    existing = await _by_key(storage, idempotency_key)
    if existing is not None:
        return existing
    data = await storage.fetcher.fetch(source_url)
    image = inspect_image(data)
    file_id = str(uuid.uuid4())
    created_at = datetime.now(UTC)
    expires_at = expiry(created_at, storage.retention_days[kind])
    sha256_hex = hashlib.sha256(data).hexdigest()
    key = object_key(team_id, kind, owner_id, file_id, image.extension)
    await storage.blobs.put_verified(
        key,
        data,
        image.content_type,
        {
            "team-id": team_id,
            "kind": kind.value,
            "owner-id": owner_id,
            "sha256": sha256_hex,
            "expires-at": expires_at.isoformat(),
        },
    )
    async with storage.engine.begin() as connection:
        await connection.execute(
            pg_insert(stored_file)
            .values(
                id=file_id,
                team_id=team_id,
                kind=kind.value,
                owner_id=owner_id,
                idempotency_key=idempotency_key,
                s3_key=key,
                content_type=image.content_type,
                size_bytes=len(data),
                sha256_hex=sha256_hex,
                width=image.width,
                height=image.height,
                state="stored",
                created_at=created_at,
                expires_at=expires_at,
            )
            # Two concurrent imports with one key: the first row wins; the loser's object is an orphan
            # under the team's prefix that retention removes.
            .on_conflict_do_nothing(index_elements=[stored_file.c.idempotency_key])
        )
    return await _by_key(storage, idempotency_key)


async def sign_urls(storage: Storage, team_id: str, file_ids: list[str]) -> list[tuple[str, str, datetime]]:
    """Fresh read URLs, in request order; another team's file is not found."""
    async with storage.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(stored_file.c.id, stored_file.c.s3_key).where(
                    stored_file.c.team_id == team_id, stored_file.c.id.in_(file_ids)
                )
            )
        ).all()
    keys = {row.id: row.s3_key for row in rows}
    missing = [file_id for file_id in file_ids if file_id not in keys]
    if missing:
        raise NotFound("file_not_found", "no such file", {"fileIds": ",".join(missing)})
    return [
        (file_id, *storage.blobs.presigned_get(keys[file_id], storage.url_ttl_seconds))
        for file_id in file_ids
    ]

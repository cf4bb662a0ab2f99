"""Stores the catalog's missing previews through storage, in the background of `serve`."""

import asyncio
import hashlib
import logging

from sqlalchemy import select, update

from imagegen_models.adapters.tables import reference_model
from imagegen_models.domain.previews import preview_owner_id, render_preview
from imagegen_models.service_layer.handlers import Models, reference_model_from_row

log = logging.getLogger(__name__)


async def store_missing_previews(models: Models) -> int:
    """Render and store the preview of every reference model without one; returns how many.

    The upload's key names the bytes' hash, so replicas racing here (or a retry after a crash
    between storing and recording) store each preview once."""
    async with models.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(reference_model)
                .where(reference_model.c.preview_file_id.is_(None))
                .order_by(reference_model.c.id)
            )
        ).all()
    for row in rows:
        content = render_preview(reference_model_from_row(row))
        owner_id = preview_owner_id(row.id)
        file_id = await models.peers.put_preview(
            owner_id, content, f"{owner_id}/preview-{hashlib.sha256(content).hexdigest()}"
        )
        async with models.engine.begin() as connection:
            await connection.execute(
                update(reference_model).where(reference_model.c.id == row.id).values(preview_file_id=file_id)
            )
    return len(rows)


async def keep_storing_previews(models: Models, retry_seconds: float = 5.0) -> None:
    """Store the missing previews, retrying until storage answers (it may start after us); serving
    never waits for this, and the catalog answers without previews meanwhile."""
    while True:
        try:
            stored = await store_missing_previews(models)
        except Exception:
            log.warning("storing catalog previews failed; retrying", exc_info=True)
            await asyncio.sleep(retry_seconds)
        else:
            log.info("catalog previews stored", extra={"stored": stored})
            return

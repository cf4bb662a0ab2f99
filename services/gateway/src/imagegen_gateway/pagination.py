"""Newest-first pages: the query of a page, and opaque cursors naming the (created_at, id) of a
page's last row."""

import base64
import binascii
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_

from imagegen_gateway.errors import ApiError

# The (created_at, id) of the last row of the previous page.
After = tuple[datetime, str]


def newest_first(
    query: Select[Any],
    created_at: ColumnElement[datetime],
    row_id: ColumnElement[str],
    limit: int,
    after: After | None = None,
) -> Select[Any]:
    """`query` ordered newest first (ties by id), from the row after `after`, at most `limit` rows."""
    if after is not None:
        last_created_at, last_id = after
        query = query.where(
            or_(created_at < last_created_at, and_(created_at == last_created_at, row_id < last_id))
        )
    return query.order_by(created_at.desc(), row_id.desc()).limit(limit)


def encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> After:
    try:
        created_at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), row_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            400, "invalid_request", "the cursor is not valid", {"cursor": "from nextCursor"}
        ) from None

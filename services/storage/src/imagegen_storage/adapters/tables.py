"""The storage schema; migrations/ creates it, these definitions query it."""

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table

SCHEMA = "storage"
metadata = MetaData(schema=SCHEMA)

stored_file = Table(
    "stored_file",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("owner_id", String, nullable=False),
    Column("idempotency_key", String, nullable=False, unique=True),
    Column("s3_key", String, nullable=False),
    Column("content_type", String, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256_hex", String, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("state", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("delete_requested_at", DateTime(timezone=True)),
    Column("removed_at", DateTime(timezone=True)),
)

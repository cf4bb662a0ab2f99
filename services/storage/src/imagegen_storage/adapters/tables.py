"""The storage schema; migrations/ creates it, these definitions query it."""

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, String, Table

SCHEMA = "storage"
metadata = MetaData(schema=SCHEMA)

stored_file = Table(
    "stored_file",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("owner_id", String, nullable=False),
    # NULL for uploads, which have no caller key.
    Column("idempotency_key", String, unique=True),
    Column("s3_key", String, nullable=False),
    Column("content_type", String, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    # NULL until an upload's bytes are checked.
    Column("sha256_hex", String),
    Column("width", Integer),
    Column("height", Integer),
    Column("state", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("delete_requested_at", DateTime(timezone=True)),
    Column("removed_at", DateTime(timezone=True)),
    Column("filename", String),
)

training_set_image = Table(
    "training_set_image",
    metadata,
    Column("zip_file_id", String, ForeignKey(stored_file.c.id), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("image_file_id", String, ForeignKey(stored_file.c.id), nullable=False),
)

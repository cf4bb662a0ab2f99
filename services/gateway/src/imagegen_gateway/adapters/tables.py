"""The gateway's identity schema: teams and their API keys."""

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import ARRAY

SCHEMA = "gateway"
metadata = MetaData(schema=SCHEMA)

team = Table(
    "team",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

api_key = Table(
    "api_key",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("prefix", String, nullable=False),
    Column("key_hash", String, nullable=False, unique=True),
    Column("name", String, nullable=False),
    Column("scopes", ARRAY(String), nullable=False),
    Column("monthly_spend_cap_hundredths", BigInteger),
    Column("created_by", String, ForeignKey("gateway.api_key.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

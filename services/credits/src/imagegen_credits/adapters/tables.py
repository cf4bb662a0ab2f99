"""The credits schema; migrations/ creates it, these definitions query it."""

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "credits"
metadata = MetaData(schema=SCHEMA)

account = Table(
    "account",
    metadata,
    Column("team_id", String, primary_key=True),
    Column("plan", String, nullable=False),
    Column("available_hundredths", BigInteger, nullable=False),
    Column("reserved_hundredths", BigInteger, nullable=False),
    Column("bonus_hundredths", BigInteger, nullable=False),
    Column("total_allocated_hundredths", BigInteger, nullable=False),
    Column("next_replenishment_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ledger_entry = Table(
    "ledger_entry",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("amount_hundredths", BigInteger, nullable=False),
    Column("idempotency_key", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

reservation = Table(
    "reservation",
    metadata,
    Column("idempotency_key", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("amount_hundredths", BigInteger, nullable=False),
    Column("state", String, nullable=False),
    Column("captured_hundredths", BigInteger, nullable=False),
    Column("released_hundredths", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("settled_at", DateTime(timezone=True)),
)

credit_pricing_config = Table(
    "credit_pricing_config",
    metadata,
    Column("operation", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("config", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

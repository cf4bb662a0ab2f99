"""The credits schema; migrations/ creates it, these definitions query it."""

from imagegen_platform.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    func,
)
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
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("next_replenishment_at", DateTime(timezone=True), nullable=False),
    Column("billing", String, nullable=False),
    Column("stripe_customer_id", String),
    Column("stripe_subscription_id", String),
    Column("subscription_status", String),
    Column("subscription_event_at", DateTime(timezone=True)),
    Column("low_balance_threshold_hundredths", BigInteger),
    Column("below_low_balance", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ledger_entry = Table(
    "ledger_entry",
    metadata,
    Column("id", String, primary_key=True),
    Column("sequence", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("team_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("amount_hundredths", BigInteger, nullable=False),
    Column("bonus_hundredths", BigInteger, nullable=False),
    Column("available_after_hundredths", BigInteger, nullable=False),
    Column("reserved_after_hundredths", BigInteger, nullable=False),
    Column("idempotency_key", String, nullable=False),
    Column("description", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

reservation = Table(
    "reservation",
    metadata,
    Column("idempotency_key", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("amount_hundredths", BigInteger, nullable=False),
    Column("bonus_hundredths", BigInteger, nullable=False),
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

stripe_event = Table(
    "stripe_event",
    metadata,
    Column("id", String, primary_key=True),
    Column("type", String, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("stripe_created_at", DateTime(timezone=True), nullable=False),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", String),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("processed_at", DateTime(timezone=True)),
)

outbox = outbox_table(metadata)

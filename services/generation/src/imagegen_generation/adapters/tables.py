"""The generation schema; migrations/ creates it, these definitions query it."""

from imagegen_platform.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "generation"
metadata = MetaData(schema=SCHEMA)

job = Table(
    "job",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("status", String, nullable=False),
    Column("input", JSONB, nullable=False),
    Column("provider_endpoint", String, nullable=False),
    Column("provider_input", JSONB, nullable=False),
    Column("provider_files", JSONB, nullable=False, server_default="{}"),
    Column("output", JSONB),
    Column("provider_request_id", String, unique=True),
    Column("estimated_credits_hundredths", BigInteger, nullable=False),
    Column("pricing_version", Integer, nullable=False),
    Column("charged_credits_hundredths", BigInteger, nullable=False),
    Column("refunded_credits_hundredths", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("progress", Float, nullable=False),
    Column("error_code", String),
    Column("error_message", String),
    Column("idempotency_key", String),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("claimed_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("provider_checked_at", DateTime(timezone=True)),
    Column("traceparent", String),
    Column("request_id", String),
    Column("api_key_id", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

job_transition = Table(
    "job_transition",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("job_id", String, nullable=False),
    Column("from_status", String),
    Column("to_status", String, nullable=False),
    Column("reason", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every submission of a job to the provider, so a late report about a superseded attempt is known.
provider_request = Table(
    "provider_request",
    metadata,
    Column("id", String, primary_key=True),
    Column("job_id", String, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

job_image = Table(
    "job_image",
    metadata,
    Column("job_id", String, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("file_id", String, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("content_type", String, nullable=False),
    Column("nsfw", Boolean, nullable=False),
)

# Verified provider webhooks, stored before they are answered and recorded for their jobs after.
provider_delivery = Table(
    "provider_delivery",
    metadata,
    Column("provider_request_id", String, primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("error", String, nullable=False),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("processed_at", DateTime(timezone=True)),
)

team_schedule = Table(
    "team_schedule",
    metadata,
    Column("team_id", String, primary_key=True),
    Column("plan_rank", Integer, nullable=False),
    Column("max_concurrent", Integer, nullable=False),
    Column("running", Integer, nullable=False),
    Column("queued", Integer, nullable=False),
    Column("last_started_at", DateTime(timezone=True)),
    Column("limits_checked_at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)

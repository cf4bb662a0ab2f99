"""The models schema; migrations/ creates it, these definitions query and seed it."""

from sqlalchemy import ARRAY, BigInteger, Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "models"
metadata = MetaData(schema=SCHEMA)

reference_model = Table(
    "reference_model",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", String, nullable=False),
    Column("category", String, nullable=False),
    Column("description", String, nullable=False),
    Column("tags", ARRAY(String), nullable=False),
    Column("complexity_hundredths", Integer, nullable=False),
    Column("provider_endpoint", String, nullable=False),
    Column("default_parameters", JSONB, nullable=False),
    Column("training_endpoint", String, nullable=False),
    # Stored by `serve` once storage answers; not part of the seed.
    Column("preview_file_id", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

custom_model = Table(
    "custom_model",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("reference_model_id", BigInteger, nullable=False),
    Column("name", String, nullable=False),
    Column("description", String, nullable=False),
    Column("trigger_word", String, nullable=False),
    Column("current_version", Integer, nullable=False, server_default="0"),
    Column("idempotency_key", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True)),
)

model_version = Table(
    "model_version",
    metadata,
    Column("custom_model_id", BigInteger, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("status", String, nullable=False),
    Column("parent_version", Integer),
    Column("job_id", String),
    Column("training_steps", Integer, nullable=False),
    Column("training_image_file_ids", ARRAY(String), nullable=False, server_default="{}"),
    Column("training_zip_file_id", String),
    Column("weights_file_id", String),
    Column("config_file_id", String),
    Column("starting_weights_file_id", String),
    Column("estimated_credits_hundredths", BigInteger, nullable=False, server_default="0"),
    Column("charged_credits_hundredths", BigInteger, nullable=False, server_default="0"),
    Column("failure_reason", String),
    Column("idempotency_key", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)

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
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

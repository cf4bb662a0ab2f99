"""The reference catalog table.

Revision ID: 20261124_0001
Revises:
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0001"
down_revision = None


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE models.reference_model (
            id bigint PRIMARY KEY,
            name text NOT NULL,
            category text NOT NULL
                CHECK (category IN ('fashion', 'fitness', 'beauty', 'lifestyle', 'business')),
            description text NOT NULL,
            tags text[] NOT NULL,
            complexity_hundredths integer NOT NULL CHECK (complexity_hundredths > 0),
            provider_endpoint text NOT NULL,
            default_parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_reference_model_category_id ON models.reference_model (category, id)
        """
    )

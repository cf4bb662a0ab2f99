"""The API key each job was created with: its usage by day and model, and its monthly spend cap.

Revision ID: 20261124_0005
Revises: 20261124_0004
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0005"
down_revision = "20261124_0004"


def upgrade() -> None:
    execute_ddl(
        """
        ALTER TABLE generation.job ADD COLUMN api_key_id text;
        CREATE INDEX ix_job_api_key_id_created_at ON generation.job (api_key_id, created_at)
            WHERE api_key_id IS NOT NULL
        """
    )

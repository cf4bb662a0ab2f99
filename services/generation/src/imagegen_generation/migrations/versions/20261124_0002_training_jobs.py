"""Model creation and refinement jobs: their output, and files signed for the provider at submit time.

Revision ID: 20261124_0002
Revises: 20261124_0001
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0002"
down_revision = "20261124_0001"


def upgrade() -> None:
    execute_ddl(
        """
        ALTER TABLE generation.job DROP CONSTRAINT job_type_check;
        ALTER TABLE generation.job ADD CONSTRAINT job_type_check
            CHECK (type IN ('image_generation', 'model_creation', 'model_refinement'));
        -- Provider inputs that are our stored files, by their place in provider_input (e.g.
        -- "loras.0.path"): signed URLs expire, so they are signed when the job is submitted.
        ALTER TABLE generation.job ADD COLUMN provider_files jsonb NOT NULL DEFAULT '{}'::jsonb;
        -- What a completed training stored: {"weights_file_id": ..., "config_file_id": ...}.
        ALTER TABLE generation.job ADD COLUMN output jsonb;
        CREATE INDEX ix_job_team_id_custom_model ON generation.job (team_id, (input ->> 'custom_model_id'))
        """
    )

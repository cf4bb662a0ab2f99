"""Every stored file, with its owner, checksum and expiry.

Revision ID: 20261124_0001
Revises:
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0001"
down_revision = None


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE storage.stored_file (
            id text PRIMARY KEY,
            team_id text NOT NULL,
            kind text NOT NULL CHECK (
                kind IN ('generated_image', 'training_zip', 'training_image', 'lora_weights', 'preview')
            ),
            owner_id text NOT NULL,
            idempotency_key text NOT NULL,
            s3_key text NOT NULL,
            content_type text NOT NULL,
            size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
            sha256_hex text NOT NULL,
            width integer,
            height integer,
            state text NOT NULL CHECK (state IN ('stored', 'expired', 'deleted')),
            created_at timestamptz NOT NULL,
            -- NULL: kept as long as its job or model (LoRA weights, training data).
            expires_at timestamptz,
            -- Set when its job or model is deleted; the cleanup then removes the object.
            delete_requested_at timestamptz,
            -- When the cleanup removed the object (state expired or deleted).
            removed_at timestamptz,
            CONSTRAINT uq_stored_file_idempotency_key UNIQUE (idempotency_key),
            CONSTRAINT ck_stored_file_removed_at CHECK ((state = 'stored') = (removed_at IS NULL))
        );
        CREATE INDEX ix_stored_file_team_id_owner_id ON storage.stored_file (team_id, owner_id);
        -- What the cleanup looks for: stored files past their expiry, or whose owner was deleted.
        CREATE INDEX ix_stored_file_expires_at ON storage.stored_file (expires_at) WHERE state = 'stored';
        CREATE INDEX ix_stored_file_delete_requested_at ON storage.stored_file (delete_requested_at)
            WHERE state = 'stored' AND delete_requested_at IS NOT NULL
        """
    )

"""Presigned uploads awaiting their bytes, model configs, and which images each training zip holds.

Revision ID: 20261124_0002
Revises: 20261124_0001
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0002"
down_revision = "20261124_0001"


def upgrade() -> None:
    execute_ddl(
        """
        ALTER TABLE storage.stored_file DROP CONSTRAINT stored_file_kind_check;
        ALTER TABLE storage.stored_file ADD CONSTRAINT ck_stored_file_kind CHECK (
            kind IN ('generated_image', 'training_zip', 'training_image', 'lora_weights', 'preview',
                     'model_config')
        );
        ALTER TABLE storage.stored_file DROP CONSTRAINT stored_file_state_check;
        ALTER TABLE storage.stored_file ADD CONSTRAINT ck_stored_file_state
            CHECK (state IN ('stored', 'expired', 'deleted', 'awaiting_upload'));
        -- An upload's object is in the bucket too (the client PUT it), until the cleanup removes it.
        ALTER TABLE storage.stored_file DROP CONSTRAINT ck_stored_file_removed_at;
        ALTER TABLE storage.stored_file ADD CONSTRAINT ck_stored_file_removed_at
            CHECK ((state IN ('stored', 'awaiting_upload')) = (removed_at IS NULL));
        -- CreateUpload has no caller key: every call is a new upload.
        ALTER TABLE storage.stored_file ALTER COLUMN idempotency_key DROP NOT NULL;
        -- An upload's checksum is unknown until a training set checks its bytes (its size_bytes is
        -- the size the team announced, which S3 enforces on the PUT).
        ALTER TABLE storage.stored_file ALTER COLUMN sha256_hex DROP NOT NULL;
        -- The name the team knows an upload by, for display; NULL for files we fetched or were given.
        ALTER TABLE storage.stored_file ADD COLUMN filename text
            CONSTRAINT ck_stored_file_filename CHECK (char_length(filename) <= 255);
        -- The cleanup also removes uploads nobody claimed before their expiry.
        DROP INDEX storage.ix_stored_file_expires_at;
        CREATE INDEX ix_stored_file_expires_at ON storage.stored_file (expires_at)
            WHERE state IN ('stored', 'awaiting_upload');
        -- The images of a prepared training set, in source order: a replay of PrepareTrainingSet
        -- answers from here (its images may be uploads or earlier files, found by no key of the set).
        CREATE TABLE storage.training_set_image (
            zip_file_id text NOT NULL REFERENCES storage.stored_file (id),
            position integer NOT NULL CHECK (position >= 0),
            image_file_id text NOT NULL REFERENCES storage.stored_file (id),
            CONSTRAINT pk_training_set_image PRIMARY KEY (zip_file_id, position)
        )
        """
    )

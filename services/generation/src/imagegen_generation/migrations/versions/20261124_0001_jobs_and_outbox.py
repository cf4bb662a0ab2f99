"""Jobs with their stored transitions and images, and the event outbox.

Revision ID: 20261124_0001
Revises:
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0001"
down_revision = None


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE generation.job (
            id text PRIMARY KEY,
            team_id text NOT NULL,
            type text NOT NULL CHECK (type IN ('image_generation')),
            status text NOT NULL
                CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
            input jsonb NOT NULL,
            provider_endpoint text NOT NULL,
            provider_input jsonb NOT NULL,
            provider_request_id text,
            estimated_credits_hundredths bigint NOT NULL CHECK (estimated_credits_hundredths >= 0),
            pricing_version integer NOT NULL,
            charged_credits_hundredths bigint NOT NULL DEFAULT 0,
            refunded_credits_hundredths bigint NOT NULL DEFAULT 0,
            attempts integer NOT NULL DEFAULT 0,
            progress double precision NOT NULL DEFAULT 0,
            error_code text,
            error_message text,
            -- The client's Idempotency-Key: a retried create returns the first job.
            idempotency_key text,
            -- When a worker last claimed the job to submit it; a claim older than the queue's ack wait
            -- without a provider request id belongs to a worker that died.
            claimed_at timestamptz,
            -- When a job whose provider attempt failed transiently is submitted again.
            next_attempt_at timestamptz,
            -- When the worker last asked the provider about the job (the fallback for late webhooks).
            provider_checked_at timestamptz,
            -- The W3C trace context of the request that created the job, so work the worker starts
            -- on its own (polls, retries) joins the job's trace.
            traceparent text,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz,
            CONSTRAINT uq_job_provider_request_id UNIQUE (provider_request_id),
            CONSTRAINT uq_job_team_id_idempotency_key UNIQUE (team_id, idempotency_key)
        );
        CREATE INDEX ix_job_team_id_created_at ON generation.job (team_id, created_at DESC);
        CREATE INDEX ix_job_running ON generation.job (provider_checked_at) WHERE status = 'running';
        CREATE INDEX ix_job_team_id_queued ON generation.job (team_id, created_at) WHERE status = 'queued';
        CREATE TABLE generation.job_transition (
            id bigserial PRIMARY KEY,
            job_id text NOT NULL REFERENCES generation.job (id),
            from_status text,
            to_status text NOT NULL,
            reason text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_job_transition_job_id ON generation.job_transition (job_id, id);
        CREATE TABLE generation.provider_request (
            id text PRIMARY KEY,
            job_id text NOT NULL REFERENCES generation.job (id),
            attempt integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_provider_request_job_id ON generation.provider_request (job_id);
        CREATE TABLE generation.job_image (
            job_id text NOT NULL REFERENCES generation.job (id),
            position integer NOT NULL,
            file_id text NOT NULL,
            width integer NOT NULL,
            height integer NOT NULL,
            content_type text NOT NULL,
            nsfw boolean NOT NULL DEFAULT false,
            PRIMARY KEY (job_id, position)
        );
        CREATE TABLE generation.outbox (
            id text PRIMARY KEY,
            sequence bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            subject text NOT NULL,
            payload bytea NOT NULL,
            request_id text,
            traceparent text,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX ix_outbox_unpublished ON generation.outbox (sequence) WHERE published_at IS NULL
        """
    )

"""Outbound webhooks: endpoints, deliveries (one per endpoint and event) and their attempts.

Revision ID: 20261124_0002_webhooks
Revises: 20261124_0001
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0002_webhooks"
down_revision = "20261124_0001"


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE gateway.webhook_endpoint (
            id text PRIMARY KEY,
            team_id text NOT NULL REFERENCES gateway.team (id),
            url text NOT NULL,
            description text NOT NULL DEFAULT '',
            events text[] NOT NULL,
            enabled boolean NOT NULL DEFAULT true,
            secret_ciphertext text NOT NULL,
            previous_secret_ciphertext text,
            previous_secret_expires_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_webhook_endpoint_events CHECK (
                cardinality(events) > 0
                AND events <@ ARRAY[
                    'job.completed', 'job.failed', 'job.cancelled', 'model.ready', 'credits.low'
                ]::text[]
            )
        );
        CREATE INDEX ix_webhook_endpoint_team_id_created_at
            ON gateway.webhook_endpoint (team_id, created_at DESC, id DESC);
        CREATE TABLE gateway.webhook_delivery (
            id text PRIMARY KEY,
            endpoint_id text NOT NULL REFERENCES gateway.webhook_endpoint (id) ON DELETE CASCADE,
            event_id text NOT NULL,
            event_type text NOT NULL,
            payload text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            attempt_count integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            claim_token text,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_webhook_delivery_endpoint_id_event_id UNIQUE (endpoint_id, event_id),
            CONSTRAINT ck_webhook_delivery_status CHECK (status IN ('pending', 'succeeded', 'failed')),
            CONSTRAINT ck_webhook_delivery_next_attempt_at CHECK (
                (status = 'pending') = (next_attempt_at IS NOT NULL)
            )
        );
        CREATE INDEX ix_webhook_delivery_due
            ON gateway.webhook_delivery (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX ix_webhook_delivery_endpoint_id_created_at
            ON gateway.webhook_delivery (endpoint_id, created_at DESC, id DESC);
        CREATE TABLE gateway.webhook_delivery_attempt (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            delivery_id text NOT NULL REFERENCES gateway.webhook_delivery (id) ON DELETE CASCADE,
            attempted_at timestamptz NOT NULL DEFAULT now(),
            status_code integer,
            error text,
            duration_ms integer NOT NULL,
            response_snippet text
        );
        CREATE INDEX ix_webhook_delivery_attempt_delivery_id
            ON gateway.webhook_delivery_attempt (delivery_id, id)
        """
    )

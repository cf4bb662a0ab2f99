"""Provider deliveries (verified webhooks), stored once and recorded for their jobs in the background.

Revision ID: 20261124_0004
Revises: 20261124_0003
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0004"
down_revision = "20261124_0003"


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE generation.provider_delivery (
            provider_request_id text PRIMARY KEY,
            ok boolean NOT NULL,
            payload bytea NOT NULL,
            error text NOT NULL DEFAULT '',
            -- received: waiting to be recorded (again at next_attempt_at), processed: done,
            -- parked: kept failing, left for an operator instead of being retried forever.
            status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processed', 'parked')),
            attempts integer NOT NULL DEFAULT 0,
            last_error text,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            received_at timestamptz NOT NULL DEFAULT now(),
            processed_at timestamptz
        );
        CREATE INDEX ix_provider_delivery_due ON generation.provider_delivery (next_attempt_at)
            WHERE status = 'received'
        """
    )

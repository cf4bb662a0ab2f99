"""Rate-limit buckets (per key and per team, shared by every gateway replica) and the audit log.

Revision ID: 20261124_0002_limits_and_audit
Revises: 20261124_0001
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0002_limits_and_audit"
down_revision = "20261124_0001"


def upgrade() -> None:
    execute_ddl(
        """
        -- A token bucket: `tokens` refill at `rate` per second up to `capacity`, one per request.
        CREATE TABLE gateway.rate_limit_bucket (
            bucket text PRIMARY KEY,
            capacity double precision NOT NULL,
            rate double precision NOT NULL,
            tokens double precision NOT NULL,
            allowed boolean NOT NULL,
            updated_at timestamptz NOT NULL
        );
        CREATE TABLE gateway.audit_event (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            team_id text NOT NULL,
            -- Who acted: an API key, a person, or the system (e.g. Stripe changing the plan).
            actor_type text NOT NULL CHECK (actor_type IN ('api_key', 'user', 'system')),
            actor_id text,
            action text NOT NULL,
            target_type text,
            target_id text,
            details jsonb NOT NULL DEFAULT '{}'::jsonb,
            request_id text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_audit_event_team_id ON gateway.audit_event (team_id, id DESC)
        """
    )

"""Teams and their hashed API keys, with scopes.

Revision ID: 20261124_0001
Revises:
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0001"
down_revision = None


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE gateway.team (
            id text PRIMARY KEY,
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE gateway.api_key (
            id text PRIMARY KEY,
            team_id text NOT NULL REFERENCES gateway.team (id),
            prefix text NOT NULL,
            key_hash text NOT NULL,
            name text NOT NULL,
            scopes text[] NOT NULL,
            monthly_spend_cap_hundredths bigint,
            created_by text REFERENCES gateway.api_key (id),
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz,
            revoked_at timestamptz,
            CONSTRAINT uq_api_key_key_hash UNIQUE (key_hash),
            CONSTRAINT ck_api_key_scopes CHECK (
                cardinality(scopes) > 0
                AND scopes <@ ARRAY['read', 'generate', 'train', 'billing', 'admin']::text[]
            ),
            CONSTRAINT ck_api_key_monthly_spend_cap CHECK (monthly_spend_cap_hundredths >= 0)
        );
        CREATE INDEX ix_api_key_team_id_created_at ON gateway.api_key (team_id, created_at DESC, id DESC)
        """
    )

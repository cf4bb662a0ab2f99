"""Accounts, the append-only ledger, reservations and versioned pricing.

Revision ID: 20261124_0001
Revises:
"""

import json

from alembic import op
from imagegen_platform.db import execute_ddl

revision = "20261124_0001"
down_revision = None

# Version 1 of the image generation formula's factors (the seed's worked example: 27.00 credits
# for 1024x1024, hd, complexity 1.5, one image).
IMAGE_GENERATION_V1 = {
    "baseCost": "5",
    "resolutionMultipliers": {
        "512x512": "1.0",
        "768x768": "1.5",
        "1024x576": "1.5",
        "576x1024": "1.5",
        "1024x768": "1.75",
        "768x1024": "1.75",
        "1024x1024": "2.0",
    },
    "qualityMultipliers": {"standard": "1.0", "hd": "1.5"},
    "margin": "1.2",
}


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE credits.account (
            team_id text PRIMARY KEY,
            plan text NOT NULL CHECK (plan IN ('free', 'basic', 'pro', 'enterprise')),
            available_hundredths bigint NOT NULL CHECK (available_hundredths >= 0),
            reserved_hundredths bigint NOT NULL CHECK (reserved_hundredths >= 0),
            bonus_hundredths bigint NOT NULL CHECK (bonus_hundredths >= 0),
            total_allocated_hundredths bigint NOT NULL CHECK (total_allocated_hundredths >= 0),
            next_replenishment_at timestamptz NOT NULL,
            version integer NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE credits.ledger_entry (
            id text PRIMARY KEY,
            team_id text NOT NULL REFERENCES credits.account (team_id),
            kind text NOT NULL CHECK (kind IN ('allocation', 'reserve', 'capture', 'release')),
            amount_hundredths bigint NOT NULL CHECK (amount_hundredths > 0),
            idempotency_key text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_ledger_entry_kind_idempotency_key UNIQUE (kind, idempotency_key)
        );
        CREATE INDEX ix_ledger_entry_team_id_created_at ON credits.ledger_entry (team_id, created_at);
        CREATE TABLE credits.reservation (
            idempotency_key text PRIMARY KEY,
            team_id text NOT NULL REFERENCES credits.account (team_id),
            amount_hundredths bigint NOT NULL CHECK (amount_hundredths > 0),
            state text NOT NULL CHECK (state IN ('held', 'captured', 'released')),
            captured_hundredths bigint NOT NULL DEFAULT 0,
            released_hundredths bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            settled_at timestamptz,
            CONSTRAINT ck_reservation_settled_sum
                CHECK (state = 'held' OR captured_hundredths + released_hundredths = amount_hundredths)
        );
        CREATE TABLE credits.credit_pricing_config (
            operation text NOT NULL,
            version integer NOT NULL,
            config jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (operation, version)
        );
        """
    )
    op.execute(
        "INSERT INTO credits.credit_pricing_config (operation, version, config) "
        f"VALUES ('image_generation', 1, '{json.dumps(IMAGE_GENERATION_V1)}'::jsonb)"
    )

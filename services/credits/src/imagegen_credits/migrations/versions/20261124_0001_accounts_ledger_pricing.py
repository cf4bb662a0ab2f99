"""Accounts, the append-only ledger, reservations, Stripe events, the outbox and versioned pricing.

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
# The seed's model creation example: 50 x 1.5 x 1.5 + (10 - 5) x 0.5 = 115.00.
MODEL_CREATION_V1 = {"baseCost": "50", "margin": "1.5", "includedImages": 5, "extraImageCost": "0.5"}
# The seed's refinement example, second refinement: 30 x 1.2^2 x 1.5 x 1.1 = 71.28.
MODEL_REFINEMENT_V1 = {"baseCost": "30", "iterationGrowth": "1.2", "margin": "1.1"}


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
            period_start timestamptz NOT NULL,
            next_replenishment_at timestamptz NOT NULL,
            billing text NOT NULL DEFAULT 'manual' CHECK (billing IN ('manual', 'stripe')),
            stripe_customer_id text,
            stripe_subscription_id text,
            subscription_status text,
            -- Stripe's creation time of the last subscription event applied, so older ones are ignored.
            subscription_event_at timestamptz,
            low_balance_threshold_hundredths bigint CHECK (low_balance_threshold_hundredths >= 0),
            below_low_balance boolean NOT NULL DEFAULT false,
            version integer NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_account_bonus_within_available CHECK (bonus_hundredths <= available_hundredths),
            CONSTRAINT uq_account_stripe_customer_id UNIQUE (stripe_customer_id)
        );
        CREATE INDEX ix_account_next_replenishment_at ON credits.account (next_replenishment_at);
        CREATE TABLE credits.ledger_entry (
            id text PRIMARY KEY,
            sequence bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            team_id text NOT NULL REFERENCES credits.account (team_id),
            kind text NOT NULL CHECK (
                kind IN ('allocation', 'bonus', 'reserve', 'capture', 'release', 'expiry', 'adjustment')
            ),
            amount_hundredths bigint NOT NULL,
            bonus_hundredths bigint NOT NULL DEFAULT 0,
            available_after_hundredths bigint NOT NULL,
            reserved_after_hundredths bigint NOT NULL,
            idempotency_key text NOT NULL,
            description text,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_ledger_entry_amount
                CHECK (amount_hundredths > 0 OR (kind = 'adjustment' AND amount_hundredths <> 0)),
            CONSTRAINT uq_ledger_entry_kind_idempotency_key UNIQUE (kind, idempotency_key)
        );
        CREATE INDEX ix_ledger_entry_team_id_sequence ON credits.ledger_entry (team_id, sequence DESC);
        CREATE TABLE credits.reservation (
            idempotency_key text PRIMARY KEY,
            team_id text NOT NULL REFERENCES credits.account (team_id),
            amount_hundredths bigint NOT NULL CHECK (amount_hundredths > 0),
            bonus_hundredths bigint NOT NULL DEFAULT 0,
            state text NOT NULL CHECK (state IN ('held', 'captured', 'released')),
            captured_hundredths bigint NOT NULL DEFAULT 0,
            released_hundredths bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            settled_at timestamptz,
            CONSTRAINT ck_reservation_settled_sum
                CHECK (state = 'held' OR captured_hundredths + released_hundredths = amount_hundredths)
        );
        CREATE INDEX ix_reservation_team_id_held ON credits.reservation (team_id) WHERE state = 'held';
        CREATE TABLE credits.stripe_event (
            id text PRIMARY KEY,
            type text NOT NULL,
            payload jsonb NOT NULL,
            stripe_created_at timestamptz NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_error text,
            received_at timestamptz NOT NULL DEFAULT now(),
            processed_at timestamptz
        );
        CREATE INDEX ix_stripe_event_due ON credits.stripe_event (next_attempt_at) WHERE status = 'pending';
        CREATE TABLE credits.outbox (
            id text PRIMARY KEY,
            sequence bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            subject text NOT NULL,
            payload bytea NOT NULL,
            request_id text,
            traceparent text,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        );
        CREATE INDEX ix_outbox_unpublished ON credits.outbox (sequence) WHERE published_at IS NULL;
        CREATE TABLE credits.credit_pricing_config (
            operation text NOT NULL,
            version integer NOT NULL,
            config jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (operation, version)
        );
        """
    )
    for operation, config in (
        ("image_generation", IMAGE_GENERATION_V1),
        ("model_creation", MODEL_CREATION_V1),
        ("model_refinement", MODEL_REFINEMENT_V1),
    ):
        op.execute(
            "INSERT INTO credits.credit_pricing_config (operation, version, config) "
            f"VALUES ('{operation}', 1, '{json.dumps(config)}'::jsonb)"
        )

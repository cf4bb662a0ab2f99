"""The gateway's schema: teams and their API keys, and outbound webhooks."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

SCHEMA = "gateway"
metadata = MetaData(schema=SCHEMA)

team = Table(
    "team",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

api_key = Table(
    "api_key",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, nullable=False),
    Column("prefix", String, nullable=False),
    Column("key_hash", String, nullable=False, unique=True),
    Column("name", String, nullable=False),
    Column("scopes", ARRAY(String), nullable=False),
    Column("monthly_spend_cap_hundredths", BigInteger),
    # Who made the key: another key, or a signed-in user (at most one; neither for the admin CLI's).
    Column("created_by", String, ForeignKey("gateway.api_key.id")),
    Column("created_by_user_id", String, ForeignKey("gateway.user_account.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

# Outbound webhooks: a team's endpoints, one delivery per endpoint and event, and every attempt.
webhook_endpoint = Table(
    "webhook_endpoint",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, ForeignKey("gateway.team.id"), nullable=False),
    Column("url", String, nullable=False),
    Column("description", String, nullable=False, server_default=""),
    # text[], not varchar[], so `events @> ARRAY[...]` binds without a cast.
    Column("events", ARRAY(Text), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    # Fernet tokens; the previous secret still signs until it expires, so receivers can roll over.
    Column("secret_ciphertext", String, nullable=False),
    Column("previous_secret_ciphertext", String),
    Column("previous_secret_expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    # Derived from (endpoint_id, event_id): the Standard Webhooks `webhook-id`, the same on every retry.
    Column("id", String, primary_key=True),
    Column(
        "endpoint_id", String, ForeignKey("gateway.webhook_endpoint.id", ondelete="CASCADE"), nullable=False
    ),
    Column("event_id", String, nullable=False),
    Column("event_type", String, nullable=False),
    # The exact body sent (and signed) on every attempt.
    Column("payload", String, nullable=False),
    Column("status", String, nullable=False, server_default="pending"),
    # Attempts since it was (re)queued; the retry schedule is counted from it.
    Column("attempt_count", Integer, nullable=False, server_default="0"),
    # When a pending delivery is due; a claimed one's lease end. Null once it succeeded or failed.
    Column("next_attempt_at", DateTime(timezone=True)),
    # Set by each claim; an attempt updates the delivery only if its claim is still the current one.
    Column("claim_token", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("endpoint_id", "event_id"),
)

webhook_delivery_attempt = Table(
    "webhook_delivery_attempt",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "delivery_id",
        String,
        ForeignKey("gateway.webhook_delivery.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Null when no response came (timeout, refused connection, address not allowed).
    Column("status_code", Integer),
    Column("error", String),
    Column("duration_ms", Integer, nullable=False),
    Column("response_snippet", String),
)

# Accounts for people: users, their roles in teams, browser sessions and invitations to teams.
user_account = Table(
    "user_account",
    metadata,
    Column("id", String, primary_key=True),
    # Lower-case and trimmed, unique.
    Column("email", String, nullable=False, unique=True),
    Column("password_hash", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

team_member = Table(
    "team_member",
    metadata,
    Column("team_id", String, ForeignKey("gateway.team.id"), primary_key=True),
    Column("user_id", String, ForeignKey("gateway.user_account.id"), primary_key=True),
    # owner or member
    Column("role", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

user_session = Table(
    "user_session",
    metadata,
    Column("id", String, primary_key=True),
    Column("token_hash", String, nullable=False, unique=True),
    Column("user_id", String, ForeignKey("gateway.user_account.id"), nullable=False),
    # The team the session acts for; null when the user had no team at sign-in.
    Column("team_id", String, ForeignKey("gateway.team.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

invitation = Table(
    "invitation",
    metadata,
    Column("id", String, primary_key=True),
    Column("team_id", String, ForeignKey("gateway.team.id"), nullable=False),
    Column("email", String, nullable=False),
    Column("role", String, nullable=False),
    Column("token_hash", String, nullable=False, unique=True),
    # Who invited: a key or a signed-in user (at most one).
    Column("invited_by_key_id", String, ForeignKey("gateway.api_key.id")),
    Column("invited_by_user_id", String, ForeignKey("gateway.user_account.id")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
    Column("accepted_by_user_id", String, ForeignKey("gateway.user_account.id")),
    Column("revoked_at", DateTime(timezone=True)),
)


# Who did what to a team's keys, models, members, webhooks and plan (append-only).
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("team_id", String, nullable=False),
    Column("actor_type", String, nullable=False),
    Column("actor_id", String),
    Column("action", String, nullable=False),
    Column("target_type", String),
    Column("target_id", String),
    Column("details", JSONB, nullable=False),
    Column("request_id", String),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

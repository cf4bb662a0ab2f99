"""Accounts for people: users, team memberships with roles, sessions, invitations; keys made by users.

Revision ID: 20261124_0002_accounts
Revises: 20261124_0001
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0002_accounts"
down_revision = "20261124_0001"


def upgrade() -> None:
    execute_ddl(
        """
        CREATE TABLE gateway.user_account (
            id text PRIMARY KEY,
            email text NOT NULL,
            password_hash text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_user_account_email UNIQUE (email),
            CONSTRAINT ck_user_account_email_normalised CHECK (email = lower(btrim(email)))
        );
        CREATE TABLE gateway.team_member (
            team_id text NOT NULL REFERENCES gateway.team (id),
            user_id text NOT NULL REFERENCES gateway.user_account (id),
            role text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_team_member PRIMARY KEY (team_id, user_id),
            CONSTRAINT ck_team_member_role CHECK (role IN ('owner', 'member'))
        );
        CREATE INDEX ix_team_member_user_id ON gateway.team_member (user_id);
        CREATE INDEX ix_team_member_team_id_created_at
            ON gateway.team_member (team_id, created_at DESC, user_id DESC);
        CREATE TABLE gateway.user_session (
            id text PRIMARY KEY,
            token_hash text NOT NULL,
            user_id text NOT NULL REFERENCES gateway.user_account (id),
            team_id text REFERENCES gateway.team (id),
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz,
            CONSTRAINT uq_user_session_token_hash UNIQUE (token_hash)
        );
        CREATE INDEX ix_user_session_user_id ON gateway.user_session (user_id);
        CREATE TABLE gateway.invitation (
            id text PRIMARY KEY,
            team_id text NOT NULL REFERENCES gateway.team (id),
            email text NOT NULL,
            role text NOT NULL,
            token_hash text NOT NULL,
            invited_by_key_id text REFERENCES gateway.api_key (id),
            invited_by_user_id text REFERENCES gateway.user_account (id),
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            accepted_at timestamptz,
            accepted_by_user_id text REFERENCES gateway.user_account (id),
            revoked_at timestamptz,
            CONSTRAINT uq_invitation_token_hash UNIQUE (token_hash),
            CONSTRAINT ck_invitation_role CHECK (role IN ('owner', 'member')),
            CONSTRAINT ck_invitation_one_inviter CHECK (
                invited_by_key_id IS NULL OR invited_by_user_id IS NULL
            )
        );
        CREATE INDEX ix_invitation_team_id_created_at
            ON gateway.invitation (team_id, created_at DESC, id DESC);
        ALTER TABLE gateway.api_key
            ADD COLUMN created_by_user_id text REFERENCES gateway.user_account (id),
            ADD CONSTRAINT ck_api_key_one_creator CHECK (created_by IS NULL OR created_by_user_id IS NULL)
        """
    )

"""Joins the revisions written side by side (accounts, outbound webhooks, rate limits and audit) into
one head again; it changes nothing itself.

Revision ID: 20261124_0003
Revises: 20261124_0002_accounts, 20261124_0002_webhooks, 20261124_0002_limits_and_audit
"""

revision = "20261124_0003"
down_revision = ("20261124_0002_accounts", "20261124_0002_webhooks", "20261124_0002_limits_and_audit")


def upgrade() -> None:
    pass

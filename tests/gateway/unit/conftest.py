"""Unit tests run the app without a database: rate limits allow everything, at their ports."""

import pytest
from imagegen_gateway.adapters import api_keys, rate_limits

UNLIMITED = rate_limits.Quota(limit=1000, remaining=999, reset_seconds=0, allowed=True, retry_after_seconds=0)


@pytest.fixture(autouse=True)
def unlimited_rate(monkeypatch):
    async def take(engine, principal, principal_limit, team_id, team_limit):
        return UNLIMITED

    monkeypatch.setattr(rate_limits, "take", take)


@pytest.fixture
def api_key_callers(monkeypatch) -> dict[str, api_keys.Caller]:
    """Live API keys by secret, in place of the database (unknown secrets are refused); tests fill it."""
    callers: dict[str, api_keys.Caller] = {}

    async def authenticate(engine, secret, key_limit, team_limit):
        caller = callers.get(secret)
        return None if caller is None else (caller, UNLIMITED)

    monkeypatch.setattr(api_keys, "authenticate", authenticate)
    return callers

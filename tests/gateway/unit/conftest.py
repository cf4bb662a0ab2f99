"""Unit tests run the app without a database: rate limits allow everything, at their port."""

import pytest
from imagegen_gateway.adapters import rate_limits

UNLIMITED = rate_limits.Quota(limit=1000, remaining=999, reset_seconds=0, allowed=True, retry_after_seconds=0)


@pytest.fixture(autouse=True)
def unlimited_rate(monkeypatch):
    async def take(engine, principal, principal_limit, team_id, team_limit):
        return UNLIMITED

    monkeypatch.setattr(rate_limits, "take", take)

"""Rate-limit buckets on a real Postgres: exact under concurrency, shared by a team's keys."""

import asyncio
import uuid

import pytest
from imagegen_gateway.adapters.rate_limits import RateLimit, take
from imagegen_platform import db

ROOMY = RateLimit(100, 60)


@pytest.fixture
async def engine(infrastructure):
    engine = db.create_engine(infrastructure.database_url)
    yield engine
    await engine.dispose()


def ids() -> tuple[str, str]:
    return f"key-{uuid.uuid4().hex}", f"team-{uuid.uuid4().hex}"


async def test_a_key_gets_its_burst_then_429_with_the_time_to_the_next_request(engine):
    key, team = ids()
    quotas = [await take(engine, key, RateLimit(3, 60), team, ROOMY) for _ in range(4)]
    assert [quota.allowed for quota in quotas] == [True, True, True, False]
    assert [quota.remaining for quota in quotas[:3]] == [2, 1, 0]
    refused = quotas[3]
    assert refused.limit == 3 and 15 <= refused.retry_after_seconds <= 20
    assert refused.headers()["Retry-After"] == str(refused.retry_after_seconds)
    assert 55 <= quotas[2].reset_seconds <= 60


async def test_concurrent_requests_never_take_more_than_the_bucket_holds(engine):
    key, team = ids()
    quotas = await asyncio.gather(*(take(engine, key, RateLimit(5, 60), team, ROOMY) for _ in range(20)))
    assert sum(quota.allowed for quota in quotas) == 5


async def test_a_teams_keys_share_the_team_bucket(engine):
    _, team = ids()
    per_key, per_team = RateLimit(10, 60), RateLimit(4, 60)
    allowed = [(await take(engine, f"key-{n % 2}-{team}", per_key, team, per_team)).allowed for n in range(6)]
    assert allowed == [True] * 4 + [False] * 2


async def test_tokens_come_back_at_the_rate(engine):
    key, team = ids()
    fast = RateLimit(2, 0.2)  # one token every 0.1 s
    assert [(await take(engine, key, fast, team, ROOMY)).allowed for _ in range(3)] == [True, True, False]
    await asyncio.sleep(0.15)
    assert (await take(engine, key, fast, team, ROOMY)).allowed

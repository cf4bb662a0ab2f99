"""Rate-limit buckets on a real Postgres: exact under concurrency, shared by a team's keys."""

import asyncio
import uuid

import httpx
import pytest
from imagegen_gateway.adapters import api_keys
from imagegen_gateway.adapters.rate_limits import RateLimit, take
from imagegen_gateway.adapters.tables import team
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings
from imagegen_platform import db
from sqlalchemy import insert

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


async def test_every_authenticated_answer_reports_its_quota_and_a_429_says_when_to_retry(
    infrastructure, engine
):
    settings = GatewaySettings(
        database_url=infrastructure.database_url,
        models_addr="unused:1",
        generation_addr="unused:1",
        credits_addr="unused:1",
        storage_addr="unused:1",
        rate_limit_per_key_per_minute=2,
    )
    app = create_app(settings)
    app.state.settings, app.state.engine = settings, engine
    team_id = f"team-{uuid.uuid4().hex}"
    async with engine.begin() as connection:
        await connection.execute(insert(team).values(id=team_id, name="limited"))
    key = await api_keys.create_key(engine, team_id, "limited")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {key.secret}"},
    ) as http:
        answers = [await http.get("/api/keys") for _ in range(3)]
        unauthenticated = await http.get("/api/keys", headers={"Authorization": "Bearer nope"})
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert [answer.headers["RateLimit-Remaining"] for answer in answers] == ["1", "0", "0"]
    assert all(answer.headers["RateLimit-Limit"] == "2" for answer in answers)
    refused = answers[2]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 25 <= int(refused.headers["Retry-After"]) <= 30
    assert "Retry-After" not in answers[1].headers
    # Nobody was identified, so no bucket was touched and no quota is reported.
    assert unauthenticated.status_code == 401 and "RateLimit-Limit" not in unauthenticated.headers

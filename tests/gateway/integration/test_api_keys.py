"""Authenticating an API key on a real Postgres: one statement finds the live key, records its use
and takes the request from its and its team's rate-limit buckets."""

import asyncio
import uuid

import pytest
from imagegen_gateway.adapters import api_keys
from imagegen_gateway.adapters.rate_limits import RateLimit
from imagegen_gateway.adapters.tables import team
from imagegen_platform import db
from sqlalchemy import insert, text

ROOMY = RateLimit(100, 60)


@pytest.fixture
async def engine(infrastructure):
    engine = db.create_engine(infrastructure.database_url)
    yield engine
    await engine.dispose()


async def new_team(engine) -> str:
    team_id = f"team-{uuid.uuid4().hex}"
    async with engine.begin() as connection:
        await connection.execute(insert(team).values(id=team_id, name="keys"))
    return team_id


async def buckets(engine, *names: str) -> dict[str, float]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT bucket, tokens FROM gateway.rate_limit_bucket WHERE bucket = ANY(:names)"),
            {"names": list(names)},
        )
    return {bucket: tokens for bucket, tokens in rows}


async def test_a_live_key_is_its_caller_its_use_recorded_and_the_request_taken_from_both_buckets(engine):
    team_id = await new_team(engine)
    key = await api_keys.create_key(
        engine, team_id, "ci", ["read", "generate"], monthly_spend_cap_hundredths=500
    )

    first = await api_keys.authenticate(engine, key.secret, RateLimit(2, 60), ROOMY)
    second = await api_keys.authenticate(engine, key.secret, RateLimit(2, 60), ROOMY)
    third = await api_keys.authenticate(engine, key.secret, RateLimit(2, 60), ROOMY)

    assert first is not None and second is not None and third is not None
    caller, quota = first
    assert caller == api_keys.Caller(key.id, team_id, frozenset({"read", "generate"}), None, 500)
    # The key's bucket is the tighter one, so it decides what is reported.
    assert (quota.limit, quota.remaining, quota.allowed) == (2, 1, True)
    assert (second[1].remaining, second[1].allowed) == (0, True)
    assert not third[1].allowed and third[1].retry_after_seconds >= 1
    assert (await api_keys.get_key(engine, team_id, key.id)).last_used_at is not None
    left = await buckets(engine, f"key:{key.id}", f"team:{team_id}")
    assert left[f"key:{key.id}"] < 1 and 96 < left[f"team:{team_id}"] < 98


async def test_concurrent_requests_of_a_fresh_key_never_take_more_than_its_bucket_holds(engine):
    team_id = await new_team(engine)
    key = await api_keys.create_key(engine, team_id, "burst")
    found = await asyncio.gather(
        *(api_keys.authenticate(engine, key.secret, RateLimit(5, 60), ROOMY) for _ in range(20))
    )
    assert sum(quota.allowed for _, quota in found) == 5


async def test_a_team_bucket_refuses_every_key_of_the_team(engine):
    team_id = await new_team(engine)
    keys = [await api_keys.create_key(engine, team_id, f"key-{n}") for n in range(2)]
    allowed = [
        (await api_keys.authenticate(engine, keys[n % 2].secret, ROOMY, RateLimit(3, 60)))[1].allowed
        for n in range(4)
    ]
    assert allowed == [True, True, True, False]


async def test_an_unknown_or_revoked_key_is_refused_and_touches_no_bucket(engine):
    team_id = await new_team(engine)
    key = await api_keys.create_key(engine, team_id, "leaked")
    await api_keys.revoke_key(engine, team_id, key.id)

    assert await api_keys.authenticate(engine, key.secret, ROOMY, ROOMY) is None
    assert await api_keys.authenticate(engine, "ig_unknown", ROOMY, ROOMY) is None
    assert await buckets(engine, f"key:{key.id}", f"team:{team_id}") == {}
    assert (await api_keys.get_key(engine, team_id, key.id)).last_used_at is None

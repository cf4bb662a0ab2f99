"""API keys: random secrets shown once, stored only as SHA-256 hashes (see `tokens`).

Each key holds scopes: `read`, `generate`, `train` and `billing` for the API, and `admin` for managing
the team's keys and members. Nothing is cached, so a revoked key stops working on the next request.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from imagegen.generation.v1 import generation_pb2
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters import database, rate_limits
from imagegen_gateway.adapters.tables import api_key
from imagegen_gateway.adapters.tokens import hash_secret, new_secret
from imagegen_gateway.pagination import After, newest_first

KEY_PREFIX = "ig_"
PREFIX_LENGTH = 11
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPES = ("read", "generate", "train", "billing", "admin")


@dataclass(frozen=True)
class NewKey:
    id: str
    secret: str
    prefix: str


@dataclass(frozen=True)
class Caller:
    """Who acts, and for which team with which scopes: a live API key (`key_id`), or a signed-in
    user (`user_id`) acting for their session's current team with their role's scopes."""

    key_id: str | None
    team_id: str
    scopes: frozenset[str]
    user_id: str | None = None
    # The key's monthly spend cap in hundredths; None: uncapped (and always for people).
    monthly_spend_cap_hundredths: int | None = None


def acted_by(key_id: str | None, user_id: str | None) -> tuple[str | None, Literal["apiKey", "user"] | None]:
    """(id, type) of whoever did something, as the API names them: a key, a user, or nobody (the CLI)."""
    if key_id:
        return key_id, "apiKey"
    if user_id:
        return user_id, "user"
    return None, None


async def create_key(
    engine: AsyncEngine,
    team_id: str,
    name: str,
    scopes: Sequence[str] = SCOPES,
    monthly_spend_cap_hundredths: int | None = None,
    created_by: Caller | None = None,
) -> NewKey:
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise ValueError(f"scopes must be a non-empty subset of {SCOPES}, not {sorted(unknown)}")
    secret = new_secret(KEY_PREFIX)
    key = NewKey(id=str(uuid.uuid4()), secret=secret, prefix=secret[:PREFIX_LENGTH])
    async with engine.begin() as connection:
        await connection.execute(
            insert(api_key).values(
                id=key.id,
                team_id=team_id,
                prefix=key.prefix,
                key_hash=hash_secret(secret),
                name=name,
                scopes=[scope for scope in SCOPES if scope in scopes],
                monthly_spend_cap_hundredths=monthly_spend_cap_hundredths,
                created_by=created_by.key_id if created_by else None,
                created_by_user_id=created_by.user_id if created_by else None,
            )
        )
    return key


# One statement, so one round trip: the live key of a secret's hash ($1), its last use recorded at
# most once a minute ($6), and a request taken from its bucket and its team's ($2-$5: capacity and
# rate of each). No row: the key is unknown or revoked, and no bucket was touched.
_AUTHENTICATE = f"""
WITH caller AS (
    SELECT id, team_id, scopes, monthly_spend_cap_hundredths
    FROM gateway.api_key
    WHERE key_hash = $1 AND revoked_at IS NULL
),
used AS (
    UPDATE gateway.api_key SET last_used_at = now()
    WHERE id = (SELECT id FROM caller) AND (last_used_at IS NULL OR last_used_at < now() - $6::interval)
),
taken AS ({
    rate_limits.take_from(
        "SELECT 'key:' || id, $2::float8, $3::float8 FROM caller"
        " UNION ALL SELECT 'team:' || team_id, $4::float8, $5::float8 FROM caller"
    )
})
SELECT caller.id, caller.team_id, caller.scopes, caller.monthly_spend_cap_hundredths,
       taken.capacity, taken.rate, taken.tokens, taken.allowed
FROM caller, taken
"""


async def authenticate(
    engine: AsyncEngine, secret: str, key_limit: rate_limits.RateLimit, team_limit: rate_limits.RateLimit
) -> tuple[Caller, rate_limits.Quota] | None:
    """The live key with this secret, and what taking this request left of its and its team's rate
    limits; None for unknown or revoked keys."""
    rows = await database.fetch(
        engine,
        _AUTHENTICATE,
        hash_secret(secret),
        float(key_limit.requests),
        key_limit.rate,
        float(team_limit.requests),
        team_limit.rate,
        LAST_USED_RESOLUTION,
    )
    if not rows:
        return None
    key_id, team_id, scopes, monthly_spend_cap_hundredths = rows[0][:4]
    caller = Caller(
        key_id=key_id,
        team_id=team_id,
        scopes=frozenset(scopes),
        monthly_spend_cap_hundredths=monthly_spend_cap_hundredths,
    )
    return caller, rate_limits.tightest(row[4:] for row in rows)


def key_spend(caller: Caller) -> generation_pb2.KeySpend | None:
    """The key a job is created with, for its usage and its cap; None for people signed in."""
    if caller.key_id is None:
        return None
    return generation_pb2.KeySpend(
        api_key_id=caller.key_id, monthly_cap_hundredths=caller.monthly_spend_cap_hundredths
    )


@dataclass(frozen=True)
class KeyInfo:
    """A key as its team may see it: never the secret or its hash."""

    id: str
    prefix: str
    name: str
    scopes: list[str]
    monthly_spend_cap_hundredths: int | None
    created_by: str | None
    created_by_user_id: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_INFO_COLUMNS = (
    api_key.c.id,
    api_key.c.prefix,
    api_key.c.name,
    api_key.c.scopes,
    api_key.c.monthly_spend_cap_hundredths,
    api_key.c.created_by,
    api_key.c.created_by_user_id,
    api_key.c.created_at,
    api_key.c.last_used_at,
    api_key.c.revoked_at,
)


async def get_key(engine: AsyncEngine, team_id: str, key_id: str) -> KeyInfo | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(*_INFO_COLUMNS).where(api_key.c.team_id == team_id, api_key.c.id == key_id)
            )
        ).one_or_none()
    return None if row is None else KeyInfo(**row._asdict())


async def list_keys(
    engine: AsyncEngine, team_id: str, limit: int, after: After | None = None
) -> list[KeyInfo]:
    """The team's keys (revoked ones too), newest first."""
    query = newest_first(
        select(*_INFO_COLUMNS).where(api_key.c.team_id == team_id),
        api_key.c.created_at,
        api_key.c.id,
        limit,
        after,
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [KeyInfo(**row._asdict()) for row in rows]


async def revoke_key(engine: AsyncEngine, team_id: str, key_id: str) -> tuple[KeyInfo | None, bool]:
    """Revoke a team's key: the key (None for no such key) and whether this call revoked it;
    revoking again keeps the first revocation time."""
    async with engine.begin() as connection:
        revoked = await connection.execute(
            update(api_key)
            .where(api_key.c.team_id == team_id, api_key.c.id == key_id, api_key.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
    return await get_key(engine, team_id, key_id), revoked.rowcount == 1

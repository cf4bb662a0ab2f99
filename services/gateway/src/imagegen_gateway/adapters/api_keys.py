"""API keys: random secrets shown once, stored only as SHA-256 hashes.

A key carries 256 bits of randomness, so a fast hash is enough (a slow password hash protects
guessable secrets, which these are not) and lets every request be checked with one indexed lookup.
Each key holds scopes: `read`, `generate`, `train` and `billing` for the API, and `admin` for managing
the team's keys. Nothing is cached, so a revoked key stops working on the next request.
"""

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters.tables import api_key, team

KEY_PREFIX = "ig_"
PREFIX_LENGTH = 11
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPES = ("read", "generate", "train", "billing", "admin")


@dataclass(frozen=True)
class NewKey:
    id: str
    secret: str
    prefix: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_team(engine: AsyncEngine, name: str) -> str:
    team_id = str(uuid.uuid4())
    async with engine.begin() as connection:
        await connection.execute(insert(team).values(id=team_id, name=name))
    return team_id


async def create_key(
    engine: AsyncEngine,
    team_id: str,
    name: str,
    scopes: Sequence[str] = SCOPES,
    monthly_spend_cap_hundredths: int | None = None,
    created_by: str | None = None,
) -> NewKey:
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise ValueError(f"scopes must be a non-empty subset of {SCOPES}, not {sorted(unknown)}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = NewKey(id=str(uuid.uuid4()), secret=secret, prefix=secret[:PREFIX_LENGTH])
    async with engine.begin() as connection:
        await connection.execute(
            insert(api_key).values(
                id=key.id,
                team_id=team_id,
                prefix=key.prefix,
                key_hash=hash_key(secret),
                name=name,
                scopes=[scope for scope in SCOPES if scope in scopes],
                monthly_spend_cap_hundredths=monthly_spend_cap_hundredths,
                created_by=created_by,
            )
        )
    return key


@dataclass(frozen=True)
class Caller:
    """Who is calling: the live key that authenticated the request."""

    key_id: str
    team_id: str
    scopes: frozenset[str]


async def caller_for_key(engine: AsyncEngine, secret: str) -> Caller | None:
    """The live key with this secret; None for unknown or revoked keys."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(api_key.c.id, api_key.c.team_id, api_key.c.scopes, api_key.c.last_used_at).where(
                    api_key.c.key_hash == hash_key(secret), api_key.c.revoked_at.is_(None)
                )
            )
        ).one_or_none()
        if row is None:
            return None
        # Record use at most once a minute, so authentication is not a write on every request.
        if row.last_used_at is None or row.last_used_at < datetime.now(UTC) - LAST_USED_RESOLUTION:
            await connection.execute(
                update(api_key).where(api_key.c.id == row.id).values(last_used_at=func.now())
            )
            await connection.commit()
        return Caller(key_id=row.id, team_id=row.team_id, scopes=frozenset(row.scopes))


@dataclass(frozen=True)
class KeyInfo:
    """A key as its team may see it: never the secret or its hash."""

    id: str
    prefix: str
    name: str
    scopes: list[str]
    monthly_spend_cap_hundredths: int | None
    created_by: str | None
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
    engine: AsyncEngine, team_id: str, limit: int, after: tuple[datetime, str] | None = None
) -> list[KeyInfo]:
    """The team's keys (revoked ones too), newest first, after the (created_at, id) of a page's last."""
    query = select(*_INFO_COLUMNS).where(api_key.c.team_id == team_id)
    if after is not None:
        created_at, key_id = after
        query = query.where(
            or_(
                api_key.c.created_at < created_at,
                and_(api_key.c.created_at == created_at, api_key.c.id < key_id),
            )
        )
    query = query.order_by(api_key.c.created_at.desc(), api_key.c.id.desc()).limit(limit)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [KeyInfo(**row._asdict()) for row in rows]


async def revoke_key(engine: AsyncEngine, team_id: str, key_id: str) -> KeyInfo | None:
    """Revoke a team's key; revoking again keeps the first revocation time. None for no such key."""
    async with engine.begin() as connection:
        await connection.execute(
            update(api_key)
            .where(api_key.c.team_id == team_id, api_key.c.id == key_id, api_key.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
    return await get_key(engine, team_id, key_id)

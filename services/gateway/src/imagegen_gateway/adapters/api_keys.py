"""API keys: random secrets shown once, stored only as SHA-256 hashes.

A key carries 256 bits of randomness, so a fast hash is enough (a slow password hash protects
guessable secrets, which these are not) and lets every request be checked with one indexed lookup.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters.tables import api_key, team

KEY_PREFIX = "ig_"
PREFIX_LENGTH = 11
LAST_USED_RESOLUTION = timedelta(minutes=1)


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


async def create_key(engine: AsyncEngine, team_id: str, name: str) -> NewKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = NewKey(id=str(uuid.uuid4()), secret=secret, prefix=secret[:PREFIX_LENGTH])
    async with engine.begin() as connection:
        await connection.execute(
            insert(api_key).values(
                id=key.id, team_id=team_id, prefix=key.prefix, key_hash=hash_key(secret), name=name
            )
        )
    return key


async def team_for_key(engine: AsyncEngine, secret: str) -> str | None:
    """The team a live key belongs to; None for unknown or revoked keys."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(api_key.c.id, api_key.c.team_id, api_key.c.last_used_at).where(
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
        return row.team_id

"""Browser sessions: an opaque random token in a cookie, stored only hashed (see `tokens`).

A session expires SESSION_TTL after its last use (sliding) and logout revokes it at once. It acts
for its current team with the user's role there, read on every request, so a changed role or a
removed membership takes effect on the next request.
"""

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters.tables import team_member, user_session
from imagegen_gateway.adapters.tokens import hash_secret, new_secret

SESSION_TTL = timedelta(days=14)
# Expiry slides at most once a minute, so authentication is not a write on every request.
SLIDE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    # The team the session acts for and the user's role in it; None when the user had no team when
    # signing in, or has been removed from it since.
    team_id: str | None
    role: str | None
    expires_at: datetime
    # The expiry slid forward on this use, so the cookie should be re-issued to last as long.
    renewed: bool = False


async def start_session(engine: AsyncEngine, user_id: str, team_id: str | None) -> str:
    """A new session of the user acting for `team_id`; its token, for the cookie."""
    token = new_secret()
    async with engine.begin() as connection:
        await connection.execute(
            insert(user_session).values(
                id=str(uuid.uuid4()),
                token_hash=hash_secret(token),
                user_id=user_id,
                team_id=team_id,
                expires_at=func.now() + SESSION_TTL,
            )
        )
    return token


async def live_session(engine: AsyncEngine, token: str) -> Session | None:
    """The unexpired, unrevoked session with this token, its expiry slid forward; None otherwise."""
    membership = and_(
        team_member.c.team_id == user_session.c.team_id, team_member.c.user_id == user_session.c.user_id
    )
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    user_session.c.id,
                    user_session.c.user_id,
                    team_member.c.team_id,
                    team_member.c.role,
                    user_session.c.expires_at,
                )
                .outerjoin_from(user_session, team_member, membership)
                .where(
                    user_session.c.token_hash == hash_secret(token),
                    user_session.c.revoked_at.is_(None),
                    user_session.c.expires_at > func.now(),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        session = Session(**row._asdict())
        if session.expires_at < datetime.now(UTC) + SESSION_TTL - SLIDE_RESOLUTION:
            expires_at = (
                await connection.execute(
                    update(user_session)
                    .where(user_session.c.id == session.id)
                    .values(expires_at=func.now() + SESSION_TTL)
                    .returning(user_session.c.expires_at)
                )
            ).scalar_one()
            await connection.commit()
            session = replace(session, expires_at=expires_at, renewed=True)
    return session


async def end_session(engine: AsyncEngine, session_id: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(user_session)
            .where(user_session.c.id == session_id, user_session.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )


async def switch_team(engine: AsyncEngine, session_id: str, user_id: str, team_id: str) -> bool:
    """Make `team_id` the session's current team; False (nothing changes) unless the user is a member."""
    is_member = exists().where(team_member.c.team_id == team_id, team_member.c.user_id == user_id)
    async with engine.begin() as connection:
        switched = await connection.execute(
            update(user_session).where(user_session.c.id == session_id, is_member).values(team_id=team_id)
        )
    return switched.rowcount == 1

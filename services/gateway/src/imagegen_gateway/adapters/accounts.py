"""People: users (argon2id password hashes, see `passwords`), their roles in teams, and invitations.

A team's members are `owner`s, with every scope (read, generate, train, billing, admin), or
`member`s (read, generate, train). A team always keeps an owner: demoting or removing an owner locks
the team's row first, so two owners demoting each other at once cannot both succeed.
Invitations are one-time tokens stored hashed (see `tokens`), valid for INVITATION_TTL, and only the
user whose email they name can accept them.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_gateway.adapters.api_keys import SCOPES, Caller
from imagegen_gateway.adapters.tables import invitation, team, team_member, user_account
from imagegen_gateway.adapters.tokens import hash_secret, new_secret
from imagegen_gateway.pagination import After, newest_first

ROLE_SCOPES = {"owner": frozenset(SCOPES), "member": frozenset({"read", "generate", "train"})}
INVITATION_TTL = timedelta(days=7)
INVITATION_PREFIX = "igi_"


class EmailTaken(Exception):
    """The email already has an account."""


class LastOwner(Exception):
    """The change would leave the team without an owner."""


class AlreadyMember(Exception):
    """The person is already a member of the team."""


class InvitationForAnotherEmail(Exception):
    """The invitation names another email than the signed-in user's."""


class InvitationAccepted(Exception):
    """The invitation was accepted, so there is nothing left to revoke."""


@dataclass(frozen=True)
class User:
    id: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class UserTeam:
    """A team as one of its members sees it."""

    id: str
    name: str
    role: str


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    role: str
    joined_at: datetime


@dataclass(frozen=True)
class Invitation:
    id: str
    email: str
    role: str
    invited_by_key_id: str | None
    invited_by_user_id: str | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= datetime.now(UTC) else "pending"


_USER_COLUMNS = (user_account.c.id, user_account.c.email, user_account.c.created_at)


async def find_user(engine: AsyncEngine, email: str) -> tuple[User, str] | None:
    """The user with this (normalised) email, and their password hash."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(*_USER_COLUMNS, user_account.c.password_hash).where(user_account.c.email == email)
            )
        ).one_or_none()
    if row is None:
        return None
    return User(row.id, row.email, row.created_at), row.password_hash


async def get_user(engine: AsyncEngine, user_id: str) -> User | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(*_USER_COLUMNS).where(user_account.c.id == user_id))
        ).one_or_none()
    return None if row is None else User(**row._asdict())


async def create_owner(engine: AsyncEngine, email: str, password_hash: str, team_id: str) -> User:
    """A new user, owner of `team_id` (a team just opened for them); EmailTaken when the email has an
    account (also when another sign-up took it a moment ago)."""
    user_id = str(uuid.uuid4())
    async with engine.begin() as connection:
        created_at = (
            await connection.execute(
                pg_insert(user_account)
                .values(id=user_id, email=email, password_hash=password_hash)
                .on_conflict_do_nothing(index_elements=["email"])
                .returning(user_account.c.created_at)
            )
        ).scalar_one_or_none()
        if created_at is None:
            raise EmailTaken(email)
        await connection.execute(insert(team_member).values(team_id=team_id, user_id=user_id, role="owner"))
    return User(user_id, email, created_at)


async def teams_of(engine: AsyncEngine, user_id: str) -> list[UserTeam]:
    """The user's teams with their role in each, in the order they joined them."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(team.c.id, team.c.name, team_member.c.role)
            .join_from(team_member, team, team.c.id == team_member.c.team_id)
            .where(team_member.c.user_id == user_id)
            .order_by(team_member.c.created_at, team.c.id)
        )
    return [UserTeam(**row._asdict()) for row in rows]


def _members() -> Select[tuple[str, str, str, datetime]]:
    return select(
        team_member.c.user_id,
        user_account.c.email,
        team_member.c.role,
        team_member.c.created_at.label("joined_at"),
    ).join_from(team_member, user_account, user_account.c.id == team_member.c.user_id)


async def list_members(engine: AsyncEngine, team_id: str, limit: int, after: After | None) -> list[Member]:
    """The team's members, newest first."""
    query = newest_first(
        _members().where(team_member.c.team_id == team_id),
        team_member.c.created_at,
        team_member.c.user_id,
        limit,
        after,
    )
    async with engine.connect() as connection:
        rows = await connection.execute(query)
    return [Member(**row._asdict()) for row in rows]


async def get_member(engine: AsyncEngine, team_id: str, user_id: str) -> Member | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                _members().where(team_member.c.team_id == team_id, team_member.c.user_id == user_id)
            )
        ).one_or_none()
    return None if row is None else Member(**row._asdict())


async def _refuse_removing_last_owner(connection: AsyncConnection, team_id: str, user_id: str) -> None:
    """Raise LastOwner if `user_id` is the team's only owner. The team's row stays locked until the
    transaction ends, so concurrent owner changes of one team take turns."""
    await connection.execute(select(team.c.id).where(team.c.id == team_id).with_for_update())
    owners = await connection.execute(
        select(team_member.c.user_id).where(team_member.c.team_id == team_id, team_member.c.role == "owner")
    )
    if set(owners.scalars()) == {user_id}:
        raise LastOwner(team_id)


async def set_role(engine: AsyncEngine, team_id: str, user_id: str, role: str) -> Member | None:
    """Give a member another role; None when they are not a member of the team."""
    async with engine.begin() as connection:
        if role != "owner":
            await _refuse_removing_last_owner(connection, team_id, user_id)
        await connection.execute(
            update(team_member)
            .where(team_member.c.team_id == team_id, team_member.c.user_id == user_id)
            .values(role=role)
        )
    return await get_member(engine, team_id, user_id)


async def remove_member(engine: AsyncEngine, team_id: str, user_id: str) -> bool:
    """Remove a member from the team; False when they were not one. Their sessions stay signed in, with
    no current team while it was this one."""
    async with engine.begin() as connection:
        await _refuse_removing_last_owner(connection, team_id, user_id)
        removed = await connection.execute(
            delete(team_member).where(team_member.c.team_id == team_id, team_member.c.user_id == user_id)
        )
    return removed.rowcount > 0


_INVITATION_COLUMNS = (
    invitation.c.id,
    invitation.c.email,
    invitation.c.role,
    invitation.c.invited_by_key_id,
    invitation.c.invited_by_user_id,
    invitation.c.created_at,
    invitation.c.expires_at,
    invitation.c.accepted_at,
    invitation.c.revoked_at,
)


async def create_invitation(
    engine: AsyncEngine, team_id: str, email: str, role: str, invited_by: Caller
) -> tuple[Invitation, str]:
    """An invitation to the team for `email` with `role`, and its token (shown once, stored hashed).
    AlreadyMember when the email's user is in the team already."""
    token = new_secret(INVITATION_PREFIX)
    async with engine.begin() as connection:
        member = await connection.execute(
            select(team_member.c.user_id)
            .join_from(team_member, user_account, user_account.c.id == team_member.c.user_id)
            .where(team_member.c.team_id == team_id, user_account.c.email == email)
        )
        if member.first() is not None:
            raise AlreadyMember(email)
        row = (
            await connection.execute(
                insert(invitation)
                .values(
                    id=str(uuid.uuid4()),
                    team_id=team_id,
                    email=email,
                    role=role,
                    token_hash=hash_secret(token),
                    invited_by_key_id=invited_by.key_id,
                    invited_by_user_id=invited_by.user_id,
                    expires_at=func.now() + INVITATION_TTL,
                )
                .returning(*_INVITATION_COLUMNS)
            )
        ).one()
    return Invitation(**row._asdict()), token


async def list_invitations(
    engine: AsyncEngine, team_id: str, limit: int, after: After | None
) -> list[Invitation]:
    """The team's invitations, whatever their status, newest first."""
    query = newest_first(
        select(*_INVITATION_COLUMNS).where(invitation.c.team_id == team_id),
        invitation.c.created_at,
        invitation.c.id,
        limit,
        after,
    )
    async with engine.connect() as connection:
        rows = await connection.execute(query)
    return [Invitation(**row._asdict()) for row in rows]


async def revoke_invitation(engine: AsyncEngine, team_id: str, invitation_id: str) -> Invitation | None:
    """Revoke a team's invitation, so its token stops working; revoking again keeps the first time.
    None for no such invitation; InvitationAccepted once it was accepted."""
    async with engine.begin() as connection:
        await connection.execute(
            update(invitation)
            .where(
                invitation.c.team_id == team_id,
                invitation.c.id == invitation_id,
                invitation.c.accepted_at.is_(None),
                invitation.c.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )
        row = (
            await connection.execute(
                select(*_INVITATION_COLUMNS).where(
                    invitation.c.team_id == team_id, invitation.c.id == invitation_id
                )
            )
        ).one_or_none()
    if row is None:
        return None
    if row.accepted_at is not None:
        raise InvitationAccepted(invitation_id)
    return Invitation(**row._asdict())


async def accept_invitation(engine: AsyncEngine, token: str, user: User) -> UserTeam | None:
    """Make `user` a member of the invitation's team with its role, and use the invitation up.

    None when no pending invitation has this token (unknown, expired, revoked or used);
    InvitationForAnotherEmail or AlreadyMember leave the invitation pending.
    """
    async with engine.begin() as connection:
        # Locked, so a token used twice at once makes one membership.
        pending = (
            await connection.execute(
                select(invitation.c.id, invitation.c.team_id, invitation.c.email, invitation.c.role)
                .where(
                    invitation.c.token_hash == hash_secret(token),
                    invitation.c.accepted_at.is_(None),
                    invitation.c.revoked_at.is_(None),
                    invitation.c.expires_at > func.now(),
                )
                .with_for_update()
            )
        ).one_or_none()
        if pending is None:
            return None
        if pending.email != user.email:
            raise InvitationForAnotherEmail(pending.id)
        joined = await connection.execute(
            pg_insert(team_member)
            .values(team_id=pending.team_id, user_id=user.id, role=pending.role)
            .on_conflict_do_nothing()
            .returning(team_member.c.role)
        )
        if joined.first() is None:
            raise AlreadyMember(user.email)
        await connection.execute(
            update(invitation)
            .where(invitation.c.id == pending.id)
            .values(accepted_at=func.now(), accepted_by_user_id=user.id)
        )
        name = (
            await connection.execute(select(team.c.name).where(team.c.id == pending.team_id))
        ).scalar_one()
    return UserTeam(pending.team_id, name, pending.role)

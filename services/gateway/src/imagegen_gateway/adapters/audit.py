"""The audit log: who did what to a team's keys, models, members, webhooks and plan."""

from typing import Any

from imagegen_platform.context import request_id_var
from sqlalchemy import insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters.api_keys import Caller
from imagegen_gateway.adapters.tables import audit_event


async def record(
    engine: AsyncEngine,
    caller: Caller,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append what the caller just did; written once the change succeeded."""
    actor_type, actor_id = ("api_key", caller.key_id) if caller.key_id else ("user", caller.user_id)
    await record_for_team(
        engine, caller.team_id, actor_type, actor_id, action, target_type, target_id, details
    )


async def record_for_team(
    engine: AsyncEngine,
    team_id: str,
    actor_type: str,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(audit_event).values(
                team_id=team_id,
                actor_type=actor_type,
                actor_id=actor_id,
                action=action,
                target_type=target_type,
                target_id=target_id,
                details=details or {},
                request_id=request_id_var.get(),
            )
        )


async def page(
    engine: AsyncEngine, team_id: str, actions: list[str], limit: int, before_id: int | None
) -> tuple[list[Row], int | None]:
    """The team's events, newest first, and the id to continue before (None on the last page)."""
    query = select(audit_event).where(audit_event.c.team_id == team_id)
    if actions:
        query = query.where(audit_event.c.action.in_(actions))
    if before_id is not None:
        query = query.where(audit_event.c.id < before_id)
    async with engine.connect() as connection:
        rows = (await connection.execute(query.order_by(audit_event.c.id.desc()).limit(limit + 1))).all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)

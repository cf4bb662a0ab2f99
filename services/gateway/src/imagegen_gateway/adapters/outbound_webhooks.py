"""Outbound webhooks in the gateway's schema: teams' endpoints, the deliveries each event fans out
to (one per subscribed endpoint), and the log of every attempt.

Concurrency: any number of `deliver-webhooks` processes claim due deliveries with
`FOR UPDATE SKIP LOCKED`. A claim moves the delivery's next_attempt_at to the end of a lease, gives
it a fresh claim token and commits, so the POST runs outside any transaction; a sender that dies
mid-POST leaves a delivery that is due again once its lease ends. An attempt's outcome changes the
delivery only while its claim token is still the current one (a redelivery may have requeued it
meanwhile); its log row is written regardless, since the POST happened.
"""

import random
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_gateway.adapters.tables import webhook_delivery, webhook_delivery_attempt, webhook_endpoint
from imagegen_gateway.adapters.webhook_sender import AttemptResult
from imagegen_gateway.pagination import After, newest_first

EVENT_TYPES = ("job.completed", "job.failed", "job.cancelled", "model.ready", "credits.low")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")
# Retries of deliveries that failed together spread over +-20% of their delay.
RETRY_JITTER = 0.2
_DELIVERY_NAMESPACE = uuid.UUID("6f0c8a52-3c1e-4a8e-9a53-0b7c2f1d9e44")


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """The delivery's id (its `webhook-id`), the same however often the event is consumed."""
    return "msg_" + uuid.uuid5(_DELIVERY_NAMESPACE, f"{endpoint_id}/{event_id}").hex


def retry_delay(attempt: int, schedule: Sequence[float], rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (from 1); None when it was the last."""
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * (rng or random).uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


# --- endpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as its team sees it: never its secret."""

    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


_ENDPOINT_COLUMNS = (
    webhook_endpoint.c.id,
    webhook_endpoint.c.url,
    webhook_endpoint.c.description,
    webhook_endpoint.c.events,
    webhook_endpoint.c.enabled,
    webhook_endpoint.c.created_at,
    webhook_endpoint.c.updated_at,
)


def _of_team(team_id: str, endpoint_id: str) -> Any:
    return and_(webhook_endpoint.c.team_id == team_id, webhook_endpoint.c.id == endpoint_id)


async def create_endpoint(
    engine: AsyncEngine, team_id: str, url: str, events: list[str], description: str, secret_ciphertext: str
) -> Endpoint:
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                insert(webhook_endpoint)
                .values(
                    id=str(uuid.uuid4()),
                    team_id=team_id,
                    url=url,
                    events=events,
                    description=description,
                    secret_ciphertext=secret_ciphertext,
                )
                .returning(*_ENDPOINT_COLUMNS)
            )
        ).one()
    return Endpoint(**row._asdict())


async def get_endpoint(engine: AsyncEngine, team_id: str, endpoint_id: str) -> Endpoint | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(*_ENDPOINT_COLUMNS).where(_of_team(team_id, endpoint_id)))
        ).one_or_none()
    return None if row is None else Endpoint(**row._asdict())


async def list_endpoints(
    engine: AsyncEngine, team_id: str, limit: int, after: After | None = None
) -> list[Endpoint]:
    """The team's endpoints, newest first."""
    query = newest_first(
        select(*_ENDPOINT_COLUMNS).where(webhook_endpoint.c.team_id == team_id),
        webhook_endpoint.c.created_at,
        webhook_endpoint.c.id,
        limit,
        after,
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [Endpoint(**row._asdict()) for row in rows]


async def update_endpoint(
    engine: AsyncEngine, team_id: str, endpoint_id: str, changes: dict[str, Any]
) -> Endpoint | None:
    """Change any of url, events, description and enabled; None when the team has no such endpoint."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                update(webhook_endpoint)
                .where(_of_team(team_id, endpoint_id))
                .values(**changes, updated_at=func.now())
                .returning(*_ENDPOINT_COLUMNS)
            )
        ).one_or_none()
    return None if row is None else Endpoint(**row._asdict())


async def rotate_secret(
    engine: AsyncEngine, team_id: str, endpoint_id: str, secret_ciphertext: str, grace: timedelta
) -> Endpoint | None:
    """Sign with a new secret from now on, and with the old one too for `grace`."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                update(webhook_endpoint)
                .where(_of_team(team_id, endpoint_id))
                .values(
                    # SET reads the row as it was: the previous secret is the one being replaced.
                    previous_secret_ciphertext=webhook_endpoint.c.secret_ciphertext,
                    previous_secret_expires_at=func.now() + grace,
                    secret_ciphertext=secret_ciphertext,
                    updated_at=func.now(),
                )
                .returning(*_ENDPOINT_COLUMNS)
            )
        ).one_or_none()
    return None if row is None else Endpoint(**row._asdict())


async def delete_endpoint(engine: AsyncEngine, team_id: str, endpoint_id: str) -> bool:
    """Remove an endpoint with its deliveries (pending ones are never sent) and their log."""
    async with engine.begin() as connection:
        result = await connection.execute(delete(webhook_endpoint).where(_of_team(team_id, endpoint_id)))
    return result.rowcount > 0


# --- fan-out -----------------------------------------------------------------------------------


def _subscribed(team_id: str, event_type: str) -> Any:
    return and_(
        webhook_endpoint.c.team_id == team_id,
        webhook_endpoint.c.enabled,
        webhook_endpoint.c.events.contains([event_type]),
    )


async def subscriptions(engine: AsyncEngine, team_ids: Collection[str]) -> dict[str, set[str]]:
    """The event types the enabled endpoints of each of these teams take, so that building a payload
    nobody takes is skipped; a team without any is left out. One query for a batch of events."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(webhook_endpoint.c.team_id, webhook_endpoint.c.events).where(
                webhook_endpoint.c.team_id.in_(team_ids), webhook_endpoint.c.enabled
            )
        )
        taken: dict[str, set[str]] = {}
        for team_id, events in rows:
            taken.setdefault(team_id, set()).update(events)
    return taken


async def fan_out(engine: AsyncEngine, team_id: str, event_id: str, event_type: str, payload: str) -> int:
    """One pending delivery per enabled endpoint of the team subscribed to the event, due now.

    Idempotent: an event consumed again adds no delivery (unique on endpoint and event id).
    Returns how many deliveries were added.
    """
    async with engine.begin() as connection:
        endpoint_ids = (
            await connection.scalars(select(webhook_endpoint.c.id).where(_subscribed(team_id, event_type)))
        ).all()
        if not endpoint_ids:
            return 0
        result = await connection.execute(
            pg_insert(webhook_delivery)
            .values(
                [
                    {
                        "id": delivery_id(endpoint_id, event_id),
                        "endpoint_id": endpoint_id,
                        "event_id": event_id,
                        "event_type": event_type,
                        "payload": payload,
                        "next_attempt_at": func.now(),
                    }
                    for endpoint_id in endpoint_ids
                ]
            )
            .on_conflict_do_nothing()
        )
    return result.rowcount


# --- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery one sender may attempt until its lease ends."""

    id: str
    endpoint_id: str
    event_type: str
    url: str
    payload: str
    # This attempt's number since the delivery was (re)queued, from 1.
    attempt: int
    claim_token: str
    # Encrypted secrets to sign with: the current one, and the previous one during a rotation.
    secret_ciphertexts: list[str]


async def claim_due(engine: AsyncEngine, limit: int, lease: timedelta) -> list[ClaimedDelivery]:
    """Take up to `limit` due deliveries of enabled endpoints, oldest due first; rows another
    sender is claiming are skipped, not waited for."""
    due = webhook_delivery.alias("due")
    endpoint = webhook_endpoint
    due_ids = (
        select(due.c.id)
        .join(endpoint, endpoint.c.id == due.c.endpoint_id)
        .where(due.c.status == "pending", due.c.next_attempt_at <= func.now(), endpoint.c.enabled)
        .order_by(due.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=due, skip_locked=True)
    )
    token = uuid.uuid4().hex
    previous_secret = case(
        (endpoint.c.previous_secret_expires_at > func.now(), endpoint.c.previous_secret_ciphertext),
        else_=None,
    )
    async with engine.begin() as connection:
        rows = (
            await connection.execute(
                update(webhook_delivery)
                .where(webhook_delivery.c.id.in_(due_ids), webhook_delivery.c.endpoint_id == endpoint.c.id)
                .values(
                    attempt_count=webhook_delivery.c.attempt_count + 1,
                    next_attempt_at=func.now() + lease,
                    claim_token=token,
                )
                .returning(
                    webhook_delivery.c.id,
                    webhook_delivery.c.endpoint_id,
                    webhook_delivery.c.event_type,
                    webhook_delivery.c.payload,
                    webhook_delivery.c.attempt_count,
                    endpoint.c.url,
                    endpoint.c.secret_ciphertext,
                    previous_secret.label("previous_secret_ciphertext"),
                )
            )
        ).all()
    return [
        ClaimedDelivery(
            id=row.id,
            endpoint_id=row.endpoint_id,
            event_type=row.event_type,
            url=row.url,
            payload=row.payload,
            attempt=row.attempt_count,
            claim_token=token,
            secret_ciphertexts=[row.secret_ciphertext, *filter(None, [row.previous_secret_ciphertext])],
        )
        for row in rows
    ]


async def record_attempt(
    engine: AsyncEngine,
    claimed: ClaimedDelivery,
    result: AttemptResult,
    retry_schedule: Sequence[float],
    rng: random.Random | None = None,
) -> str | None:
    """Log the attempt and move the delivery on: succeeded on a 2xx, else due again after the
    schedule's next delay, or failed when the schedule is spent.

    Returns the delivery's new status; None when it was deleted or requeued meanwhile.
    """
    async with engine.begin() as connection:
        current = (
            await connection.execute(
                select(webhook_delivery.c.claim_token)
                .where(webhook_delivery.c.id == claimed.id)
                .with_for_update()
            )
        ).one_or_none()
        if current is None:
            return None
        await connection.execute(
            insert(webhook_delivery_attempt).values(
                delivery_id=claimed.id,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
                response_snippet=result.response_snippet,
            )
        )
        if current.claim_token != claimed.claim_token:
            return None
        delay = None if result.succeeded else retry_delay(claimed.attempt, retry_schedule, rng)
        if result.succeeded:
            status, next_attempt_at = "succeeded", None
        elif delay is None:
            status, next_attempt_at = "failed", None
        else:
            status, next_attempt_at = "pending", func.now() + timedelta(seconds=delay)
        await connection.execute(
            update(webhook_delivery)
            .where(webhook_delivery.c.id == claimed.id)
            .values(status=status, next_attempt_at=next_attempt_at, claim_token=None)
        )
    return status


# --- the delivery log --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_snippet: str | None


@dataclass(frozen=True)
class Delivery:
    id: str
    event_id: str
    event_type: str
    status: str
    payload: str
    created_at: datetime
    next_attempt_at: datetime | None
    # Oldest first.
    attempts: list[Attempt]


async def _deliveries(
    connection: AsyncConnection, where: Any, limit: int, after: After | None = None
) -> list[Delivery]:
    """Deliveries newest first, each with its attempts."""
    query = newest_first(
        select(
            webhook_delivery.c.id,
            webhook_delivery.c.event_id,
            webhook_delivery.c.event_type,
            webhook_delivery.c.status,
            webhook_delivery.c.payload,
            webhook_delivery.c.created_at,
            webhook_delivery.c.next_attempt_at,
        ).where(where),
        webhook_delivery.c.created_at,
        webhook_delivery.c.id,
        limit,
        after,
    )
    rows = (await connection.execute(query)).all()
    attempts: dict[str, list[Attempt]] = {row.id: [] for row in rows}
    if rows:
        logged = await connection.execute(
            select(
                webhook_delivery_attempt.c.delivery_id,
                webhook_delivery_attempt.c.attempted_at,
                webhook_delivery_attempt.c.status_code,
                webhook_delivery_attempt.c.error,
                webhook_delivery_attempt.c.duration_ms,
                webhook_delivery_attempt.c.response_snippet,
            )
            .where(webhook_delivery_attempt.c.delivery_id.in_(list(attempts)))
            .order_by(webhook_delivery_attempt.c.id)
        )
        for attempt in logged:
            attempts[attempt.delivery_id].append(Attempt(*attempt[1:]))
    return [Delivery(**row._asdict(), attempts=attempts[row.id]) for row in rows]


def _of_endpoint(team_id: str, endpoint_id: str) -> Any:
    """Deliveries of the endpoint, if the team owns it."""
    return and_(
        webhook_delivery.c.endpoint_id == endpoint_id,
        webhook_delivery.c.endpoint_id.in_(
            select(webhook_endpoint.c.id).where(_of_team(team_id, endpoint_id))
        ),
    )


async def list_deliveries(
    engine: AsyncEngine,
    team_id: str,
    endpoint_id: str,
    statuses: Sequence[str],
    limit: int,
    after: After | None = None,
) -> list[Delivery]:
    """The endpoint's deliveries, newest first, with their attempts; all statuses when none are given."""
    where = _of_endpoint(team_id, endpoint_id)
    if statuses:
        where = and_(where, webhook_delivery.c.status.in_(statuses))
    async with engine.connect() as connection:
        return await _deliveries(connection, where, limit, after)


async def redeliver(engine: AsyncEngine, team_id: str, endpoint_id: str, delivery_id: str) -> Delivery | None:
    """Queue a delivery again, due now, with the same id and body and a fresh retry schedule."""
    where = and_(_of_endpoint(team_id, endpoint_id), webhook_delivery.c.id == delivery_id)
    async with engine.begin() as connection:
        await connection.execute(
            update(webhook_delivery)
            .where(where)
            .values(status="pending", attempt_count=0, next_attempt_at=func.now(), claim_token=None)
        )
        found = await _deliveries(connection, where, limit=1)
    return found[0] if found else None

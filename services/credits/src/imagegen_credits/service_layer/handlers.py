"""Credit use cases. Each one is a single Postgres transaction.

Every movement of money locks the team's account row (SELECT ... FOR UPDATE) before reading it,
so concurrent reserves and settlements of one team serialise, and writes the ledger row in the
same transaction as the balance change. Idempotency keys are unique per ledger entry kind, and a
reservation is settled once: replays return the first result and move nothing.
"""

import uuid
from datetime import UTC, datetime

from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_credits.adapters.tables import (
    account,
    credit_pricing_config,
    ledger_entry,
    reservation,
)
from imagegen_credits.domain.model import PLAN_LIMITS, Account, Plan, ReservationState
from imagegen_credits.domain.pricing import (
    ImageGenerationPricing,
    PriceQuote,
    quote_image_generation,
)


def _first_of_next_month(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _to_account(row) -> Account:
    return Account(
        team_id=row.team_id,
        plan=Plan(row.plan),
        available_hundredths=row.available_hundredths,
        reserved_hundredths=row.reserved_hundredths,
        bonus_hundredths=row.bonus_hundredths,
        total_allocated_hundredths=row.total_allocated_hundredths,
        next_replenishment_at=row.next_replenishment_at,
    )


async def _lock_account(connection: AsyncConnection, team_id: str) -> Account:
    row = (
        await connection.execute(select(account).where(account.c.team_id == team_id).with_for_update())
    ).one_or_none()
    if row is None:
        raise NotFound("account_not_found", f"team {team_id} has no credit account")
    return _to_account(row)


async def _save_account(connection: AsyncConnection, acct: Account) -> None:
    await connection.execute(
        update(account)
        .where(account.c.team_id == acct.team_id)
        .values(
            available_hundredths=acct.available_hundredths,
            reserved_hundredths=acct.reserved_hundredths,
            bonus_hundredths=acct.bonus_hundredths,
            total_allocated_hundredths=acct.total_allocated_hundredths,
            version=account.c.version + 1,
            updated_at=func.now(),
        )
    )


async def _write_ledger(connection: AsyncConnection, team_id: str, kind: str, amount: int, key: str) -> None:
    if amount > 0:
        await connection.execute(
            insert(ledger_entry).values(
                id=str(uuid.uuid4()),
                team_id=team_id,
                kind=kind,
                amount_hundredths=amount,
                idempotency_key=key,
            )
        )


def parse_plan(value: str) -> Plan:
    try:
        return Plan(value)
    except ValueError:
        raise InvalidArgument(
            "invalid_plan", f"plan must be one of {', '.join(p.value for p in Plan)}"
        ) from None


async def create_account(engine: AsyncEngine, team_id: str, plan: Plan) -> Account:
    """Open the account with the plan's first monthly allocation; a replay returns the account."""
    now = datetime.now(UTC)
    allocation = PLAN_LIMITS[plan].monthly_allocation_hundredths
    async with engine.begin() as connection:
        created = (
            await connection.execute(
                pg_insert(account)
                .values(
                    team_id=team_id,
                    plan=plan.value,
                    available_hundredths=allocation,
                    reserved_hundredths=0,
                    bonus_hundredths=0,
                    total_allocated_hundredths=allocation,
                    next_replenishment_at=_first_of_next_month(now),
                    version=1,
                )
                .on_conflict_do_nothing(index_elements=[account.c.team_id])
                .returning(account.c.team_id)
            )
        ).one_or_none()
        if created is not None:
            await _write_ledger(
                connection, team_id, "allocation", allocation, f"allocation:{team_id}:{now:%Y-%m}"
            )
        return await _lock_account(connection, team_id)


async def get_account(engine: AsyncEngine, team_id: str) -> Account:
    async with engine.connect() as connection:
        row = (await connection.execute(select(account).where(account.c.team_id == team_id))).one_or_none()
    if row is None:
        raise NotFound("account_not_found", f"team {team_id} has no credit account")
    return _to_account(row)


async def current_image_generation_pricing(engine: AsyncEngine) -> ImageGenerationPricing:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(credit_pricing_config)
                .where(credit_pricing_config.c.operation == "image_generation")
                .order_by(credit_pricing_config.c.version.desc())
                .limit(1)
            )
        ).one()
    return ImageGenerationPricing.from_config(row.version, row.config)


async def quote_image(
    engine: AsyncEngine,
    *,
    resolution: str,
    quality: str,
    model_complexity_hundredths: int,
    num_images: int,
) -> PriceQuote:
    pricing = await current_image_generation_pricing(engine)
    return quote_image_generation(
        pricing,
        resolution=resolution,
        quality=quality,
        model_complexity_hundredths=model_complexity_hundredths,
        num_images=num_images,
    )


async def reserve(engine: AsyncEngine, team_id: str, amount: int, key: str) -> Account:
    """Hold credits for a job; a replay with the same key returns the account unchanged."""
    if not key:
        raise InvalidArgument("missing_idempotency_key", "a reservation needs an idempotency key")
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        existing = (
            await connection.execute(select(reservation).where(reservation.c.idempotency_key == key))
        ).one_or_none()
        if existing is not None:
            if existing.team_id != team_id or existing.amount_hundredths != amount:
                raise InvalidArgument(
                    "idempotency_key_reused", "this key was used for a different reservation"
                )
            return acct
        acct.reserve(amount)
        await _save_account(connection, acct)
        await connection.execute(
            insert(reservation).values(
                idempotency_key=key,
                team_id=team_id,
                amount_hundredths=amount,
                state=ReservationState.HELD.value,
                captured_hundredths=0,
                released_hundredths=0,
            )
        )
        await _write_ledger(connection, team_id, "reserve", amount, key)
        return acct


async def settle(engine: AsyncEngine, key: str, charge: int | None) -> tuple[int, int]:
    """Capture `charge` of a reservation and release the rest, or release it all when charge is None.

    Returns (captured, released) of the first settlement; later calls change nothing.
    """
    async with engine.begin() as connection:
        held = (
            await connection.execute(select(reservation).where(reservation.c.idempotency_key == key))
        ).one_or_none()
        if held is None:
            raise NotFound("reservation_not_found", f"no reservation has the key {key}")
        # Lock order is account, then reservation, the same as reserve(), so the two cannot deadlock.
        acct = await _lock_account(connection, held.team_id)
        held = (
            await connection.execute(
                select(reservation).where(reservation.c.idempotency_key == key).with_for_update()
            )
        ).one()
        if held.state != ReservationState.HELD.value:
            return held.captured_hundredths, held.released_hundredths
        captured = charge or 0
        released = acct.settle(held.amount_hundredths, captured)
        await _save_account(connection, acct)
        await connection.execute(
            update(reservation)
            .where(reservation.c.idempotency_key == key)
            .values(
                state=(ReservationState.CAPTURED if charge is not None else ReservationState.RELEASED).value,
                captured_hundredths=captured,
                released_hundredths=released,
                settled_at=func.now(),
            )
        )
        await _write_ledger(connection, acct.team_id, "capture", captured, key)
        await _write_ledger(connection, acct.team_id, "release", released, key)
        return captured, released

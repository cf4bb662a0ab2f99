"""Credit use cases. Each one is a single Postgres transaction.

Every movement of money locks the team's account row (SELECT ... FOR UPDATE) before reading it,
so concurrent operations on one team serialise, and writes its ledger row (with the balances after
it) in the same transaction as the balance change. Idempotency keys are unique per ledger entry
kind, and a reservation is settled once: replays return the first result and move nothing.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from imagegen.credits.v1 import events_pb2
from imagegen_platform.context import request_id_var
from imagegen_platform.errors import InvalidArgument, NotFound
from imagegen_platform.events import LOW_BALANCE_SUBJECT
from imagegen_platform.outbox import add_event
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_credits.adapters.tables import account, ledger_entry, outbox, reservation
from imagegen_credits.domain.model import (
    PLAN_LIMITS,
    Account,
    Billing,
    LedgerKind,
    Movement,
    Plan,
    ReservationState,
    month_after,
    month_start,
)
from imagegen_credits.metrics import moved

# The statements of the money path, built once: constructing them per call cost more CPU than
# Postgres spent running them (see bench/credits_bench.py). Parameters are prefixed `p_` because
# bind names may not repeat column names in values().
LOCK_ACCOUNT = select(account).where(account.c.team_id == bindparam("p_team_id")).with_for_update()
SAVE_ACCOUNT = (
    update(account)
    .where(account.c.team_id == bindparam("p_team_id"))
    .values(
        plan=bindparam("p_plan"),
        available_hundredths=bindparam("p_available"),
        reserved_hundredths=bindparam("p_reserved"),
        bonus_hundredths=bindparam("p_bonus"),
        total_allocated_hundredths=bindparam("p_total_allocated"),
        period_start=bindparam("p_period_start"),
        next_replenishment_at=bindparam("p_next_replenishment_at"),
        billing=bindparam("p_billing"),
        subscription_status=bindparam("p_subscription_status"),
        low_balance_threshold_hundredths=bindparam("p_threshold"),
        below_low_balance=bindparam("p_below"),
        version=account.c.version + 1,
        updated_at=func.now(),
    )
)
WRITE_LEDGER = insert(ledger_entry)
GET_RESERVATION = select(reservation).where(reservation.c.idempotency_key == bindparam("p_key"))
LOCK_RESERVATION = GET_RESERVATION.with_for_update()
GET_RESERVATION_TEAM = select(reservation.c.team_id).where(
    reservation.c.idempotency_key == bindparam("p_key")
)
INSERT_RESERVATION = insert(reservation)
SETTLE_RESERVATION = (
    update(reservation)
    .where(reservation.c.idempotency_key == bindparam("p_key"))
    .values(
        state=bindparam("p_state"),
        captured_hundredths=bindparam("p_captured"),
        released_hundredths=bindparam("p_released"),
        settled_at=func.now(),
    )
)


def _to_account(row: Row) -> Account:
    return Account(
        team_id=row.team_id,
        plan=Plan(row.plan),
        available_hundredths=row.available_hundredths,
        reserved_hundredths=row.reserved_hundredths,
        bonus_hundredths=row.bonus_hundredths,
        total_allocated_hundredths=row.total_allocated_hundredths,
        period_start=row.period_start,
        next_replenishment_at=row.next_replenishment_at,
        billing=Billing(row.billing),
        subscription_status=row.subscription_status,
        low_balance_threshold_hundredths=row.low_balance_threshold_hundredths,
        below_low_balance=row.below_low_balance,
    )


async def _lock_account(connection: AsyncConnection, team_id: str) -> Account:
    row = (await connection.execute(LOCK_ACCOUNT, {"p_team_id": team_id})).one_or_none()
    if row is None:
        raise NotFound("account_not_found", f"team {team_id} has no credit account")
    return _to_account(row)


async def _save_account(connection: AsyncConnection, acct: Account) -> None:
    """Write the balances back, and announce a fall below the low-balance threshold once."""
    threshold = acct.low_balance_threshold_hundredths
    below = threshold is not None and acct.available_hundredths < threshold
    if below and not acct.below_low_balance:
        event = events_pb2.LowBalanceCrossed(
            team_id=acct.team_id,
            available_hundredths=acct.available_hundredths,
            threshold_hundredths=threshold,
        )
        await add_event(connection, outbox, LOW_BALANCE_SUBJECT, event, request_id_var.get())
    acct.below_low_balance = below
    await connection.execute(
        SAVE_ACCOUNT,
        {
            "p_team_id": acct.team_id,
            "p_plan": acct.plan.value,
            "p_available": acct.available_hundredths,
            "p_reserved": acct.reserved_hundredths,
            "p_bonus": acct.bonus_hundredths,
            "p_total_allocated": acct.total_allocated_hundredths,
            "p_period_start": acct.period_start,
            "p_next_replenishment_at": acct.next_replenishment_at,
            "p_billing": acct.billing.value,
            "p_subscription_status": acct.subscription_status,
            "p_threshold": acct.low_balance_threshold_hundredths,
            "p_below": acct.below_low_balance,
        },
    )


async def _record(
    connection: AsyncConnection,
    acct: Account,
    kind: LedgerKind,
    movement: Movement,
    key: str,
    description: str | None = None,
) -> None:
    """Append the ledger row of a movement (none for a zero amount), with the balances after it."""
    if movement.amount == 0:
        return
    await connection.execute(
        WRITE_LEDGER,
        {
            "id": str(uuid.uuid4()),
            "team_id": acct.team_id,
            "kind": kind.value,
            "amount_hundredths": movement.amount,
            "bonus_hundredths": movement.bonus,
            "available_after_hundredths": acct.available_hundredths,
            "reserved_after_hundredths": acct.reserved_hundredths,
            "idempotency_key": key,
            "description": description,
        },
    )


async def _already_recorded(connection: AsyncConnection, kind: LedgerKind, key: str) -> bool:
    return (
        await connection.execute(
            select(ledger_entry.c.id).where(
                ledger_entry.c.kind == kind.value, ledger_entry.c.idempotency_key == key
            )
        )
    ).first() is not None


def allocation_key(team_id: str, period_start: datetime) -> str:
    return f"allocation:{team_id}:{period_start.date().isoformat()}"


def expiry_key(team_id: str, period_start: datetime) -> str:
    return f"expiry:{team_id}:{period_start.date().isoformat()}"


async def create_account(
    engine: AsyncEngine, team_id: str, plan: Plan, now: datetime | None = None
) -> Account:
    """Open the account with the plan's allocation for the current month; a replay returns the account."""
    now = now or datetime.now(UTC)
    period_start = month_start(now)
    async with engine.begin() as connection:
        created = (
            await connection.execute(
                pg_insert(account)
                .values(
                    team_id=team_id,
                    plan=plan.value,
                    available_hundredths=0,
                    reserved_hundredths=0,
                    bonus_hundredths=0,
                    total_allocated_hundredths=0,
                    period_start=period_start,
                    next_replenishment_at=month_after(now),
                    billing=Billing.MANUAL.value,
                    below_low_balance=False,
                    version=1,
                )
                .on_conflict_do_nothing(index_elements=[account.c.team_id])
                .returning(account.c.team_id)
            )
        ).one_or_none()
        acct = await _lock_account(connection, team_id)
        if created is not None:
            movement = acct.allocate(PLAN_LIMITS[plan].monthly_allocation_hundredths)
            await _save_account(connection, acct)
            await _record(
                connection, acct, LedgerKind.ALLOCATION, movement, allocation_key(team_id, period_start)
            )
        return acct


async def get_account(engine: AsyncEngine, team_id: str) -> Account:
    async with engine.connect() as connection:
        row = (await connection.execute(select(account).where(account.c.team_id == team_id))).one_or_none()
    if row is None:
        raise NotFound("account_not_found", f"team {team_id} has no credit account")
    return _to_account(row)


async def reserve(engine: AsyncEngine, team_id: str, amount: int, key: str) -> Account:
    """Hold credits for a job; a replay with the same key returns the account unchanged."""
    if not key:
        raise InvalidArgument("missing_idempotency_key", "a reservation needs an idempotency key")
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        existing = (await connection.execute(GET_RESERVATION, {"p_key": key})).one_or_none()
        if existing is not None:
            if existing.team_id != team_id or existing.amount_hundredths != amount:
                raise InvalidArgument(
                    "idempotency_key_reused", "this key was used for a different reservation"
                )
            return acct
        movement = acct.reserve(amount)
        await _save_account(connection, acct)
        await connection.execute(
            INSERT_RESERVATION,
            {
                "idempotency_key": key,
                "team_id": team_id,
                "amount_hundredths": amount,
                "bonus_hundredths": movement.bonus,
                "state": ReservationState.HELD.value,
                "captured_hundredths": 0,
                "released_hundredths": 0,
            },
        )
        await _record(connection, acct, LedgerKind.RESERVE, movement, key)
        moved("reserved", amount)
        return acct


async def settle(engine: AsyncEngine, key: str, charge: int | None) -> tuple[int, int]:
    """Capture `charge` of a reservation and release the rest, or release it all when charge is None.

    Returns (captured, released) of the first settlement; later calls change nothing.
    """
    async with engine.begin() as connection:
        team_id = (await connection.execute(GET_RESERVATION_TEAM, {"p_key": key})).scalar_one_or_none()
        if team_id is None:
            raise NotFound("reservation_not_found", f"no reservation has the key {key}")
        # Lock order is account, then reservation, the same as reserve(), so the two cannot deadlock.
        acct = await _lock_account(connection, team_id)
        held = (await connection.execute(LOCK_RESERVATION, {"p_key": key})).one()
        if held.state != ReservationState.HELD.value:
            return held.captured_hundredths, held.released_hundredths
        captured, released = acct.settle(held.amount_hundredths, held.bonus_hundredths, charge or 0)
        await _save_account(connection, acct)
        state = ReservationState.CAPTURED if charge is not None else ReservationState.RELEASED
        await connection.execute(
            SETTLE_RESERVATION,
            {
                "p_key": key,
                "p_state": state.value,
                "p_captured": captured.amount,
                "p_released": released.amount,
            },
        )
        await _record(connection, acct, LedgerKind.CAPTURE, captured, key)
        await _record(connection, acct, LedgerKind.RELEASE, released, key)
        moved("captured", captured.amount)
        moved("released", released.amount)
        return captured.amount, released.amount


async def grant_bonus(engine: AsyncEngine, team_id: str, amount: int, key: str, description: str) -> Account:
    """Add non-expiring credits (a top-up), once per key."""
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        if await _already_recorded(connection, LedgerKind.BONUS, key):
            return acct
        movement = acct.grant_bonus(amount)
        await _save_account(connection, acct)
        await _record(connection, acct, LedgerKind.BONUS, movement, key, description)
        return acct


async def adjust(engine: AsyncEngine, team_id: str, delta: int, key: str, description: str) -> Account:
    """A manual correction of available credits, once per key."""
    if not description.strip():
        raise InvalidArgument("missing_description", "an adjustment needs a reason")
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        if await _already_recorded(connection, LedgerKind.ADJUSTMENT, key):
            return acct
        movement = acct.adjust(delta)
        await _save_account(connection, acct)
        await _record(connection, acct, LedgerKind.ADJUSTMENT, movement, key, description)
        return acct


async def _expire_period(connection: AsyncConnection, acct: Account) -> None:
    """Lapse what is left of the current period's allocation, once per period."""
    key = expiry_key(acct.team_id, acct.period_start)
    if not await _already_recorded(connection, LedgerKind.EXPIRY, key):
        movement = acct.expire_allocation()
        await _record(connection, acct, LedgerKind.EXPIRY, movement, key, "unused monthly allocation")


async def start_period(
    engine: AsyncEngine,
    team_id: str,
    period_start: datetime,
    period_end: datetime,
    key: str,
    description: str,
) -> Account:
    """Begin a billing period: expire the last one's allocation and grant the plan's, once per key.

    A period that does not begin after the current one only gets its allocation (an invoice for the
    current period, paid after the team was created).
    """
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        if await _already_recorded(connection, LedgerKind.ALLOCATION, key):
            return acct
        if period_start > acct.period_start:
            await _expire_period(connection, acct)
            acct.start_period(period_start, period_end)
        movement = acct.allocate(PLAN_LIMITS[acct.plan].monthly_allocation_hundredths)
        await _save_account(connection, acct)
        await _record(connection, acct, LedgerKind.ALLOCATION, movement, key, description)
        return acct


async def renew_due_accounts(engine: AsyncEngine, now: datetime, batch_size: int = 100) -> int:
    """Roll over every account whose period has ended; returns how many periods were rolled.

    Manually billed teams get their next allocation here. Stripe-billed teams only lose their
    unused allocation: their next one arrives with the paid invoice.
    """
    rolled = 0
    while True:
        async with engine.connect() as connection:
            due = (
                await connection.execute(
                    select(account.c.team_id, account.c.billing, account.c.next_replenishment_at)
                    .where(account.c.next_replenishment_at <= now)
                    .order_by(account.c.next_replenishment_at)
                    .limit(batch_size)
                )
            ).all()
        progressed = 0
        for team_id, billing, period_end in due:
            if billing == Billing.MANUAL.value:
                await start_period(
                    engine,
                    team_id,
                    period_end,
                    month_after(period_end),
                    allocation_key(team_id, period_end),
                    "monthly allocation",
                )
                progressed += 1
            elif await _expire_stripe_period(engine, team_id, now):
                progressed += 1
        rolled += progressed
        if progressed == 0:
            return rolled


async def _expire_stripe_period(engine: AsyncEngine, team_id: str, now: datetime) -> bool:
    """Expire a Stripe-billed team's lapsed allocation; its period moves on when the invoice is paid."""
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        if acct.next_replenishment_at > now or await _already_recorded(
            connection, LedgerKind.EXPIRY, expiry_key(team_id, acct.period_start)
        ):
            return False
        await _expire_period(connection, acct)
        await _save_account(connection, acct)
        return True


@dataclass(frozen=True)
class SubscriptionChange:
    plan: Plan | None
    status: str
    subscription_id: str
    event_created_at: datetime


async def link_stripe_customer(engine: AsyncEngine, team_id: str, customer_id: str) -> None:
    async with engine.begin() as connection:
        await _lock_account(connection, team_id)
        await connection.execute(
            update(account)
            .where(account.c.team_id == team_id)
            .values(stripe_customer_id=customer_id, billing=Billing.STRIPE.value, updated_at=func.now())
        )


async def team_for_customer(engine: AsyncEngine, customer_id: str) -> str | None:
    async with engine.connect() as connection:
        return (
            await connection.execute(
                select(account.c.team_id).where(account.c.stripe_customer_id == customer_id)
            )
        ).scalar_one_or_none()


async def apply_subscription(engine: AsyncEngine, team_id: str, change: SubscriptionChange) -> bool:
    """Set the plan and subscription state unless a newer event already did; reserved work is untouched."""
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        applied_at = (
            await connection.execute(
                select(account.c.subscription_event_at).where(account.c.team_id == team_id)
            )
        ).scalar_one()
        if applied_at is not None and change.event_created_at < applied_at:
            return False
        if change.plan is not None:
            acct.plan = change.plan
        acct.subscription_status = change.status
        acct.billing = Billing.STRIPE
        await _save_account(connection, acct)
        await connection.execute(
            update(account)
            .where(account.c.team_id == team_id)
            .values(
                stripe_subscription_id=change.subscription_id, subscription_event_at=change.event_created_at
            )
        )
        return True


async def set_plan(engine: AsyncEngine, team_id: str, plan: Plan) -> None:
    """The plan an invoice was paid for applies from that invoice on, whatever order events arrive in."""
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        acct.plan = plan
        await _save_account(connection, acct)


async def set_low_balance_threshold(engine: AsyncEngine, team_id: str, threshold: int | None) -> Account:
    if threshold is not None and threshold < 0:
        raise InvalidArgument("invalid_threshold", "the threshold must not be negative")
    async with engine.begin() as connection:
        acct = await _lock_account(connection, team_id)
        acct.low_balance_threshold_hundredths = threshold
        # A new threshold starts a new watch: being below it already counts as a crossing.
        acct.below_low_balance = False
        await _save_account(connection, acct)
        return acct

"""Credit use cases. Each one is a single Postgres transaction.

Every movement of money locks the team's account row (SELECT ... FOR UPDATE) before reading it,
so concurrent operations on one team serialise, and writes its ledger row (with the balances after
it) in the same transaction as the balance change. Idempotency keys are unique per ledger entry
kind, and a reservation is settled once: replays return the first result and move nothing. That
is also what makes it safe to run a use case again when its connection is lost mid-transaction
(unit_of_work.py): if the lost transaction committed, the second run is a replay.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from asyncpg import Connection
from imagegen.credits.v1 import credits_pb2, events_pb2
from imagegen_platform import tracing
from imagegen_platform.context import request_id_var
from imagegen_platform.errors import InvalidArgument, NotFound
from imagegen_platform.events import LOW_BALANCE_SUBJECT, PLAN_CHANGED_SUBJECT
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.adapters import repository
from imagegen_credits.adapters.tables import account
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
from imagegen_credits.service_layer.unit_of_work import (
    connection,
    retried_once_on_lost_connection,
    transaction,
)

PLAN_TO_WIRE = {
    Plan.FREE: credits_pb2.PLAN_FREE,
    Plan.BASIC: credits_pb2.PLAN_BASIC,
    Plan.PRO: credits_pb2.PLAN_PRO,
    Plan.ENTERPRISE: credits_pb2.PLAN_ENTERPRISE,
}


async def _lock_account(conn: Connection, team_id: str) -> Account:
    acct = await repository.lock_account(conn, team_id)
    if acct is None:
        raise NotFound("account_not_found", f"team {team_id} has no credit account")
    return acct


async def _save_account(conn: Connection, acct: Account) -> None:
    """Write the balances back, and announce a fall below the low-balance threshold once."""
    threshold = acct.low_balance_threshold_hundredths
    below = threshold is not None and acct.available_hundredths < threshold
    if below and not acct.below_low_balance:
        event = events_pb2.LowBalanceCrossed(
            team_id=acct.team_id,
            available_hundredths=acct.available_hundredths,
            threshold_hundredths=threshold,
        )
        await repository.add_event(
            conn,
            LOW_BALANCE_SUBJECT,
            event.SerializeToString(),
            request_id_var.get(),
            tracing.current_traceparent(),
        )
    acct.below_low_balance = below
    await repository.save_account(conn, acct)


async def _announce_plan_change(conn: Connection, acct: Account, before: Plan) -> None:
    """Publish (through the outbox, with the change) when the plan in effect changed."""
    if acct.effective_plan == before:
        return
    event = events_pb2.PlanChanged(
        team_id=acct.team_id,
        previous_plan=PLAN_TO_WIRE[before],
        plan=PLAN_TO_WIRE[acct.effective_plan],
        subscription_status=acct.subscription_status or "",
    )
    await repository.add_event(
        conn,
        PLAN_CHANGED_SUBJECT,
        event.SerializeToString(),
        request_id_var.get(),
        tracing.current_traceparent(),
    )


async def _record(
    conn: Connection,
    acct: Account,
    key: str,
    movements: list[tuple[LedgerKind, Movement]],
    description: str | None = None,
) -> None:
    """Append the ledger rows of movements (none for a zero amount), with the balances after them."""
    entries = [(kind, movement) for kind, movement in movements if movement.amount != 0]
    if entries:
        await repository.write_ledger(conn, acct, key, entries, description)


def allocation_key(team_id: str, period_start: datetime) -> str:
    return f"allocation:{team_id}:{period_start.date().isoformat()}"


def expiry_key(team_id: str, period_start: datetime) -> str:
    return f"expiry:{team_id}:{period_start.date().isoformat()}"


@retried_once_on_lost_connection
async def create_account(
    engine: AsyncEngine, team_id: str, plan: Plan, now: datetime | None = None
) -> Account:
    """Open the account with the plan's allocation for the current month; a replay returns the account."""
    now = now or datetime.now(UTC)
    period_start = month_start(now)
    async with transaction(engine) as conn:
        created = await repository.open_account(conn, team_id, plan, period_start, month_after(now))
        acct = await _lock_account(conn, team_id)
        if created:
            movement = acct.allocate(PLAN_LIMITS[plan].monthly_allocation_hundredths)
            await _save_account(conn, acct)
            await _record(
                conn, acct, allocation_key(team_id, period_start), [(LedgerKind.ALLOCATION, movement)]
            )
        return acct


@retried_once_on_lost_connection
async def get_account(engine: AsyncEngine, team_id: str) -> Account:
    async with connection(engine) as conn:
        acct = await repository.get_account(conn, team_id)
    if acct is None:
        raise NotFound("account_not_found", f"team {team_id} has no credit account")
    return acct


@retried_once_on_lost_connection
async def reserve(engine: AsyncEngine, team_id: str, amount: int, key: str) -> Account:
    """Hold credits for a job; a replay with the same key returns the account unchanged."""
    if not key:
        raise InvalidArgument("missing_idempotency_key", "a reservation needs an idempotency key")
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        existing = await repository.get_reservation(conn, key)
        if existing is not None:
            if existing.team_id != team_id or existing.amount_hundredths != amount:
                raise InvalidArgument(
                    "idempotency_key_reused", "this key was used for a different reservation"
                )
            return acct
        movement = acct.reserve(amount)
        await _save_account(conn, acct)
        await repository.insert_reservation(conn, key, team_id, amount, movement.bonus)
        await _record(conn, acct, key, [(LedgerKind.RESERVE, movement)])
    moved("reserved", amount)
    return acct


@retried_once_on_lost_connection
async def settle(engine: AsyncEngine, key: str, charge: int | None) -> tuple[int, int]:
    """Capture `charge` of a reservation and release the rest, or release it all when charge is None.

    Returns (captured, released) of the first settlement; later calls change nothing.
    """
    async with transaction(engine) as conn:
        # One statement finds the reservation and locks it with its account.
        locked = await repository.lock_settlement(conn, key)
        if locked is None:
            raise NotFound("reservation_not_found", f"no reservation has the key {key}")
        acct, held = locked
        if held.state != ReservationState.HELD:
            return held.captured_hundredths, held.released_hundredths
        captured, released = acct.settle(held.amount_hundredths, held.bonus_hundredths, charge or 0)
        await _save_account(conn, acct)
        state = ReservationState.CAPTURED if charge is not None else ReservationState.RELEASED
        await repository.settle_reservation(conn, key, state, captured.amount, released.amount)
        await _record(conn, acct, key, [(LedgerKind.CAPTURE, captured), (LedgerKind.RELEASE, released)])
    moved("captured", captured.amount)
    moved("released", released.amount)
    return captured.amount, released.amount


@retried_once_on_lost_connection
async def grant_bonus(engine: AsyncEngine, team_id: str, amount: int, key: str, description: str) -> Account:
    """Add non-expiring credits (a top-up), once per key."""
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        if await repository.already_recorded(conn, LedgerKind.BONUS, key):
            return acct
        movement = acct.grant_bonus(amount)
        await _save_account(conn, acct)
        await _record(conn, acct, key, [(LedgerKind.BONUS, movement)], description)
        return acct


@retried_once_on_lost_connection
async def adjust(engine: AsyncEngine, team_id: str, delta: int, key: str, description: str) -> Account:
    """A manual correction of available credits, once per key."""
    if not description.strip():
        raise InvalidArgument("missing_description", "an adjustment needs a reason")
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        if await repository.already_recorded(conn, LedgerKind.ADJUSTMENT, key):
            return acct
        movement = acct.adjust(delta)
        await _save_account(conn, acct)
        await _record(conn, acct, key, [(LedgerKind.ADJUSTMENT, movement)], description)
        return acct


async def _expire_period(conn: Connection, acct: Account) -> None:
    """Lapse what is left of the current period's allocation, once per period."""
    key = expiry_key(acct.team_id, acct.period_start)
    if not await repository.already_recorded(conn, LedgerKind.EXPIRY, key):
        movement = acct.expire_allocation()
        await _record(conn, acct, key, [(LedgerKind.EXPIRY, movement)], "unused monthly allocation")


@retried_once_on_lost_connection
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
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        if await repository.already_recorded(conn, LedgerKind.ALLOCATION, key):
            return acct
        if period_start > acct.period_start:
            await _expire_period(conn, acct)
            acct.start_period(period_start, period_end)
        movement = acct.allocate(PLAN_LIMITS[acct.plan].monthly_allocation_hundredths)
        await _save_account(conn, acct)
        await _record(conn, acct, key, [(LedgerKind.ALLOCATION, movement)], description)
        return acct


async def renew_due_accounts(engine: AsyncEngine, now: datetime, batch_size: int = 100) -> int:
    """Roll over every account whose period has ended; returns how many periods were rolled.

    Manually billed teams get their next allocation here. Stripe-billed teams only lose their
    unused allocation: their next one arrives with the paid invoice.
    """
    rolled = 0
    while True:
        async with engine.connect() as sa_connection:
            due = (
                await sa_connection.execute(
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


@retried_once_on_lost_connection
async def _expire_stripe_period(engine: AsyncEngine, team_id: str, now: datetime) -> bool:
    """Expire a Stripe-billed team's lapsed allocation; its period moves on when the invoice is paid."""
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        if acct.next_replenishment_at > now or await repository.already_recorded(
            conn, LedgerKind.EXPIRY, expiry_key(team_id, acct.period_start)
        ):
            return False
        await _expire_period(conn, acct)
        await _save_account(conn, acct)
        return True


@dataclass(frozen=True)
class SubscriptionChange:
    plan: Plan | None
    status: str
    subscription_id: str
    event_created_at: datetime


@retried_once_on_lost_connection
async def link_stripe_customer(engine: AsyncEngine, team_id: str, customer_id: str) -> None:
    async with transaction(engine) as conn:
        await _lock_account(conn, team_id)
        await repository.link_stripe_customer(conn, team_id, customer_id)


async def team_for_customer(engine: AsyncEngine, customer_id: str) -> str | None:
    async with engine.connect() as sa_connection:
        return (
            await sa_connection.execute(
                select(account.c.team_id).where(account.c.stripe_customer_id == customer_id)
            )
        ).scalar_one_or_none()


@retried_once_on_lost_connection
async def apply_subscription(engine: AsyncEngine, team_id: str, change: SubscriptionChange) -> bool:
    """Set the plan and subscription state unless a newer event already did; reserved work is untouched."""
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        applied_at = await repository.subscription_event_at(conn, team_id)
        if applied_at is not None and change.event_created_at < applied_at:
            return False
        before = acct.effective_plan
        if change.plan is not None:
            acct.plan = change.plan
        acct.subscription_status = change.status
        acct.billing = Billing.STRIPE
        await _announce_plan_change(conn, acct, before)
        await _save_account(conn, acct)
        await repository.set_subscription(conn, team_id, change.subscription_id, change.event_created_at)
        return True


@retried_once_on_lost_connection
async def set_plan(engine: AsyncEngine, team_id: str, plan: Plan) -> None:
    """The plan an invoice was paid for applies from that invoice on, whatever order events arrive in."""
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        before = acct.effective_plan
        acct.plan = plan
        await _announce_plan_change(conn, acct, before)
        await _save_account(conn, acct)


@retried_once_on_lost_connection
async def set_low_balance_threshold(engine: AsyncEngine, team_id: str, threshold: int | None) -> Account:
    if threshold is not None and threshold < 0:
        raise InvalidArgument("invalid_threshold", "the threshold must not be negative")
    async with transaction(engine) as conn:
        acct = await _lock_account(conn, team_id)
        acct.low_balance_threshold_hundredths = threshold
        # A new threshold starts a new watch: being below it already counts as a crossing.
        acct.below_low_balance = False
        await _save_account(conn, acct)
        return acct

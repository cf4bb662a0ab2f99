"""Credits against a real Postgres: idempotency, settlement and concurrent reservations."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from imagegen.credits.v1 import credits_pb2, events_pb2
from imagegen_credits.adapters.tables import account, ledger_entry, outbox
from imagegen_credits.domain.model import InsufficientCredits, Plan
from imagegen_credits.service_layer import handlers
from imagegen_credits.service_layer.ledger import check_ledger
from imagegen_platform.db import create_engine
from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import func, select, update


@pytest.fixture
async def engine(infrastructure):
    engine = create_engine(infrastructure.database_url, pool_size=20)
    yield engine
    await engine.dispose()


async def ledger_balance(engine, team_id: str) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ledger_entry.c.kind, func.sum(ledger_entry.c.amount_hundredths))
            .where(ledger_entry.c.team_id == team_id)
            .group_by(ledger_entry.c.kind)
        )
        return {kind: int(total) for kind, total in rows}


async def assert_balance_matches_ledger(engine, team_id: str) -> None:
    assert [m for m in await check_ledger(engine) if m.team_id == team_id] == []


async def test_a_new_account_gets_its_plans_allocation_once(engine, team_id):
    first = await handlers.create_account(engine, team_id, Plan.PRO)
    replay = await handlers.create_account(engine, team_id, Plan.PRO)
    assert first.available_hundredths == replay.available_hundredths == 2_000_00
    assert await ledger_balance(engine, team_id) == {"allocation": 2_000_00}


async def test_reserve_then_capture_charges_once_and_releases_the_rest(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    await handlers.reserve(engine, team_id, 30_00, "job-1")
    await handlers.reserve(engine, team_id, 30_00, "job-1")  # a retried create
    assert await handlers.settle(engine, "job-1", 27_00) == (27_00, 3_00)
    assert await handlers.settle(engine, "job-1", 27_00) == (27_00, 3_00)  # a redelivered event
    assert await handlers.settle(engine, "job-1", None) == (27_00, 3_00)  # a late failure report
    acct = await handlers.get_account(engine, team_id)
    assert (acct.available_hundredths, acct.reserved_hundredths) == (473_00, 0)
    await assert_balance_matches_ledger(engine, team_id)


async def test_release_returns_the_whole_reservation(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    await handlers.reserve(engine, team_id, 27_00, f"{team_id}-job")
    assert await handlers.settle(engine, f"{team_id}-job", None) == (0, 27_00)
    acct = await handlers.get_account(engine, team_id)
    assert (acct.available_hundredths, acct.reserved_hundredths) == (500_00, 0)
    await assert_balance_matches_ledger(engine, team_id)


async def test_a_key_reused_for_a_different_amount_is_refused(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    await handlers.reserve(engine, team_id, 10_00, f"{team_id}-job")
    with pytest.raises(InvalidArgument):
        await handlers.reserve(engine, team_id, 20_00, f"{team_id}-job")


async def test_unknown_accounts_and_reservations_are_not_found(engine, team_id):
    with pytest.raises(NotFound):
        await handlers.reserve(engine, team_id, 1_00, "job")
    with pytest.raises(NotFound):
        await handlers.settle(engine, f"{team_id}-missing", None)


async def test_concurrent_reservations_never_overdraw(engine, team_id):
    """300 jobs of 100.00 race for a 2,000.00 balance: exactly 20 get credits, none go negative."""
    await handlers.create_account(engine, team_id, Plan.PRO)

    async def attempt(n: int) -> bool:
        try:
            await handlers.reserve(engine, team_id, 100_00, f"{team_id}-job-{n}")
            return True
        except InsufficientCredits:
            return False

    results = await asyncio.gather(*(attempt(n) for n in range(300)))
    assert sum(results) == 20
    acct = await handlers.get_account(engine, team_id)
    assert (acct.available_hundredths, acct.reserved_hundredths) == (0, 2_000_00)

    # Settle them all concurrently, each twice, as duplicated events would.
    winners = [n for n, won in enumerate(results) if won]
    await asyncio.gather(
        *(handlers.settle(engine, f"{team_id}-job-{n}", 60_00 if n % 2 else None) for n in winners * 2)
    )
    acct = await handlers.get_account(engine, team_id)
    captured = sum(60_00 for n in winners if n % 2)
    assert acct.reserved_hundredths == 0
    assert acct.available_hundredths == 2_000_00 - captured
    await assert_balance_matches_ledger(engine, team_id)


async def test_reserves_and_settles_interleaved_on_one_team_neither_deadlock_nor_drift(engine, team_id):
    """Jobs reserve, settle twice (a duplicated event) and replay their reserve, all at once."""
    await handlers.create_account(engine, team_id, Plan.BASIC)

    async def job(n: int) -> None:
        key = f"{team_id}-job-{n}"
        await handlers.reserve(engine, team_id, 10_00, key)
        charge = 6_00 if n % 2 else None
        await asyncio.gather(
            handlers.settle(engine, key, charge),
            handlers.settle(engine, key, charge),
            handlers.reserve(engine, team_id, 10_00, key),
        )

    await asyncio.gather(*(job(n) for n in range(40)))
    acct = await handlers.get_account(engine, team_id)
    assert (acct.available_hundredths, acct.reserved_hundredths) == (500_00 - 20 * 6_00, 0)
    await assert_balance_matches_ledger(engine, team_id)


async def test_balances_are_never_negative_in_the_database(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.FREE)
    with pytest.raises(InsufficientCredits):
        await handlers.reserve(engine, team_id, 1, f"{team_id}-job")
    async with engine.connect() as connection:
        negative = await connection.scalar(
            select(func.count())
            .select_from(account)
            .where((account.c.available_hundredths < 0) | (account.c.reserved_hundredths < 0))
        )
    assert negative == 0


async def test_capture_and_release_racing_on_one_reservation_settle_it_once(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    await handlers.reserve(engine, team_id, 40_00, f"{team_id}-job")
    outcomes = await asyncio.gather(
        *(handlers.settle(engine, f"{team_id}-job", 30_00 if n % 2 else None) for n in range(20))
    )
    assert len(set(outcomes)) == 1
    assert outcomes[0] in {(30_00, 10_00), (0, 40_00)}
    sums = await ledger_balance(engine, team_id)
    assert sums.get("capture", 0) + sums.get("release", 0) == 40_00
    await assert_balance_matches_ledger(engine, team_id)


async def test_bonus_credits_outlive_the_period_and_allocation_expires(engine, team_id):
    november = datetime(2026, 11, 5, tzinfo=UTC)
    await handlers.create_account(engine, team_id, Plan.BASIC, now=november)
    await handlers.grant_bonus(engine, team_id, 100_00, f"{team_id}-topup", "top-up")
    await handlers.grant_bonus(engine, team_id, 100_00, f"{team_id}-topup", "top-up")  # replay
    await handlers.reserve(engine, team_id, 550_00, f"{team_id}-job")  # 500 allocation + 50 bonus
    await handlers.settle(engine, f"{team_id}-job", 520_00)  # 30 bonus comes back

    # Rolling over twice (a replayed sweep) expires and allocates once.
    for _ in range(2):
        await handlers.renew_due_accounts(engine, datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
    acct = await handlers.get_account(engine, team_id)
    assert acct.period_start == datetime(2026, 12, 1, tzinfo=UTC)
    assert acct.next_replenishment_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert (acct.available_hundredths, acct.bonus_hundredths) == (500_00 + 80_00, 80_00)
    assert acct.total_allocated_hundredths == 1_100_00
    assert (await ledger_balance(engine, team_id)).get("expiry", 0) == 0  # nothing unused was left
    await assert_balance_matches_ledger(engine, team_id)


async def test_unused_allocation_expires_at_the_periods_end(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC, now=datetime(2026, 11, 5, tzinfo=UTC))
    await handlers.reserve(engine, team_id, 100_00, f"{team_id}-job")
    await handlers.renew_due_accounts(engine, datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
    acct = await handlers.get_account(engine, team_id)
    assert (await ledger_balance(engine, team_id))["expiry"] == 400_00
    # Work reserved before the roll-over is untouched.
    assert (acct.available_hundredths, acct.reserved_hundredths) == (500_00, 100_00)
    await assert_balance_matches_ledger(engine, team_id)


async def test_adjustments_are_recorded_with_their_sign_once(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    await handlers.adjust(engine, team_id, -25_50, f"{team_id}-fix", "double charge in support ticket 12")
    await handlers.adjust(engine, team_id, -25_50, f"{team_id}-fix", "double charge in support ticket 12")
    await handlers.adjust(engine, team_id, 10_00, f"{team_id}-goodwill", "goodwill")
    acct = await handlers.get_account(engine, team_id)
    assert acct.available_hundredths == 500_00 - 25_50 + 10_00
    await assert_balance_matches_ledger(engine, team_id)


async def test_crossing_the_low_balance_threshold_is_announced_once_per_crossing(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    await handlers.set_low_balance_threshold(engine, team_id, 450_00)
    for n in range(3):  # 500 -> 470 -> 440 (crossing) -> 410
        await handlers.reserve(engine, team_id, 30_00, f"{team_id}-job-{n}")
    acct = await handlers.get_account(engine, team_id)
    assert acct.below_low_balance
    for n in range(3):  # back above the threshold, then below again
        await handlers.settle(engine, f"{team_id}-job-{n}", None)
    await handlers.reserve(engine, team_id, 60_00, f"{team_id}-job-again")
    async with engine.connect() as connection:
        payloads = (
            await connection.execute(
                select(outbox.c.payload).where(outbox.c.subject == "credits.v1.balance.low")
            )
        ).scalars()
        crossings = [
            e for e in map(events_pb2.LowBalanceCrossed.FromString, payloads) if e.team_id == team_id
        ]
    assert [(e.available_hundredths, e.threshold_hundredths) for e in crossings] == [
        (440_00, 450_00),
        (440_00, 450_00),
    ]


async def test_the_check_finds_a_balance_that_disagrees_with_the_ledger(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    async with engine.begin() as connection:
        await connection.execute(
            update(account)
            .where(account.c.team_id == team_id)
            .values(available_hundredths=account.c.available_hundredths + 1)
        )
    mismatches = [m for m in await check_ledger(engine) if m.team_id == team_id]
    assert [(m.balance, m.account_value, m.ledger_value) for m in mismatches] == [
        ("available", 500_01, 500_00)
    ]
    async with engine.begin() as connection:  # put it back for the other tests' whole-ledger checks
        await connection.execute(
            update(account).where(account.c.team_id == team_id).values(available_hundredths=500_00)
        )


async def test_a_change_of_the_plan_in_effect_is_announced_once(engine, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    at = datetime.now(UTC)

    def change(plan: Plan | None, status: str, seconds: int) -> handlers.SubscriptionChange:
        return handlers.SubscriptionChange(plan, status, "sub_1", at + timedelta(seconds=seconds))

    await handlers.apply_subscription(engine, team_id, change(Plan.PRO, "active", 1))
    await handlers.apply_subscription(engine, team_id, change(Plan.PRO, "active", 2))  # nothing changed
    await handlers.apply_subscription(engine, team_id, change(None, "unpaid", 3))  # free limits now
    await handlers.set_plan(engine, team_id, Plan.PRO)  # still unpaid: still free in effect
    async with engine.connect() as connection:
        payloads = (
            await connection.execute(
                select(outbox.c.payload).where(outbox.c.subject == "credits.v1.plan.changed")
            )
        ).scalars()
        changes = [e for e in map(events_pb2.PlanChanged.FromString, payloads) if e.team_id == team_id]
    assert [(e.previous_plan, e.plan, e.subscription_status) for e in changes] == [
        (credits_pb2.PLAN_BASIC, credits_pb2.PLAN_PRO, "active"),
        (credits_pb2.PLAN_PRO, credits_pb2.PLAN_FREE, "unpaid"),
    ]

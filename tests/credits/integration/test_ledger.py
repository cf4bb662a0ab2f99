"""Credits against a real Postgres: idempotency, settlement and concurrent reservations."""

import asyncio

import pytest
from imagegen_credits.adapters.tables import account, ledger_entry
from imagegen_credits.domain.model import InsufficientCredits, Plan
from imagegen_credits.service_layer import handlers
from imagegen_platform import db
from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import func, select


@pytest.fixture
async def engine(infrastructure):
    engine = db.create_engine(infrastructure.database_url, pool_size=20)
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
    sums = await ledger_balance(engine, team_id)
    acct = await handlers.get_account(engine, team_id)
    assert acct.total_allocated_hundredths == sums.get("allocation", 0)
    assert acct.reserved_hundredths == sums.get("reserve", 0) - sums.get("capture", 0) - sums.get(
        "release", 0
    )
    assert acct.available_hundredths == (
        sums.get("allocation", 0) - sums.get("reserve", 0) + sums.get("release", 0)
    )


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
    """60 jobs of 100.00 race for a 2,000.00 balance: exactly 20 get credits, none go negative."""
    await handlers.create_account(engine, team_id, Plan.PRO)

    async def attempt(n: int) -> bool:
        try:
            await handlers.reserve(engine, team_id, 100_00, f"{team_id}-job-{n}")
            return True
        except InsufficientCredits:
            return False

    results = await asyncio.gather(*(attempt(n) for n in range(60)))
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

"""Credits calls across lost connections and a Postgres restart: no work lost, nothing moved twice.

The engine has no pool_pre_ping (see service_layer/unit_of_work.py): these tests show what
replaces it. The restart tests run their own Postgres, so the shared one keeps serving the others.
"""

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest
from imagegen_credits.__main__ import migrate
from imagegen_credits.domain.model import Plan
from imagegen_credits.service_layer import handlers
from imagegen_credits.service_layer.ledger import check_ledger
from imagegen_credits.service_layer.unit_of_work import connection
from imagegen_devstack.infra import PostgresServer, free_port
from imagegen_platform.db import create_engine
from imagegen_platform.errors import Unavailable


@pytest.fixture(scope="module")
def own_postgres():
    """A Postgres of this module's own, which its tests may stop and start."""
    root = Path(tempfile.mkdtemp(prefix="imagegen-credits-restart-"))
    postgres = PostgresServer(root / "postgres", free_port(), fast=True)
    try:
        with postgres:
            migrate(postgres.dsn())
            yield postgres
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def restart(postgres: PostgresServer) -> None:
    await asyncio.to_thread(postgres.stop)
    await asyncio.to_thread(postgres.start)


async def fill_pool(engine, team_id: str, size: int) -> None:
    """Leave `size` open connections in the pool."""
    await asyncio.gather(*(handlers.get_account(engine, team_id) for _ in range(size)))


async def test_calls_after_a_restart_succeed_on_fresh_connections(own_postgres, team_id):
    engine = create_engine(own_postgres.dsn(), pool_size=4)
    try:
        await handlers.create_account(engine, team_id, Plan.PRO)
        await fill_pool(engine, team_id, 4)
        await restart(own_postgres)
        # One at a time first: a retry alone would meet the next dead connection of the pool.
        for n in range(4):
            await handlers.reserve(engine, team_id, 10_00, f"{team_id}-job-{n}")
        await fill_pool(engine, team_id, 4)
        await restart(own_postgres)
        await asyncio.gather(
            *(handlers.reserve(engine, team_id, 10_00, f"{team_id}-job-{n}") for n in range(4, 8)),
        )
        await asyncio.gather(*(handlers.settle(engine, f"{team_id}-job-{n}", 7_00) for n in range(8)))
        acct = await handlers.get_account(engine, team_id)
        assert (acct.available_hundredths, acct.reserved_hundredths) == (2_000_00 - 56_00, 0)
        assert await check_ledger(engine) == []
    finally:
        await engine.dispose()


async def test_calls_while_postgres_is_down_fail_as_unavailable_and_move_nothing(own_postgres, team_id):
    engine = create_engine(own_postgres.dsn(), pool_size=2)
    try:
        await handlers.create_account(engine, team_id, Plan.PRO)
        await asyncio.to_thread(own_postgres.stop)
        try:
            with pytest.raises(Unavailable):
                await handlers.reserve(engine, team_id, 10_00, f"{team_id}-job")
        finally:
            await asyncio.to_thread(own_postgres.start)
        # The caller retries later with the same key: held once.
        await handlers.reserve(engine, team_id, 10_00, f"{team_id}-job")
        await handlers.reserve(engine, team_id, 10_00, f"{team_id}-job")
        acct = await handlers.get_account(engine, team_id)
        assert (acct.available_hundredths, acct.reserved_hundredths) == (1_990_00, 10_00)
        assert await check_ledger(engine) == []
    finally:
        await engine.dispose()


async def blocked_behind(admin: asyncpg.Connection) -> int:
    """The server pid of the session waiting for a lock `admin` holds."""
    for _ in range(500):
        pid = await admin.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", admin.get_server_pid()
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.01)
    raise AssertionError("no session waited for the lock")


@pytest.fixture
async def engine(infrastructure):
    engine = create_engine(infrastructure.database_url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
async def admin(infrastructure):
    connection = await asyncpg.connect(infrastructure.database_url.replace("+asyncpg", ""))
    yield connection
    await connection.close()


async def test_a_transaction_whose_connection_dies_is_run_again_once(engine, admin, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    # Hold the account's lock so the reservation waits inside its transaction, then kill its session.
    async with admin.transaction():
        await admin.execute("SELECT FROM credits.account WHERE team_id = $1 FOR UPDATE", team_id)
        reservation = asyncio.create_task(handlers.reserve(engine, team_id, 30_00, f"{team_id}-job"))
        await admin.execute("SELECT pg_terminate_backend($1)", await blocked_behind(admin))
    acct = await reservation
    assert (acct.available_hundredths, acct.reserved_hundredths) == (470_00, 30_00)
    assert await handlers.settle(engine, f"{team_id}-job", 27_00) == (27_00, 3_00)
    assert [m for m in await check_ledger(engine) if m.team_id == team_id] == []


async def test_a_cancelled_transaction_leaves_a_clean_connection_in_the_pool(engine, admin, team_id):
    await handlers.create_account(engine, team_id, Plan.BASIC)
    async with admin.transaction():
        await admin.execute("SELECT FROM credits.account WHERE team_id = $1 FOR UPDATE", team_id)
        reservation = asyncio.create_task(handlers.reserve(engine, team_id, 30_00, f"{team_id}-cancelled"))
        await blocked_behind(admin)
        reservation.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reservation
    # The pool's only connection serves the next call outside any leftover transaction.
    await handlers.reserve(engine, team_id, 20_00, f"{team_id}-next")
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert not driver.is_in_transaction()
        assert (
            await driver.fetchval("SELECT count(*) FROM credits.reservation WHERE team_id = $1", team_id) == 1
        )
    acct = await handlers.get_account(engine, team_id)
    assert (acct.available_hundredths, acct.reserved_hundredths) == (480_00, 20_00)


async def test_a_connection_left_inside_a_transaction_is_never_pooled(engine):
    with pytest.raises(RuntimeError):
        async with connection(engine) as driver:
            first_pid = driver.get_server_pid()
            await driver.execute("BEGIN")
            raise RuntimeError("a failure before the transaction ended")
    async with connection(engine) as driver:
        assert driver.get_server_pid() != first_pid
        assert not driver.is_in_transaction()

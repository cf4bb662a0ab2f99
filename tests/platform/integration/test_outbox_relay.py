"""The outbox relay against real Postgres and NATS JetStream: events reach the stream once."""

import asyncio
import time
import uuid

import nats
import pytest
from imagegen.generation.v1 import events_pb2
from imagegen_generation.adapters.tables import outbox
from imagegen_platform import db
from imagegen_platform.events import GENERATION_STREAM_CONFIG, create_broker, ensure_stream
from imagegen_platform.outbox import EVENT_COLUMNS, OutboxRelay, add_event, event_row, rows_committed
from sqlalchemy import delete, func, select, update


@pytest.fixture
async def relay(infrastructure):
    engine = db.create_engine(infrastructure.database_url)
    broker = create_broker(infrastructure.nats_url)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG)
    async with engine.begin() as connection:
        await connection.execute(delete(outbox))
    yield OutboxRelay(engine, outbox, broker, GENERATION_STREAM_CONFIG.name, batch_size=3)
    await broker.stop()
    await engine.dispose()


async def stream_messages(nats_url: str, subject: str) -> list[events_pb2.JobQueued]:
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        info = await js.stream_info(GENERATION_STREAM_CONFIG.name, subjects_filter=subject)
        count = (info.state.subjects or {}).get(subject, 0)
        subscription = await js.subscribe(subject, ordered_consumer=True)
        messages = [await subscription.next_msg(timeout=5) for _ in range(count)]
        return [events_pb2.JobQueued.FromString(message.data) for message in messages]
    finally:
        await connection.close()


async def write_events(engine, subject: str, job_ids: list[str]) -> None:
    async with engine.begin() as connection:
        for job_id in job_ids:
            await add_event(connection, outbox, subject, events_pb2.JobQueued(job_id=job_id), "req-1")


async def test_rows_are_published_in_order_and_marked_sent(relay, infrastructure):
    subject = f"generation.v1.test.{uuid.uuid4().hex}"
    job_ids = [f"job-{n}" for n in range(5)]
    await write_events(relay.engine, subject, job_ids)

    assert await relay.relay_once() == 3  # one batch at a time
    assert await relay.relay_once() == 2
    assert await relay.relay_once() == 0

    assert [event.job_id for event in await stream_messages(infrastructure.nats_url, subject)] == job_ids
    async with relay.engine.connect() as connection:
        unsent = await connection.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    assert unsent == 0


async def test_a_row_relayed_again_after_a_crash_is_not_duplicated_in_the_stream(relay, infrastructure):
    """A relay that published but died before marking rows sent will send them again."""
    subject = f"generation.v1.test.{uuid.uuid4().hex}"
    await write_events(relay.engine, subject, ["job-a", "job-b"])
    await relay.relay_once()
    async with relay.engine.begin() as connection:
        await connection.execute(update(outbox).values(published_at=None))
    assert await relay.relay_once() == 2
    assert [event.job_id for event in await stream_messages(infrastructure.nats_url, subject)] == [
        "job-a",
        "job-b",
    ]


async def test_events_written_in_a_rolled_back_transaction_are_never_published(relay, infrastructure):
    subject = f"generation.v1.test.{uuid.uuid4().hex}"
    with pytest.raises(RuntimeError):
        async with relay.engine.begin() as connection:
            await add_event(connection, outbox, subject, events_pb2.JobQueued(job_id="ghost"), None)
            raise RuntimeError("the state change failed")
    assert await relay.relay_once() == 0
    assert await stream_messages(infrastructure.nats_url, subject) == []


async def test_a_commit_with_events_wakes_the_relay_before_its_idle_poll(infrastructure):
    """The relay of a process publishes rows its own transactions commit at once, not after an idle poll."""
    engine = db.create_engine(infrastructure.database_url)
    broker = create_broker(infrastructure.nats_url)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG)
    relay = OutboxRelay(engine, outbox, broker, GENERATION_STREAM_CONFIG.name, idle_seconds=30)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)  # the relay has found nothing and waits out its 30 s idle poll
        subject = f"generation.v1.test.{uuid.uuid4().hex}"
        started = time.monotonic()
        await write_events(engine, subject, ["job-now"])
        while not await stream_messages(infrastructure.nats_url, subject):
            assert time.monotonic() - started < 5, "the commit did not wake the relay"
            await asyncio.sleep(0.02)
    finally:
        running.cancel()
        await broker.stop()
        await engine.dispose()


async def test_rows_committed_on_the_asyncpg_driver_wake_the_relay_when_announced(infrastructure):
    """Statements run on the driver commit where SQLAlchemy cannot see it: rows_committed (on any
    engine sharing the pool) wakes the relay instead."""
    engine = db.create_engine(infrastructure.database_url)
    broker = create_broker(infrastructure.nats_url)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG)
    relay = OutboxRelay(engine, outbox, broker, GENERATION_STREAM_CONFIG.name, idle_seconds=30)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)  # the relay has found nothing and waits out its 30 s idle poll
        subject = f"generation.v1.test.{uuid.uuid4().hex}"
        started = time.monotonic()
        async with db.transaction(engine) as driver:
            await driver.execute(
                f"INSERT INTO generation.outbox ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)",
                *event_row(subject, events_pb2.JobQueued(job_id="job-raw"), "req-1"),
            )
        rows_committed(db.autocommit(engine))
        while not await stream_messages(infrastructure.nats_url, subject):
            assert time.monotonic() - started < 5, "rows_committed did not wake the relay"
            await asyncio.sleep(0.02)
        # Stop the relay between batches, not inside the transaction that marks the row sent.
        for _ in range(250):
            if not await unsent(engine, subject):
                break
            await asyncio.sleep(0.02)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await broker.stop()
        await engine.dispose()


async def unsent(engine, subject: str) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.subject == subject, outbox.c.published_at.is_(None))
        )

"""The settlement consumer on a real JetStream and Postgres: each finished job settles its
reservation once, whatever arrives twice or names no reservation."""

import asyncio

from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_credits.domain.model import Plan
from imagegen_credits.entrypoints.events import register_settlement_consumer
from imagegen_credits.service_layer import handlers
from imagegen_credits.service_layer.ledger import check_ledger
from imagegen_platform.db import create_engine
from imagegen_platform.events import (
    GENERATION_STREAM_CONFIG,
    JOB_FINISHED_SUBJECT,
    create_broker,
    ensure_stream,
)


def finished(job_id: str, status: int, charge: int = 0) -> bytes:
    event = events_pb2.JobFinished(job_id=job_id, status=status, charge_hundredths=charge)
    return event.SerializeToString()


async def test_finished_jobs_from_jetstream_are_settled_once(infrastructure, team_id):
    engine = create_engine(infrastructure.database_url)
    broker = create_broker(infrastructure.nats_url)
    register_settlement_consumer(broker, engine)
    try:
        await handlers.create_account(engine, team_id, Plan.BASIC)
        for job in ("done", "failed", "twice"):
            await handlers.reserve(engine, team_id, 30_00, f"{team_id}-{job}")
        await broker.connect()
        await ensure_stream(broker, GENERATION_STREAM_CONFIG)
        await broker.start()
        completed, failed = generation_pb2.JOB_STATUS_COMPLETED, generation_pb2.JOB_STATUS_FAILED
        for body in (
            finished(f"{team_id}-done", completed, 27_00),
            finished(f"{team_id}-failed", failed),
            finished(f"{team_id}-twice", completed, 30_00),
            finished(f"{team_id}-twice", completed, 30_00),
            finished(f"{team_id}-unknown", completed, 30_00),
        ):
            await broker.publish(body, JOB_FINISHED_SUBJECT, stream=GENERATION_STREAM_CONFIG.name)

        for _ in range(100):
            acct = await handlers.get_account(engine, team_id)
            if acct.reserved_hundredths == 0:
                break
            await asyncio.sleep(0.1)
        assert (acct.available_hundredths, acct.reserved_hundredths) == (500_00 - 27_00 - 30_00, 0)
        assert await handlers.settle(engine, f"{team_id}-twice", 30_00) == (30_00, 0)
        assert [m for m in await check_ledger(engine) if m.team_id == team_id] == []
    finally:
        await broker.stop()
        await engine.dispose()

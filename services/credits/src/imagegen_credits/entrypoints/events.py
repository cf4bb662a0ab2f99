"""Settles reservations when jobs finish: capture on success, release on failure or cancel.

A message is acknowledged only after its settlement commits; a redelivery settles nothing twice
because settle() is idempotent on the job id.

Every job's JobFinished comes here, so messages are taken in batches: faststream's per-message path
(parsing, middlewares, metrics) runs once per batch, and each settlement runs under the span and
log context that path would have given its message, in its job's trace.
"""

import logging

from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, NatsBroker, PullSub
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_platform.errors import NotFound
from imagegen_platform.events import GENERATION_STREAM, JOB_FINISHED_SUBJECT, Batch, message_context
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.service_layer import handlers

log = logging.getLogger(__name__)


async def _settle(engine: AsyncEngine, msg: Msg) -> None:
    """Settle one finished job, then ack its message; a failure has it redelivered."""
    event = events_pb2.JobFinished.FromString(msg.data)
    charge = event.charge_hundredths if event.status == generation_pb2.JOB_STATUS_COMPLETED else None
    with message_context(msg, event.job_id):
        try:
            captured, released = await handlers.settle(engine, event.job_id, charge)
        except NotFound:
            log.error("finished job has no reservation", extra={"jobId": event.job_id})
            await msg.ack()
            return
        except Exception:
            log.exception("settlement failed; retrying", extra={"jobId": event.job_id})
            await msg.nak(delay=2.0)
            return
        log.info("job settled", extra={"jobId": event.job_id, "captured": captured, "released": released})
        await msg.ack()


def register_settlement_consumer(broker: NatsBroker, engine: AsyncEngine) -> None:
    @broker.subscriber(
        JOB_FINISHED_SUBJECT,
        stream=GENERATION_STREAM,
        durable="credits-settlement",
        # Up to 100 messages, collected for at most half a second: it delays a settlement or
        # webhook by that much at most, and an idle consumer fetches twice a second.
        pull_sub=PullSub(batch_size=100, timeout=0.5, batch=True),
        config=ConsumerConfig(ack_wait=30),
        ack_policy=AckPolicy.MANUAL,
    )
    async def settle_finished_jobs(batch: Batch) -> None:
        for msg in batch.raw_message:
            await _settle(engine, msg)

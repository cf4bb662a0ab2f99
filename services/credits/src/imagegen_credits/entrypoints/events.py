"""Settles reservations when jobs finish: capture on success, release on failure or cancel.

A message is acknowledged only after its settlement commits; a redelivery settles nothing twice
because settle() is idempotent on the job id.

Every job's JobFinished comes here, so messages are taken in batches
(imagegen_platform.events.Broker.batch_subscriber), and each settlement runs in its job's span and
log context (message_context).
"""

import logging

from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_platform.errors import NotFound
from imagegen_platform.events import GENERATION_STREAM, JOB_FINISHED_SUBJECT, Broker, message_context
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


def register_settlement_consumer(broker: Broker, engine: AsyncEngine) -> None:
    @broker.batch_subscriber(
        JOB_FINISHED_SUBJECT, stream=GENERATION_STREAM.name, durable="credits-settlement", ack_wait_seconds=30
    )
    async def settle_finished_jobs(messages: list[Msg]) -> None:
        for msg in messages:
            await _settle(engine, msg)

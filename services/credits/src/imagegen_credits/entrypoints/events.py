"""Settles reservations when jobs finish: capture on success, release on failure or cancel.

The message is acknowledged only after the settlement commits; a redelivery settles nothing twice
because settle() is idempotent on the job id.
"""

import logging

from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_platform.context import REQUEST_ID_HEADER, job_id_var, request_id_var
from imagegen_platform.errors import NotFound
from imagegen_platform.events import GENERATION_STREAM, JOB_FINISHED_SUBJECT
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.service_layer import handlers

log = logging.getLogger(__name__)


def register_settlement_consumer(broker: NatsBroker, engine: AsyncEngine) -> None:
    @broker.subscriber(
        JOB_FINISHED_SUBJECT,
        stream=GENERATION_STREAM,
        durable="credits-settlement",
        pull_sub=PullSub(batch_size=10, timeout=1.0),
        config=ConsumerConfig(ack_wait=30),
        ack_policy=AckPolicy.MANUAL,
    )
    async def settle_finished_job(body: bytes, msg: NatsMessage) -> None:
        event = events_pb2.JobFinished.FromString(body)
        request_id_var.set(msg.headers.get(REQUEST_ID_HEADER))
        job_id_var.set(event.job_id)
        charge = event.charge_hundredths if event.status == generation_pb2.JOB_STATUS_COMPLETED else None
        try:
            captured, released = await handlers.settle(engine, event.job_id, charge)
        except NotFound:
            log.error("finished job has no reservation", extra={"jobId": event.job_id})
            await msg.ack()
            return
        except Exception:
            log.exception("settlement failed; retrying", extra={"jobId": event.job_id})
            await msg.nack(delay=2.0)
            return
        log.info(
            "job settled",
            extra={"jobId": event.job_id, "captured": captured, "released": released},
        )
        await msg.ack()

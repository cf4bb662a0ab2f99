"""The queue worker: takes JobQueued events from JetStream and starts each job at the provider.

A message is acknowledged only once its job's new state is committed; a worker killed in between
leaves it unacknowledged, and JetStream redelivers it after ack_wait to another worker.
"""

import asyncio
import logging
from datetime import timedelta

from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from imagegen.generation.v1 import events_pb2
from imagegen_platform.context import REQUEST_ID_HEADER, job_id_var, request_id_var
from imagegen_platform.events import GENERATION_STREAM, JOB_QUEUED_SUBJECT

from imagegen_generation.service_layer import handlers

log = logging.getLogger(__name__)


def register_worker(broker: NatsBroker, generation: handlers.Generation, ack_wait_seconds: float) -> None:
    """`ack_wait_seconds` must exceed a provider submit, so a live worker's message is not redelivered;
    it is also how long a killed worker's job waits before another worker takes it."""

    @broker.subscriber(
        JOB_QUEUED_SUBJECT,
        stream=GENERATION_STREAM,
        durable="generation-worker",
        pull_sub=PullSub(batch_size=1, timeout=1.0),
        config=ConsumerConfig(ack_wait=ack_wait_seconds),
        ack_policy=AckPolicy.MANUAL,
    )
    async def start_queued_job(body: bytes, msg: NatsMessage) -> None:
        event = events_pb2.JobQueued.FromString(body)
        token = request_id_var.set(msg.headers.get(REQUEST_ID_HEADER))
        job_id_var.set(event.job_id)
        try:
            outcome = await handlers.start_job(generation, event.job_id)
        except Exception:
            log.exception("starting job failed; retrying", extra={"jobId": event.job_id})
            await msg.nack(delay=5.0)
            return
        finally:
            request_id_var.reset(token)
        if outcome.retry_after is not None:
            await msg.nack(delay=outcome.retry_after)
        else:
            await msg.ack()


async def provider_loop(generation: handlers.Generation, poll_after: timedelta, interval: float) -> None:
    """Resubmit jobs whose transient failure has waited out its back-off, and poll the provider for
    jobs whose webhook is late."""
    while True:
        try:
            await handlers.resubmit_due(generation)
            await handlers.poll_provider(generation, poll_after)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("provider loop failed; retrying")
        await asyncio.sleep(interval)

"""The queue worker: dispatches queued jobs to the provider, woken by JetStream events.

The database decides what runs next (plan tier, least-recently-served team, request priority; see
handlers.dispatch_next). JetStream carries the JobQueued events that wake dispatchers: a message is
acknowledged only once its job has left the queue, so the stream holds every job still waiting,
and a worker that dies loses nothing (its claimed job is resubmitted once the claim times out).
"""

import asyncio
import logging
from datetime import timedelta

from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from imagegen.generation.v1 import events_pb2
from imagegen_platform.context import request_id_var
from imagegen_platform.events import GENERATION_STREAM, JOB_FINISHED_SUBJECT, JOB_QUEUED_SUBJECT

from imagegen_generation.service_layer import deliveries, handlers

log = logging.getLogger(__name__)

# A queued job's message comes back after 1, 2, 4 ... seconds, at most this many, while it waits.
MAX_REDELIVERY_DELAY_SECONDS = 30.0


def register_worker(
    broker: NatsBroker, generation: handlers.Generation, wakeup: asyncio.Event, ack_wait_seconds: float
) -> None:
    @broker.subscriber(
        JOB_QUEUED_SUBJECT,
        stream=GENERATION_STREAM,
        durable="generation-worker",
        pull_sub=PullSub(batch_size=10, timeout=1.0),
        config=ConsumerConfig(ack_wait=ack_wait_seconds),
        ack_policy=AckPolicy.MANUAL,
    )
    async def job_queued(body: bytes, msg: NatsMessage) -> None:
        event = events_pb2.JobQueued.FromString(body)
        wakeup.set()
        try:
            waiting = await handlers.is_queued(generation.engine, event.job_id)
        except Exception:
            log.exception("reading a queued job failed; retrying", extra={"jobId": event.job_id})
            await msg.nack(delay=5.0)
            return
        if waiting:
            deliveries = msg.raw_message.metadata.num_delivered
            await msg.nack(delay=min(MAX_REDELIVERY_DELAY_SECONDS, 2.0 ** (deliveries - 1)))
        else:
            await msg.ack()

    # Core NATS, not a durable consumer: every worker hears every finished job, since each freed
    # slot may let any dispatcher start a waiting job.
    @broker.subscriber(JOB_FINISHED_SUBJECT)
    async def slot_freed(body: bytes) -> None:
        wakeup.set()


async def dispatch_loop(generation: handlers.Generation, wakeup: asyncio.Event, idle_seconds: float) -> None:
    """Start jobs while any may run; then sleep until woken (or `idle_seconds`, as a safety net)."""
    while True:
        wakeup.clear()
        request_id_var.set(None)
        try:
            started = await handlers.dispatch_once(generation)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dispatching a job failed; retrying")
            started = None
            await asyncio.sleep(1.0)
        if started is None:
            try:
                await asyncio.wait_for(wakeup.wait(), idle_seconds)
            except TimeoutError:
                pass


async def provider_loop(generation: handlers.Generation, poll_after: timedelta, interval: float) -> None:
    """Resubmit jobs whose transient failure has waited out its back-off (or whose worker died),
    record provider deliveries that failed or were interrupted, and poll the provider for jobs
    whose webhook is late."""
    while True:
        try:
            await handlers.resubmit_due(generation)
            await deliveries.record_due(generation)
            await handlers.poll_provider(generation, poll_after)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("provider loop failed; retrying")
        await asyncio.sleep(interval)

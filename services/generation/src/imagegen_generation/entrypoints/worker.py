"""The queue worker: dispatches queued jobs to the provider, woken by JetStream events.

The database decides what runs next (plan tier, least-recently-served team, request priority; see
handlers.dispatch_next). JetStream carries the JobQueued events that wake dispatchers: a message is
acknowledged only once its job has left the queue, so the stream holds every job still waiting,
and a worker that dies loses nothing (its claimed job is resubmitted once the claim times out).

A message is held while the dispatchers it woke run: when this process starts its job, it is
acknowledged at once, with no read of the job and no redelivery. Only a message whose job is
started elsewhere or has to wait for a slot is checked against the database and, while its job
waits, handed back for later.
"""

import asyncio
import logging
from collections import OrderedDict
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
# How long a message waits for this process's dispatchers to start its job before the database is
# asked whether the job is still queued.
HOLD_SECONDS = 1.0
# JobQueued messages held at once.
HELD_MESSAGES = 64


class StartedJobs:
    """Jobs this process's dispatchers started recently, and the messages waiting for one to start."""

    REMEMBERED = 4096

    def __init__(self) -> None:
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._waiting: dict[str, asyncio.Future[None]] = {}

    def started(self, job_id: str) -> None:
        self._recent[job_id] = None
        if len(self._recent) > self.REMEMBERED:
            self._recent.popitem(last=False)
        waiting = self._waiting.get(job_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def wait_for(self, job_id: str, seconds: float) -> bool:
        """Whether this process starts the job within `seconds` (or already has)."""
        if job_id in self._recent:
            return True
        waiting = self._waiting.setdefault(job_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(waiting, seconds)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting.pop(job_id, None)


def register_worker(
    broker: NatsBroker,
    generation: handlers.Generation,
    wakeup: asyncio.Event,
    started_jobs: StartedJobs,
    ack_wait_seconds: float,
) -> None:
    @broker.subscriber(
        JOB_QUEUED_SUBJECT,
        stream=GENERATION_STREAM,
        durable="generation-worker",
        # One message per fetch: a fetch of several holds a lone message until its time is up.
        pull_sub=PullSub(batch_size=1, timeout=1.0),
        config=ConsumerConfig(ack_wait=ack_wait_seconds),
        ack_policy=AckPolicy.MANUAL,
        max_workers=HELD_MESSAGES,
    )
    async def job_queued(body: bytes, msg: NatsMessage) -> None:
        event = events_pb2.JobQueued.FromString(body)
        wakeup.set()
        if await started_jobs.wait_for(event.job_id, HOLD_SECONDS):
            await msg.ack()
            return
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
    # no_reply: the relay publishes JobFinished to JetStream as a request (its reply is the stream's
    # ack); an answer from this core subscriber can reach the relay first, as an empty "ack" it
    # cannot parse, failing the relay's batch.
    @broker.subscriber(JOB_FINISHED_SUBJECT, no_reply=True)
    async def slot_freed(body: bytes) -> None:
        wakeup.set()


async def dispatch_loop(
    generation: handlers.Generation,
    wakeup: asyncio.Event,
    idle_seconds: float,
    submissions: int,
    started_jobs: StartedJobs | None = None,
) -> None:
    """Start jobs while any may run, submitting up to `submissions` of them to the provider at once;
    then sleep until woken (or `idle_seconds`, as a safety net).

    One loop per process starts jobs (a transaction each) and hands them to submission tasks: an
    event wakes one reader of the queue, not one per submission slot that would mostly find nothing.
    """
    free = asyncio.Semaphore(submissions)
    submitting: set[asyncio.Task[None]] = set()

    async def submit(row) -> None:
        try:
            await handlers.submit_started(generation, row)
        except Exception:
            # The claim stays: the provider loop submits the job again once it times out.
            log.exception("submitting a job failed", extra={"jobId": row.id})
        finally:
            free.release()

    while True:
        await free.acquire()
        wakeup.clear()
        request_id_var.set(None)
        try:
            row = await handlers.dispatch_next(generation)
        except Exception:
            free.release()
            log.exception("dispatching a job failed; retrying")
            await asyncio.sleep(1.0)
            continue
        if row is None:
            free.release()
            try:
                await asyncio.wait_for(wakeup.wait(), idle_seconds)
            except TimeoutError:
                pass
            continue
        if started_jobs is not None:
            started_jobs.started(row.id)
        task = asyncio.create_task(submit(row))
        submitting.add(task)
        task.add_done_callback(submitting.discard)


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

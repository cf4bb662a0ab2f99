"""The worker's event subscriptions against a real NATS JetStream."""

import asyncio
import json

import nats
from imagegen.generation.v1 import events_pb2
from imagegen_generation.entrypoints.worker import StartedJobs, register_worker
from imagegen_platform.events import (
    GENERATION_STREAM_CONFIG,
    JOB_FINISHED_SUBJECT,
    create_broker,
    ensure_stream,
)


async def test_hearing_finished_jobs_never_answers_the_relays_jetstream_publishes(infrastructure):
    """The relay publishes JobFinished to JetStream as a request whose one answer must be the
    stream's ack: the worker hears the same message on core NATS, and an answer from it (empty)
    reaching the relay first made the relay's publish fail."""
    worker = create_broker(infrastructure.nats_url)
    wakeup = asyncio.Event()
    # The JobQueued consumer is registered too but not exercised: no generation behind it is needed.
    register_worker(worker, None, wakeup, StartedJobs(), ack_wait_seconds=30)  # type: ignore[arg-type]
    relay = await nats.connect(infrastructure.nats_url)
    try:
        await worker.connect()
        await ensure_stream(worker, GENERATION_STREAM_CONFIG)
        await worker.start()
        inbox = relay.new_inbox()
        answers = await relay.subscribe(inbox)
        await asyncio.sleep(0.2)  # the worker's core subscription is in place
        event = events_pb2.JobFinished(job_id="worker-events", team_id="worker-events")
        await relay.publish(JOB_FINISHED_SUBJECT, event.SerializeToString(), reply=inbox)
        await asyncio.wait_for(wakeup.wait(), 5)
        await asyncio.sleep(0.3)  # time for a second answer, if anything else answered
        received = []
        while True:
            try:
                received.append(await answers.next_msg(timeout=0.1))
            except nats.errors.TimeoutError:
                break
        assert [json.loads(answer.data)["stream"] for answer in received] == [GENERATION_STREAM_CONFIG.name]
    finally:
        await relay.close()
        await worker.stop()

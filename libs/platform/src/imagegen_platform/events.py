"""JetStream streams, subjects and the broker every service uses to publish and consume events."""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import nats.errors
from faststream.nats import JStream, NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import BadRequestError
from opentelemetry import trace
from prometheus_client import REGISTRY

from imagegen_platform import tracing
from imagegen_platform.context import REQUEST_ID_HEADER, job_id_var, request_id_var
from imagegen_platform.metrics import EVENT_BATCH_FAILURES, EVENT_BATCH_SECONDS, EVENTS_CONSUMED

log = logging.getLogger(__name__)

# One stream per context that publishes events (STYLE.md section 8). Every process that
# touches a stream declares it with ensure_stream; subscribers refer to it by name only.
GENERATION_STREAM_CONFIG = StreamConfig(
    name="GENERATION",
    subjects=["generation.v1.>"],
    # Window in which a re-sent outbox row (same Nats-Msg-Id) is dropped as a duplicate.
    duplicate_window=600,
)
GENERATION_STREAM = JStream(name="GENERATION", declare=False)

CREDITS_STREAM_CONFIG = StreamConfig(name="CREDITS", subjects=["credits.v1.>"], duplicate_window=600)
CREDITS_STREAM = JStream(name="CREDITS", declare=False)

JOB_QUEUED_SUBJECT = "generation.v1.job.queued"
JOB_STARTED_SUBJECT = "generation.v1.job.started"
JOB_FINISHED_SUBJECT = "generation.v1.job.finished"
LOW_BALANCE_SUBJECT = "credits.v1.balance.low"
PLAN_CHANGED_SUBJECT = "credits.v1.plan.changed"


# How long one fetch of a batch consumer waits for a first message (an idle consumer's cost), and
# then for the rest of the batch among the messages already there.
FETCH_WAIT_SECONDS = 1.0
READY_WAIT_SECONDS = 0.01


BatchHandler = Callable[[list[Msg]], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class BatchSubscription:
    subject: str
    stream: str
    durable: str
    handler: BatchHandler
    ack_wait_seconds: float
    batch_size: int


class Broker(NatsBroker):
    """faststream's NatsBroker, plus batch consumers for the events every job sends.

    A batch consumer hands whatever messages are ready (up to its batch size) to one handler call,
    without faststream's per-message path (parsing, middlewares, metrics): under load, that path
    was a large share of each consumer's CPU per job. The handler acks or naks each message itself,
    after its own work, so a message is never acknowledged for work that did not commit. These
    consumers run on nats-py's pull subscription directly (faststream 0.7's batch mode drops what
    it has fetched when a fetch times out at the wrong moment, leaving those messages to the ack
    wait).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batch_subscriptions: list[BatchSubscription] = []
        self._batch_tasks: list[asyncio.Task[None]] = []

    def batch_subscriber(
        self,
        subject: str,
        *,
        stream: str,
        durable: str,
        ack_wait_seconds: float,
        batch_size: int = 100,
    ) -> Callable[[BatchHandler], BatchHandler]:
        def register(handler: BatchHandler) -> BatchHandler:
            self._batch_subscriptions.append(
                BatchSubscription(subject, stream, durable, handler, ack_wait_seconds, batch_size)
            )
            return handler

        return register

    async def start(self) -> None:
        await super().start()
        self._batch_tasks = [
            asyncio.create_task(self._consume_batches(subscription), name=f"batches-{subscription.durable}")
            for subscription in self._batch_subscriptions
        ]

    async def stop(self, *args: Any, **kwargs: Any) -> None:
        for task in self._batch_tasks:
            task.cancel()
        await asyncio.gather(*self._batch_tasks, return_exceptions=True)
        self._batch_tasks = []
        await super().stop(*args, **kwargs)

    async def _consume_batches(self, subscription: BatchSubscription) -> None:
        pull = None
        while True:
            try:
                if pull is None:
                    pull = await self.config.connection_state.stream.pull_subscribe(
                        subscription.subject,
                        durable=subscription.durable,
                        stream=subscription.stream,
                        config=ConsumerConfig(ack_wait=subscription.ack_wait_seconds),
                    )
                # The first message as soon as it comes, then whatever else is ready by then: a
                # fetch of several waits until it has them all or its time is up, which would hold
                # a lone message for the whole wait.
                messages = await pull.fetch(1, timeout=FETCH_WAIT_SECONDS)
                if subscription.batch_size > 1:
                    with suppress(TimeoutError):
                        messages += await pull.fetch(subscription.batch_size - 1, timeout=READY_WAIT_SECONDS)
            except TimeoutError:  # nats-py's TimeoutError is one too: nothing came
                continue
            except nats.errors.Error as error:
                # NATS is restarting (the client reconnects by itself) or lost the consumer: nothing
                # was taken; subscribe again, which declares the consumer if it is missing.
                log.warning(
                    "fetching events failed; retrying",
                    extra={"consumer": subscription.durable, "error": repr(error)},
                )
                if pull is not None:
                    with suppress(nats.errors.Error):
                        await pull.unsubscribe()
                pull = None
                await asyncio.sleep(1.0)
                continue
            EVENTS_CONSUMED.labels(subscription.durable).inc(len(messages))
            started = time.perf_counter()
            try:
                await subscription.handler(messages)
            except Exception:
                # Its messages not yet acknowledged come back once the ack wait runs out.
                log.exception("handling a batch of events failed", extra={"consumer": subscription.durable})
                EVENT_BATCH_FAILURES.labels(subscription.durable).inc()
            EVENT_BATCH_SECONDS.labels(subscription.durable).observe(time.perf_counter() - started)


def create_broker(nats_url: str) -> Broker:
    # Reconnect forever: a NATS restart must not take a service down. Its logs go through our
    # JSON formatter like every other line; its two lines per message received ("Received",
    # "Processed") are DEBUG, so a busy consumer does not spend its CPU writing them. Every publish
    # and consume is traced (the W3C context rides in message headers) and counted in Prometheus
    # (faststream_* metrics; batch consumers count in imagegen_events_*).
    return Broker(
        nats_url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        logger=logging.getLogger("imagegen.events"),
        log_level=logging.DEBUG,
        middlewares=[
            NatsTelemetryMiddleware(),
            NatsPrometheusMiddleware(registry=REGISTRY, app_name="imagegen", metrics_prefix="imagegen_nats"),
        ],
    )


async def ensure_stream(broker: NatsBroker, config: StreamConfig, replicas: int = 1) -> None:
    """Create the stream, or bring an existing one to this configuration (a JetStream cluster keeps
    `replicas` copies of it)."""
    config = dataclasses.replace(config, num_replicas=replicas)
    js = broker.config.connection_state.stream
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


@contextmanager
def message_context(msg: Msg, job_id: str | None) -> Iterator[None]:
    """For one message of a batch, the span and log context faststream gives a message it hands over
    alone: in the trace its headers carry, under its request id and job id (reset afterwards, as
    the batch's messages share one task)."""
    headers = msg.headers or {}
    request_token = request_id_var.set(headers.get(REQUEST_ID_HEADER))
    job_token = job_id_var.set(job_id)
    try:
        with tracing.tracer.start_as_current_span(
            f"{msg.subject} process", tracing.extract(headers), trace.SpanKind.CONSUMER
        ):
            yield
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)

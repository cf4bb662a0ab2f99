"""JetStream streams, subjects and the broker every service uses to publish and consume events."""

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from faststream import Context
from faststream.nats import JStream, NatsBroker
from faststream.nats.message import NatsBatchMessage
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.msg import Msg
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError
from opentelemetry import trace
from prometheus_client import REGISTRY

from imagegen_platform import tracing
from imagegen_platform.context import REQUEST_ID_HEADER, job_id_var, request_id_var

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


def create_broker(nats_url: str) -> NatsBroker:
    # Reconnect forever: a NATS restart must not take a service down. Its logs go through our
    # JSON formatter like every other line; its two lines per message received ("Received",
    # "Processed") are DEBUG, so a busy consumer does not spend its CPU writing them. Every publish
    # and consume is traced (the W3C context rides in message headers) and counted in Prometheus
    # (faststream_* metrics).
    return NatsBroker(
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


# A batch subscriber's argument (`PullSub(batch=True)`): its `raw_message` is the list of nats-py
# messages, each acked or nak'ed by the handler on its own.
Batch = Annotated[NatsBatchMessage, Context("message")]


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

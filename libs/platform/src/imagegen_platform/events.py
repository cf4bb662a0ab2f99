"""JetStream streams, subjects and the broker every service uses to publish and consume events."""

import dataclasses
import logging

from faststream.nats import JStream, NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError
from prometheus_client import REGISTRY

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

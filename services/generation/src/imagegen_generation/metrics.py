"""Generation metrics: provider calls, and the queue and jobs as the database and JetStream see them.

The queue and job gauges are read every few seconds by the worker (`queue_metrics_loop`), not on
scrape: a scrape runs in the exporter's thread, away from the event loop and its connection pool.
Every worker reports the same numbers, so dashboards take `max` over instances.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from faststream.nats import NatsBroker
from imagegen_platform import tracing
from imagegen_platform.metrics import LATENCY_BUCKETS
from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_generation.adapters.tables import job, provider_delivery
from imagegen_generation.domain.jobs import JobStatus

log = logging.getLogger(__name__)

WORKER_CONSUMER = "generation-worker"

PROVIDER_CALLS = Counter(
    "imagegen_provider_calls",
    "Calls to the image provider, by operation (submit, status, cancel) and outcome "
    "(ok, retryable_error, error).",
    ["operation", "outcome"],
)
PROVIDER_SECONDS = Histogram(
    "imagegen_provider_call_duration_seconds",
    "Time the image provider took to answer a call.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_PENDING = Gauge(
    "imagegen_queue_pending_messages",
    "JobQueued messages the generation-worker consumer has not been delivered yet (num_pending).",
)
QUEUE_UNACKED = Gauge(
    "imagegen_queue_unacknowledged_messages",
    "JobQueued messages delivered to workers and not acknowledged yet.",
)
QUEUE_OLDEST_AGE = Gauge(
    "imagegen_queue_oldest_job_age_seconds",
    "Age of the oldest job still queued, 0 when none is.",
)
JOBS = Gauge("imagegen_jobs", "Jobs in the database by status (terminal counts only grow).", ["status"])
PROVIDER_DELIVERIES = Gauge(
    "imagegen_provider_deliveries",
    "Provider webhooks by status: received (to record), processed, parked (kept failing: look at them).",
    ["status"],
)

P = ParamSpec("P")
R = TypeVar("R")


def observed_provider_call(
    operation: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Count, time and trace a provider call; a ProviderError is an error, retryable or not."""

    def decorate(call: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(call)
        async def observed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            outcome = "ok"
            with tracing.tracer.start_as_current_span(f"provider {operation}", kind=trace.SpanKind.CLIENT):
                try:
                    return await call(*args, **kwargs)
                except Exception as error:
                    outcome = "retryable_error" if getattr(error, "retryable", False) else "error"
                    raise
                finally:
                    PROVIDER_CALLS.labels(operation, outcome).inc()
                    PROVIDER_SECONDS.labels(operation).observe(time.perf_counter() - started)

        return observed

    return decorate


async def read_queue_metrics(engine: AsyncEngine, broker: NatsBroker, stream: str) -> None:
    async with engine.connect() as connection:
        by_status = dict(
            (await connection.execute(select(job.c.status, func.count()).group_by(job.c.status))).all()
        )
        oldest_age = await connection.scalar(
            select(func.extract("epoch", func.now() - func.min(job.c.created_at))).where(
                job.c.status == JobStatus.QUEUED.value
            )
        )
        deliveries = dict(
            (
                await connection.execute(
                    select(provider_delivery.c.status, func.count()).group_by(provider_delivery.c.status)
                )
            ).all()
        )
    for status in JobStatus:
        JOBS.labels(status.value).set(by_status.get(status.value, 0))
    for status in ("received", "processed", "parked"):
        PROVIDER_DELIVERIES.labels(status).set(deliveries.get(status, 0))
    QUEUE_OLDEST_AGE.set(float(oldest_age or 0))
    info = await broker.config.connection_state.stream.consumer_info(stream, WORKER_CONSUMER)
    QUEUE_PENDING.set(info.num_pending or 0)
    QUEUE_UNACKED.set(info.num_ack_pending or 0)


async def queue_metrics_loop(engine: AsyncEngine, broker: NatsBroker, stream: str, interval: float) -> None:
    while True:
        try:
            await read_queue_metrics(engine, broker, stream)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("reading queue metrics failed; retrying", exc_info=True)
        await asyncio.sleep(interval)

"""`imagegen-gateway deliver-webhooks`: our events, posted to teams' webhook endpoints.

Two halves in one process, so the HTTP API stays stateless:
- Durable JetStream consumers of generation's JobFinished and credits' LowBalanceCrossed turn each
  event into one delivery per subscribed endpoint. A message is acknowledged only after its
  deliveries are committed; a redelivered message adds none (unique on endpoint and event id).
  JobFinished comes for every job, and most teams subscribe to none: it is taken in batches, with
  one query for which of the batch's teams subscribe to what, and only the events someone takes
  go further (each in its job's trace and log context, concurrently).
- Senders claim due deliveries (SKIP LOCKED, so replicas never send the same one at once), POST
  them signed, log every attempt and schedule retries with back-off (adapters/outbound_webhooks.py).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from imagegen.credits.v1 import credits_pb2
from imagegen.credits.v1 import events_pb2 as credits_events_pb2
from imagegen.generation.v1 import events_pb2 as generation_events_pb2
from imagegen.generation.v1 import generation_service_pb2
from imagegen.models.v1 import models_pb2, models_service_pb2
from imagegen_platform import db, grpc_server
from imagegen_platform.context import REQUEST_ID_HEADER, job_id_var, request_id_var
from imagegen_platform.events import (
    CREDITS_STREAM,
    CREDITS_STREAM_CONFIG,
    GENERATION_STREAM,
    GENERATION_STREAM_CONFIG,
    JOB_FINISHED_SUBJECT,
    LOW_BALANCE_SUBJECT,
    PLAN_CHANGED_SUBJECT,
    Broker,
    create_broker,
    ensure_stream,
    message_context,
)
from nats.aio.msg import Msg
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway import webhook_events
from imagegen_gateway.adapters import audit, outbound_webhooks, standard_webhooks
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.adapters.webhook_sender import EndpointTargets, WebhookSender
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.routes.generate import job_with_urls

log = logging.getLogger(__name__)

ATTEMPTS = Counter(
    "imagegen_outbound_webhook_attempts",
    "POSTs to teams' webhook endpoints, by event type and outcome: succeeded, retrying, failed "
    "(retries spent) or superseded (the delivery was requeued or deleted meanwhile).",
    ["event_type", "outcome"],
)
_OUTCOMES = {"succeeded": "succeeded", "pending": "retrying", "failed": "failed", None: "superseded"}
# A message whose deliveries could not be written comes back after this long.
RETRY_EVENT_SECONDS = 5.0
# A sender holds a claimed delivery this much longer than its POST may take.
LEASE_MARGIN = timedelta(seconds=30)


class ModelNotReadyYet(Exception):
    """models has not yet moved the trained version to ready (it consumes the same event)."""


@dataclass
class WebhookDelivery:
    """What both halves work with; one per process."""

    engine: AsyncEngine
    services: Services
    sender: WebhookSender
    cipher: standard_webhooks.SecretCipher
    retry_schedule: list[float]
    lease: timedelta
    poll_seconds: float
    # Set when deliveries were added, so idle senders start at once.
    wakeup: asyncio.Event


# --- from events to deliveries -----------------------------------------------------------------


def _source_id(msg: Msg) -> str:
    """The message's identity: the publisher's outbox row id (Nats-Msg-Id), else its stream position."""
    metadata = msg.metadata
    return (msg.headers or {}).get("Nats-Msg-Id") or f"{metadata.stream}.{metadata.sequence.stream}"


async def _fan_out(
    delivery: WebhookDelivery,
    team_id: str,
    source_id: str,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
) -> None:
    added = await outbound_webhooks.fan_out(
        delivery.engine,
        team_id,
        webhook_events.event_id(source_id, event_type),
        event_type,
        webhook_events.body(event_type, occurred_at, data),
    )
    if added:
        delivery.wakeup.set()
        log.info("webhook deliveries queued", extra={"eventType": event_type, "deliveries": added})


async def _version_is_ready(services: Services, event: generation_events_pb2.JobFinished) -> bool:
    """True once models made the trained version ready, False if it never will (failed, cancelled,
    model deleted); raises ModelNotReadyYet while it still may."""
    trained = event.model_training
    try:
        model = (
            await services.models.GetCustomModel(
                models_service_pb2.GetCustomModelRequest(
                    team_id=event.team_id, custom_model_id=trained.custom_model_id
                )
            )
        ).custom_model
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    status = next((v.status for v in model.versions if v.version == trained.model_version), None)
    if status in (models_pb2.MODEL_VERSION_STATUS_PENDING, models_pb2.MODEL_VERSION_STATUS_TRAINING):
        raise ModelNotReadyYet
    return status == models_pb2.MODEL_VERSION_STATUS_READY


def job_event_types(event: generation_events_pb2.JobFinished) -> set[str]:
    """The webhook events a finished job may make."""
    job_type = webhook_events.job_event_type(event)
    types = {job_type} if job_type else set()
    if webhook_events.makes_model_ready(event):
        types.add(webhook_events.MODEL_READY)
    return types


async def job_finished(
    delivery: WebhookDelivery,
    event: generation_events_pb2.JobFinished,
    source_id: str,
    occurred_at: datetime,
    subscribed: Collection[str],
) -> None:
    """job.completed/failed/cancelled with the public job; model.ready once models made it ready
    (a webhook saying ready while generating from it still answers model_not_ready would mislead).
    Only the event types in `subscribed` (the team's endpoints take them) are built."""
    job_type = webhook_events.job_event_type(event)
    if job_type in subscribed:
        services = delivery.services
        job = (
            await services.generation.GetJob(
                generation_service_pb2.GetJobRequest(team_id=event.team_id, job_id=event.job_id)
            )
        ).job
        public = await job_with_urls(services, event.team_id, job)
        data = public.model_dump(mode="json", by_alias=True)
        await _fan_out(delivery, event.team_id, source_id, job_type, occurred_at, data)
    if (
        webhook_events.makes_model_ready(event)
        and webhook_events.MODEL_READY in subscribed
        and await _version_is_ready(delivery.services, event)
    ):
        data = webhook_events.model_ready_data(event)
        await _fan_out(delivery, event.team_id, source_id, webhook_events.MODEL_READY, occurred_at, data)


async def low_balance(
    delivery: WebhookDelivery,
    event: credits_events_pb2.LowBalanceCrossed,
    source_id: str,
    occurred_at: datetime,
) -> None:
    data = webhook_events.credits_low_data(event)
    await _fan_out(delivery, event.team_id, source_id, webhook_events.CREDITS_LOW, occurred_at, data)


async def plan_changed(delivery: WebhookDelivery, event: credits_events_pb2.PlanChanged) -> None:
    """The team's audit log shows plan changes, which Stripe (not a key or a person) makes."""
    await audit.record_for_team(
        delivery.engine,
        event.team_id,
        "system",
        None,
        "plan.changed",
        "team",
        event.team_id,
        {
            "previousPlan": credits_pb2.Plan.Name(event.previous_plan).removeprefix("PLAN_").lower(),
            "plan": credits_pb2.Plan.Name(event.plan).removeprefix("PLAN_").lower(),
            "subscriptionStatus": event.subscription_status or None,
        },
    )


async def _retry_delay(work: Awaitable[None]) -> float | None:
    """Run the work; None once its deliveries are committed, else how soon its message comes back."""
    try:
        await work
    except ModelNotReadyYet:
        # models has not consumed the same event yet: ask again shortly.
        return RETRY_EVENT_SECONDS
    except Exception:
        log.exception("queueing webhook deliveries failed; retrying")
        return RETRY_EVENT_SECONDS
    return None


async def _consume(msg: NatsMessage, job_id: str | None, work: Awaitable[None]) -> None:
    """Ack once the deliveries are committed; anything else comes back later."""
    request_id_var.set(msg.headers.get(REQUEST_ID_HEADER))
    job_id_var.set(job_id)
    delay = await _retry_delay(work)
    await (msg.ack() if delay is None else msg.nack(delay=delay))


async def _consume_from_batch(msg: Msg, job_id: str, work: Awaitable[None]) -> None:
    """_consume for one message of a batch, run as a task of its own (so its context stays its
    own), under the span faststream gives a message it hands over alone."""
    with message_context(msg, job_id):
        delay = await _retry_delay(work)
    await (msg.ack() if delay is None else msg.nak(delay=delay))


async def jobs_finished(delivery: WebhookDelivery, messages: list[Msg]) -> None:
    """A batch of JobFinished messages: those whose team takes none of the webhook events they
    may make are acknowledged at once, the rest go through job_finished side by side."""
    events = [(msg, generation_events_pb2.JobFinished.FromString(msg.data)) for msg in messages]
    try:
        subscriptions = await outbound_webhooks.subscriptions(
            delivery.engine, {event.team_id for _, event in events}
        )
    except Exception:
        log.exception("reading webhook subscriptions failed; retrying")
        for msg, _ in events:
            await msg.nak(delay=RETRY_EVENT_SECONDS)
        return
    work = []
    for msg, event in events:
        subscribed = subscriptions.get(event.team_id, set())
        if subscribed.isdisjoint(job_event_types(event)):
            await msg.ack()
            continue
        occurred_at = msg.metadata.timestamp
        finished = job_finished(delivery, event, _source_id(msg), occurred_at, subscribed)
        work.append(_consume_from_batch(msg, event.job_id, finished))
    await asyncio.gather(*work)


def _subscriber(broker: NatsBroker, subject: str, stream: JStream, durable: str) -> Any:
    return broker.subscriber(
        subject,
        stream=stream,
        durable=durable,
        pull_sub=PullSub(batch_size=10, timeout=1.0),
        config=ConsumerConfig(ack_wait=60),
        ack_policy=AckPolicy.MANUAL,
    )


def register_event_consumers(broker: Broker, delivery: WebhookDelivery) -> None:
    @broker.batch_subscriber(
        JOB_FINISHED_SUBJECT,
        stream=GENERATION_STREAM.name,
        durable="gateway-webhooks-jobs",
        ack_wait_seconds=60,
    )
    async def on_jobs_finished(messages: list[Msg]) -> None:
        await jobs_finished(delivery, messages)

    @_subscriber(broker, PLAN_CHANGED_SUBJECT, CREDITS_STREAM, "gateway-audit-plans")
    async def on_plan_changed(body: bytes, msg: NatsMessage) -> None:
        await _consume(msg, None, plan_changed(delivery, credits_events_pb2.PlanChanged.FromString(body)))

    @_subscriber(broker, LOW_BALANCE_SUBJECT, CREDITS_STREAM, "gateway-webhooks-credits")
    async def on_low_balance(body: bytes, msg: NatsMessage) -> None:
        event = credits_events_pb2.LowBalanceCrossed.FromString(body)
        occurred_at = msg.raw_message.metadata.timestamp
        await _consume(msg, None, low_balance(delivery, event, _source_id(msg.raw_message), occurred_at))


# --- sending -----------------------------------------------------------------------------------


async def send(delivery: WebhookDelivery, claimed: outbound_webhooks.ClaimedDelivery) -> str | None:
    """One attempt: sign (with the current secret, and the previous one during a rotation), POST,
    log it and schedule what comes next. Returns the delivery's new status."""
    body = claimed.payload.encode()
    secrets = [delivery.cipher.decrypt(token) for token in claimed.secret_ciphertexts]
    headers = standard_webhooks.headers(claimed.id, int(time.time()), body, secrets)
    result = await delivery.sender.post(claimed.url, headers, body)
    status = await outbound_webhooks.record_attempt(delivery.engine, claimed, result, delivery.retry_schedule)
    outcome = _OUTCOMES[status]
    ATTEMPTS.labels(claimed.event_type, outcome).inc()
    log.info(
        "webhook attempt",
        extra={
            "deliveryId": claimed.id,
            "endpointId": claimed.endpoint_id,
            "eventType": claimed.event_type,
            "attempt": claimed.attempt,
            "statusCode": result.status_code,
            "error": result.error,
            "outcome": outcome,
        },
    )
    return status


async def send_loop(delivery: WebhookDelivery) -> None:
    """Send due deliveries one at a time; when none is due, wait to be woken (or `poll_seconds`)."""
    while True:
        delivery.wakeup.clear()
        request_id_var.set(None)
        job_id_var.set(None)
        try:
            claimed = await outbound_webhooks.claim_due(delivery.engine, 1, delivery.lease)
            for one in claimed:
                await send(delivery, one)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A claimed delivery whose attempt was not recorded is due again when its lease ends.
            log.exception("sending webhooks failed; retrying")
            claimed = []
            await asyncio.sleep(1.0)
        if not claimed:
            try:
                await asyncio.wait_for(delivery.wakeup.wait(), delivery.poll_seconds)
            except TimeoutError:
                pass


# --- the process -------------------------------------------------------------------------------


def _required(settings: GatewaySettings) -> tuple[str, str]:
    missing = [
        name
        for name, value in (
            ("GATEWAY_NATS_URL", settings.nats_url),
            ("GATEWAY_WEBHOOK_SECRETS_KEY", settings.webhook_secrets_key),
        )
        if not value
    ]
    if missing:
        raise SystemExit(f"deliver-webhooks needs {' and '.join(missing)}")
    assert settings.nats_url and settings.webhook_secrets_key
    return settings.nats_url, settings.webhook_secrets_key.get_secret_value()


async def run(settings: GatewaySettings) -> None:
    """Consume events and send deliveries until SIGTERM; serves gRPC health for probes."""
    nats_url, secrets_key = _required(settings)
    targets = EndpointTargets(settings.webhook_allow_http, settings.webhook_allowed_networks)
    delivery = WebhookDelivery(
        engine=db.create_engine(settings.database_url),
        services=Services.connect(settings),
        sender=WebhookSender(targets, settings.webhook_timeout_seconds),
        cipher=standard_webhooks.SecretCipher(secrets_key),
        retry_schedule=settings.webhook_retry_schedule_seconds,
        lease=timedelta(seconds=settings.webhook_timeout_seconds) + LEASE_MARGIN,
        poll_seconds=settings.webhook_delivery_poll_seconds,
        wakeup=asyncio.Event(),
    )
    broker = create_broker(nats_url)
    register_event_consumers(broker, delivery)
    await broker.connect()
    for stream_config in (GENERATION_STREAM_CONFIG, CREDITS_STREAM_CONFIG):
        await ensure_stream(broker, stream_config, settings.stream_replicas)
    await broker.start()
    senders = [asyncio.create_task(send_loop(delivery)) for _ in range(settings.webhook_delivery_concurrency)]
    try:
        await grpc_server.serve(
            host=settings.http_host,
            port=settings.webhook_delivery_health_port,
            register=lambda server: [],
            grace_seconds=5,
        )
    finally:
        for task in senders:
            task.cancel()
        await broker.stop()
        await delivery.sender.close()
        await delivery.services.close()
        await delivery.engine.dispose()

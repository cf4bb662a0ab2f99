"""Generation's job events, consumed for model trainings: each moves its model version along.

A message is acknowledged only after its transition commits (and a removed model's follow-up call
succeeds); a failure is retried by redelivery, which the conditional transitions make harmless.
"""

import logging
from collections.abc import Awaitable

from faststream.middlewares import AckPolicy
from faststream.nats import ConsumerConfig, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_platform.context import REQUEST_ID_HEADER, job_id_var, request_id_var
from imagegen_platform.events import GENERATION_STREAM, JOB_FINISHED_SUBJECT, JOB_STARTED_SUBJECT

from imagegen_models.domain.custom_models import TrainingFinished, TrainingStarted, VersionStatus
from imagegen_models.service_layer import training_events
from imagegen_models.service_layer.handlers import Models

log = logging.getLogger(__name__)

_TRAINING_JOB_TYPES = {generation_pb2.JOB_TYPE_MODEL_CREATION, generation_pb2.JOB_TYPE_MODEL_REFINEMENT}
_FINISHED_STATUSES = {
    generation_pb2.JOB_STATUS_COMPLETED: VersionStatus.READY,
    generation_pb2.JOB_STATUS_FAILED: VersionStatus.FAILED,
    generation_pb2.JOB_STATUS_CANCELLED: VersionStatus.CANCELLED,
}


def _subscriber(broker: NatsBroker, subject: str, durable: str):
    return broker.subscriber(
        subject,
        stream=GENERATION_STREAM,
        durable=durable,
        pull_sub=PullSub(batch_size=10, timeout=1.0),
        config=ConsumerConfig(ack_wait=30),
        ack_policy=AckPolicy.MANUAL,
    )


async def _handle(msg: NatsMessage, job_id: str, work: Awaitable[None]) -> None:
    request_id_var.set(msg.headers.get(REQUEST_ID_HEADER))
    job_id_var.set(job_id)
    try:
        await work
    except Exception:
        log.exception("training event failed; retrying", extra={"jobId": job_id})
        await msg.nack(delay=2.0)
        return
    await msg.ack()


def _training_started(event: events_pb2.JobStarted) -> TrainingStarted:
    return TrainingStarted(
        job_id=event.job_id,
        team_id=event.team_id,
        custom_model_id=event.model_training.custom_model_id,
        version=event.model_training.model_version,
    )


def _training_finished(event: events_pb2.JobFinished) -> TrainingFinished:
    completed = event.status == generation_pb2.JOB_STATUS_COMPLETED
    return TrainingFinished(
        job_id=event.job_id,
        team_id=event.team_id,
        custom_model_id=event.model_training.custom_model_id,
        version=event.model_training.model_version,
        status=_FINISHED_STATUSES[event.status],
        weights_file_id=event.training_output.weights_file_id,
        config_file_id=event.training_output.config_file_id,
        charged_credits_hundredths=event.charge_hundredths if completed else 0,
        failure_reason=event.error.message or event.error.code,
    )


def register_training_consumers(broker: NatsBroker, models: Models) -> None:
    @_subscriber(broker, JOB_STARTED_SUBJECT, "models-job-started")
    async def on_job_started(body: bytes, msg: NatsMessage) -> None:
        event = events_pb2.JobStarted.FromString(body)
        if event.type not in _TRAINING_JOB_TYPES:
            await msg.ack()
            return
        await _handle(msg, event.job_id, training_events.training_started(models, _training_started(event)))

    @_subscriber(broker, JOB_FINISHED_SUBJECT, "models-job-finished")
    async def on_job_finished(body: bytes, msg: NatsMessage) -> None:
        event = events_pb2.JobFinished.FromString(body)
        if event.type not in _TRAINING_JOB_TYPES or event.status not in _FINISHED_STATUSES:
            await msg.ack()
            return
        await _handle(msg, event.job_id, training_events.training_finished(models, _training_finished(event)))

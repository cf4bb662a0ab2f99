"""Generation's job events, consumed for model trainings: each moves its model version along.

A message is acknowledged only after its transition commits (and a removed model's follow-up call
succeeds); a failure is retried by redelivery, which the conditional transitions make harmless.

Nearly every event is an image job's, which needs nothing here but its ack. Messages are therefore
taken in batches (imagegen_platform.events.Broker.batch_subscriber), and each training event runs
in its job's span and log context (message_context).
"""

import logging
from collections.abc import Awaitable

from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_platform.events import (
    GENERATION_STREAM,
    JOB_FINISHED_SUBJECT,
    JOB_STARTED_SUBJECT,
    Broker,
    message_context,
)
from nats.aio.msg import Msg

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


def _subscriber(broker: Broker, subject: str, durable: str):
    return broker.batch_subscriber(
        subject, stream=GENERATION_STREAM.name, durable=durable, ack_wait_seconds=30
    )


async def _handle(msg: Msg, job_id: str, work: Awaitable[None]) -> None:
    """Run one training event's work in its job's trace and log context; ack it once done."""
    with message_context(msg, job_id):
        try:
            await work
        except Exception:
            log.exception("training event failed; retrying", extra={"jobId": job_id})
            await msg.nak(delay=2.0)
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


def register_training_consumers(broker: Broker, models: Models) -> None:
    @_subscriber(broker, JOB_STARTED_SUBJECT, "models-job-started")
    async def on_jobs_started(messages: list[Msg]) -> None:
        for msg in messages:
            event = events_pb2.JobStarted.FromString(msg.data)
            if event.type not in _TRAINING_JOB_TYPES:
                await msg.ack()
                continue
            work = training_events.training_started(models, _training_started(event))
            await _handle(msg, event.job_id, work)

    @_subscriber(broker, JOB_FINISHED_SUBJECT, "models-job-finished")
    async def on_jobs_finished(messages: list[Msg]) -> None:
        for msg in messages:
            event = events_pb2.JobFinished.FromString(msg.data)
            if event.type not in _TRAINING_JOB_TYPES or event.status not in _FINISHED_STATUSES:
                await msg.ack()
                continue
            work = training_events.training_finished(models, _training_finished(event))
            await _handle(msg, event.job_id, work)

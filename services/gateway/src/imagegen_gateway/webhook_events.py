"""Our events as teams' webhook events: which ones a NATS event makes, their ids and their bodies.

A body is `{"type", "timestamp", "data"}` (Standard Webhooks' payload shape): for `job.*` the public
job exactly as `GET /api/jobs/{id}` answers it, for `model.ready` the model version that became
ready, for `credits.low` the balance and the threshold, in credits as the API shows them.
"""

import json
import uuid
from datetime import datetime
from typing import Any

from imagegen.credits.v1 import events_pb2 as credits_events_pb2
from imagegen.generation.v1 import events_pb2 as generation_events_pb2
from imagegen.generation.v1 import generation_pb2

from imagegen_gateway import translate

JOB_EVENT_TYPES = {
    generation_pb2.JOB_STATUS_COMPLETED: "job.completed",
    generation_pb2.JOB_STATUS_FAILED: "job.failed",
    generation_pb2.JOB_STATUS_CANCELLED: "job.cancelled",
}
MODEL_READY = "model.ready"
CREDITS_LOW = "credits.low"
_TRAINING_JOB_TYPES = {generation_pb2.JOB_TYPE_MODEL_CREATION, generation_pb2.JOB_TYPE_MODEL_REFINEMENT}
_EVENT_NAMESPACE = uuid.UUID("0d5b8f3e-2f4a-4c57-8d0e-6a1f3b9c7e21")


def event_id(source_id: str, event_type: str) -> str:
    """A webhook event's id, from the id of the message it came from (one message may make two)."""
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, f"{source_id}/{event_type}").hex


def job_event_type(event: generation_events_pb2.JobFinished) -> str | None:
    return JOB_EVENT_TYPES.get(event.status)


def makes_model_ready(event: generation_events_pb2.JobFinished) -> bool:
    return event.type in _TRAINING_JOB_TYPES and event.status == generation_pb2.JOB_STATUS_COMPLETED


def model_ready_data(event: generation_events_pb2.JobFinished) -> dict[str, Any]:
    return {
        "customModelId": event.model_training.custom_model_id,
        "modelVersion": event.model_training.model_version,
        "jobId": event.job_id,
    }


def credits_low_data(event: credits_events_pb2.LowBalanceCrossed) -> dict[str, Any]:
    return {
        "availableCredits": translate.credits(event.available_hundredths),
        "threshold": translate.credits(event.threshold_hundredths),
    }


def body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON sent, and signed, on every attempt of every delivery of the event."""
    timestamp = occurred_at.isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": timestamp, "data": data}, separators=(",", ":"))

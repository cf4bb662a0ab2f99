"""Proto messages to public JSON shapes; credits travel as hundredths and leave as decimals."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.generation.v1 import generation_pb2
from imagegen.models.v1 import models_pb2
from imagegen.storage.v1 import storage_pb2

from imagegen_gateway import schemas
from imagegen_gateway.errors import ApiError

_STATUS = {
    generation_pb2.JOB_STATUS_QUEUED: "queued",
    generation_pb2.JOB_STATUS_RUNNING: "running",
    generation_pb2.JOB_STATUS_COMPLETED: "completed",
    generation_pb2.JOB_STATUS_FAILED: "failed",
    generation_pb2.JOB_STATUS_CANCELLED: "cancelled",
}


def credits(hundredths: int) -> float:
    # Shortest float repr of n/100 is exactly the two-decimal number, so JSON shows 27.0, 114.75.
    return hundredths / 100


def utc(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


_IMAGE_STATUS = {
    storage_pb2.FILE_STATE_STORED: "available",
    storage_pb2.FILE_STATE_EXPIRED: "expired",
    storage_pb2.FILE_STATE_DELETED: "deleted",
}


def image_access(signed: storage_pb2.SignedUrl) -> dict:
    """The read part of an image: a URL while available, else its status and date, never a dead link."""
    status = _IMAGE_STATUS[signed.state]
    available = status == "available"
    return {
        "status": status,
        "url": signed.url if available else None,
        "expires_at": utc(signed.expires_at) if available else None,
        "available_until": utc(signed.file_expires_at) if signed.HasField("file_expires_at") else None,
    }


def image_public(file: storage_pb2.StoredFile, signed: storage_pb2.SignedUrl) -> schemas.ImagePublic:
    return schemas.ImagePublic(
        id=file.id,
        job_id=file.owner_id,
        width=file.width,
        height=file.height,
        content_type=file.content_type,
        size_bytes=file.size_bytes,
        created_at=utc(file.created_at),
        **image_access(signed),
    )


_JOB_TYPE = {
    generation_pb2.JOB_TYPE_IMAGE_GENERATION: "image_generation",
    generation_pb2.JOB_TYPE_MODEL_CREATION: "model_creation",
    generation_pb2.JOB_TYPE_MODEL_REFINEMENT: "model_refinement",
}


def _job_input(job: generation_pb2.Job) -> schemas.JobInput | schemas.TrainingJobInput:
    if job.type != generation_pb2.JOB_TYPE_IMAGE_GENERATION:
        trained = job.model_training
        return schemas.TrainingJobInput(
            custom_model_id=trained.custom_model_id,
            model_version=trained.model_version,
            reference_model_id=trained.reference_model_id,
            trigger_word=trained.trigger_word,
            training_steps=trained.training_steps,
            num_training_images=trained.num_training_images,
        )
    given = job.image_generation
    return schemas.JobInput(
        reference_model_id=given.reference_model_id,
        prompt=given.prompt,
        resolution=given.resolution,
        quality=given.quality,
        num_images=given.num_images,
        seed=given.seed if given.HasField("seed") else None,
        custom_model_id=given.custom_model_id or None,
        model_version=given.model_version or None,
    )


def job_public(job: generation_pb2.Job, signed_urls: dict[str, storage_pb2.SignedUrl]) -> schemas.JobPublic:
    status = _STATUS[job.status]
    result: schemas.JobResult | schemas.TrainingResult | None = None
    if status == "completed" and job.type != generation_pb2.JOB_TYPE_IMAGE_GENERATION:
        result = schemas.TrainingResult(
            custom_model_id=job.model_training.custom_model_id,
            model_version=job.model_training.model_version,
        )
    elif status == "completed":
        result = schemas.JobResult(
            images=[
                schemas.ResultImage(
                    id=image.file_id,
                    width=image.width,
                    height=image.height,
                    content_type=image.content_type,
                    nsfw=image.nsfw,
                    **image_access(signed_urls[image.file_id]),
                )
                for image in job.images
            ]
        )
    return schemas.JobPublic(
        id=job.id,
        type=_JOB_TYPE[job.type],
        status=status,
        input=_job_input(job),
        estimated_credits=credits(job.estimated_credits_hundredths),
        charged_credits=credits(job.charged_credits_hundredths),
        refunded_credits=credits(job.refunded_credits_hundredths),
        progress=job.progress,
        priority=job.priority,
        queue_position=(job.queue_position or None) if status == "queued" else None,
        estimated_start_at=utc(job.estimated_start_at)
        if status == "queued" and job.HasField("estimated_start_at")
        else None,
        error=schemas.JobError(code=job.error.code, message=job.error.message)
        if job.HasField("error")
        else None,
        result=result,
        created_at=utc(job.created_at),
        started_at=utc(job.started_at) if job.HasField("started_at") else None,
        completed_at=utc(job.finished_at) if job.HasField("finished_at") else None,
    )


def reference_model_public(model: models_pb2.ReferenceModel) -> schemas.ReferenceModelPublic:
    return schemas.ReferenceModelPublic(
        id=model.id,
        name=model.name,
        category=model.category,
        description=model.description,
        tags=list(model.tags),
        complexity_multiplier=model.complexity_hundredths / 100,
        provider_endpoint=model.provider_endpoint,
        training_endpoint=model.training_endpoint,
        preview_url=model.preview_url or None,
        preview_expires_at=utc(model.preview_url_expires_at) if model.preview_url else None,
    )


_MODEL_STATUS = {
    models_pb2.CUSTOM_MODEL_STATUS_PENDING: "pending",
    models_pb2.CUSTOM_MODEL_STATUS_TRAINING: "training",
    models_pb2.CUSTOM_MODEL_STATUS_READY: "ready",
    models_pb2.CUSTOM_MODEL_STATUS_FAILED: "failed",
}
MODEL_STATUS_FILTER = {name: wire for wire, name in _MODEL_STATUS.items()}
_VERSION_STATUS = {
    models_pb2.MODEL_VERSION_STATUS_PENDING: "pending",
    models_pb2.MODEL_VERSION_STATUS_TRAINING: "training",
    models_pb2.MODEL_VERSION_STATUS_READY: "ready",
    models_pb2.MODEL_VERSION_STATUS_FAILED: "failed",
    models_pb2.MODEL_VERSION_STATUS_CANCELLED: "cancelled",
}
VERSIONS_IN_FLIGHT = {models_pb2.MODEL_VERSION_STATUS_PENDING, models_pb2.MODEL_VERSION_STATUS_TRAINING}


def custom_model_public(
    model: models_pb2.CustomModel, progress_by_job: dict[str, float]
) -> schemas.CustomModelPublic:
    """A custom model; `progress_by_job` holds the training progress of versions still in flight."""
    return schemas.CustomModelPublic(
        id=model.id,
        reference_model_id=model.reference_model_id,
        name=model.name,
        description=model.description,
        trigger_word=model.trigger_word,
        status=_MODEL_STATUS[model.status],
        current_version=model.current_version or None,
        versions=[
            schemas.ModelVersionPublic(
                version=version.version,
                status=_VERSION_STATUS[version.status],
                parent_version=version.parent_version or None,
                job_id=version.job_id,
                progress=1.0
                if version.status == models_pb2.MODEL_VERSION_STATUS_READY
                else progress_by_job.get(version.job_id, 0.0),
                training_steps=version.training_steps,
                training_image_ids=list(version.training_image_file_ids),
                started_from_parent_weights=bool(version.starting_weights_file_id),
                weights_file_id=version.weights_file_id or None,
                config_file_id=version.config_file_id or None,
                estimated_credits=credits(version.estimated_credits_hundredths),
                charged_credits=credits(version.charged_credits_hundredths),
                failure_reason=version.failure_reason or None,
                created_at=utc(version.created_at),
                finished_at=utc(version.finished_at) if version.HasField("finished_at") else None,
            )
            for version in model.versions
        ],
        created_at=utc(model.created_at),
        updated_at=utc(model.updated_at),
    )


def timestamp(name: str, value: datetime | None) -> Timestamp | None:
    """A query parameter's time for a service; a time without a UTC offset is a 400 naming it."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ApiError(400, "invalid_request", "times need a UTC offset", {name: "RFC 3339 with an offset"})
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp

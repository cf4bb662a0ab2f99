"""Proto messages to public JSON shapes; credits travel as hundredths and leave as decimals."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.generation.v1 import generation_pb2
from imagegen.models.v1 import models_pb2
from imagegen.storage.v1 import storage_pb2

from imagegen_gateway import schemas

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


def job_public(job: generation_pb2.Job, signed_urls: dict[str, storage_pb2.SignedUrl]) -> schemas.JobPublic:
    given = job.image_generation
    status = _STATUS[job.status]
    result = None
    if status == "completed":
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
        type="image_generation",
        status=status,
        input=schemas.JobInput(
            reference_model_id=given.reference_model_id,
            prompt=given.prompt,
            resolution=given.resolution,
            quality=given.quality,
            num_images=given.num_images,
            seed=given.seed if given.HasField("seed") else None,
        ),
        estimated_credits=credits(job.estimated_credits_hundredths),
        charged_credits=credits(job.charged_credits_hundredths),
        refunded_credits=credits(job.refunded_credits_hundredths),
        progress=job.progress,
        queue_position=job.queue_position if status == "queued" else None,
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
    )

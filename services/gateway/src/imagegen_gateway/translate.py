"""Proto messages to public JSON shapes; credits travel as hundredths and leave as decimals."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.generation.v1 import generation_pb2
from imagegen.models.v1 import models_pb2

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


def job_public(job: generation_pb2.Job, signed_urls: dict[str, tuple[str, datetime]]) -> schemas.JobPublic:
    given = job.image_generation
    status = _STATUS[job.status]
    result = None
    if status == "completed":
        result = schemas.JobResult(
            images=[
                schemas.ResultImage(
                    id=image.file_id,
                    url=signed_urls[image.file_id][0],
                    expires_at=signed_urls[image.file_id][1],
                    width=image.width,
                    height=image.height,
                    content_type=image.content_type,
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

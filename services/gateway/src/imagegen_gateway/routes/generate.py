"""Image generation: queue a job, read its status and results."""

from fastapi import APIRouter
from imagegen.generation.v1 import generation_pb2, generation_service_pb2
from imagegen.storage.v1 import storage_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.deps import ServicesDep, TeamIdDep

router = APIRouter(prefix="/api/generate", tags=["generation"])


async def job_with_urls(services: Services, team_id: str, job: generation_pb2.Job) -> schemas.JobPublic:
    """The public job, with a freshly signed URL for each stored image."""
    signed = {}
    if job.images:
        response = await services.storage.SignFileUrls(
            storage_service_pb2.SignFileUrlsRequest(
                team_id=team_id, file_ids=[image.file_id for image in job.images]
            )
        )
        signed = {item.file_id: (item.url, translate.utc(item.expires_at)) for item in response.signed_urls}
    return translate.job_public(job, signed)


@router.post("", status_code=202, response_model=schemas.JobCreated, response_model_by_alias=True)
async def create_generation(
    body: schemas.ImageGenerationCreate, team_id: TeamIdDep, services: ServicesDep
) -> schemas.JobCreated:
    """Quote, reserve credits for, and queue an image generation."""
    response = await services.generation.CreateImageGenerationJob(
        generation_service_pb2.CreateImageGenerationJobRequest(
            team_id=team_id,
            input=generation_pb2.ImageGenerationInput(
                reference_model_id=body.reference_model_id,
                prompt=body.prompt,
                resolution=body.resolution,
                quality=body.quality,
                num_images=body.num_images,
                seed=body.seed,
            ),
        )
    )
    return schemas.JobCreated(job=translate.job_public(response.job, {}))


@router.get("/{job_id}", response_model=schemas.JobPublic, response_model_by_alias=True)
async def get_generation(job_id: str, team_id: TeamIdDep, services: ServicesDep) -> schemas.JobPublic:
    """An image generation job: status, charges, and signed URLs of its images once completed."""
    response = await services.generation.GetJob(
        generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job_id)
    )
    return await job_with_urls(services, team_id, response.job)

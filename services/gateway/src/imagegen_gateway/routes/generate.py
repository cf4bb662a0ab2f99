"""Image generation: queue a job, read its status and results."""

import asyncio
import re
import time
from typing import Annotated

from fastapi import APIRouter, Header, Response
from imagegen.generation.v1 import generation_pb2, generation_service_pb2
from imagegen.storage.v1 import storage_pb2, storage_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.adapters import api_keys
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.deps import GenerateCallerDep, ReadTeamIdDep, ServicesDep

router = APIRouter(prefix="/api/generate", tags=["generation"])


async def job_with_urls(services: Services, team_id: str, job: generation_pb2.Job) -> schemas.JobPublic:
    """The public job, with a freshly signed URL for each stored image (or its expired state)."""
    signed: dict[str, storage_pb2.SignedUrl] = {}
    if job.images:
        response = await services.storage.SignFileUrls(
            storage_service_pb2.SignFileUrlsRequest(
                team_id=team_id, file_ids=[image.file_id for image in job.images]
            )
        )
        signed = {item.file_id: item for item in response.signed_urls}
    return translate.job_public(job, signed)


# A job in one of these states changes no more.
TERMINAL_STATUSES = {
    generation_pb2.JOB_STATUS_COMPLETED,
    generation_pb2.JOB_STATUS_FAILED,
    generation_pb2.JOB_STATUS_CANCELLED,
}
MAX_WAIT_SECONDS = 60
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait=(\d+)")


def requested_wait(prefer: str | None) -> int:
    """Seconds from `Prefer: wait=N` (RFC 7240), capped; 0 when absent."""
    match = _PREFER_WAIT.search(prefer or "")
    return min(int(match.group(1)), MAX_WAIT_SECONDS) if match else 0


@router.post(
    "",
    status_code=202,
    response_model=schemas.JobCreated,
    response_model_by_alias=True,
    responses={200: {"model": schemas.JobCreated, "description": "finished within `Prefer: wait=N`"}},
)
async def create_generation(
    body: schemas.ImageGenerationCreate,
    caller: GenerateCallerDep,
    services: ServicesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    prefer: Annotated[str | None, Header()] = None,
) -> schemas.JobCreated:
    """Quote, reserve credits for, and queue an image generation, from a catalog model or from one of
    the team's custom models (whose version must be ready: 409 says why when it is not).

    `Idempotency-Key` makes a retried request return the first job (and charge once);
    `Prefer: wait=N` holds the answer up to N seconds (at most 60) for the finished job.
    """
    team_id = caller.team_id
    created = await services.generation.CreateImageGenerationJob(
        generation_service_pb2.CreateImageGenerationJobRequest(
            team_id=team_id,
            input=generation_pb2.ImageGenerationInput(
                reference_model_id=body.reference_model_id or 0,
                custom_model_id=body.custom_model_id or 0,
                model_version=body.model_version or 0,
                prompt=body.prompt,
                resolution=body.resolution,
                quality=body.quality,
                num_images=body.num_images,
                seed=body.seed,
            ),
            idempotency_key=idempotency_key or "",
            priority=body.priority,
            key_spend=api_keys.key_spend(caller),
        )
    )
    job = created.job
    wait = requested_wait(prefer)
    if wait:
        response.headers["Preference-Applied"] = f"wait={wait}"
        deadline = time.monotonic() + wait
        while job.status not in TERMINAL_STATUSES and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            job = (
                await services.generation.GetJob(
                    generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job.id)
                )
            ).job
        if job.status in TERMINAL_STATUSES:
            response.status_code = 200
            return schemas.JobCreated(job=await job_with_urls(services, team_id, job))
    return schemas.JobCreated(job=translate.job_public(job, {}))


@router.get("/{job_id}", response_model=schemas.JobPublic, response_model_by_alias=True)
async def get_generation(job_id: str, team_id: ReadTeamIdDep, services: ServicesDep) -> schemas.JobPublic:
    """An image generation job: status, charges, and signed URLs of its images once completed."""
    response = await services.generation.GetJob(
        generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job_id)
    )
    return await job_with_urls(services, team_id, response.job)

"""Jobs of every kind: list, read, follow, cancel."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from imagegen.generation.v1 import generation_pb2, generation_service_pb2
from imagegen.storage.v1 import storage_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.deps import GenerateTeamIdDep, ReadTeamIdDep, ServicesDep
from imagegen_gateway.errors import ApiError
from imagegen_gateway.routes.generate import TERMINAL_STATUSES, job_with_urls

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

_STATUSES = {
    "queued": generation_pb2.JOB_STATUS_QUEUED,
    "running": generation_pb2.JOB_STATUS_RUNNING,
    "completed": generation_pb2.JOB_STATUS_COMPLETED,
    "failed": generation_pb2.JOB_STATUS_FAILED,
    "cancelled": generation_pb2.JOB_STATUS_CANCELLED,
}
_TYPES = {
    "image_generation": generation_pb2.JOB_TYPE_IMAGE_GENERATION,
    "model_creation": generation_pb2.JOB_TYPE_MODEL_CREATION,
    "model_refinement": generation_pb2.JOB_TYPE_MODEL_REFINEMENT,
}


def _names(values: list[str] | None, known: dict[str, int], field: str) -> list[int]:
    names = [name for value in values or [] for name in value.split(",") if name]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown {field}", {field: f"one of {', '.join(known)}"})
    return [known[name] for name in names]


@router.get("", response_model=schemas.JobPage, response_model_by_alias=True)
async def list_jobs(
    team_id: ReadTeamIdDep,
    services: ServicesDep,
    status: Annotated[
        list[str] | None, Query(description="queued, running, completed, failed, cancelled")
    ] = None,
    type: Annotated[
        list[str] | None, Query(description="image_generation, model_creation, model_refinement")
    ] = None,
    reference_model_id: Annotated[
        int | None, Query(alias="referenceModelId", gt=0, le=schemas.MAX_ID)
    ] = None,
    custom_model_id: Annotated[int | None, Query(alias="customModelId", gt=0, le=schemas.MAX_ID)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.JobPage:
    """The team's jobs, newest first, filtered by status, type, model and creation time."""
    response = await services.generation.ListJobs(
        generation_service_pb2.ListJobsRequest(
            team_id=team_id,
            statuses=_names(status, _STATUSES, "status"),
            types=_names(type, _TYPES, "type"),
            reference_model_id=reference_model_id,
            custom_model_id=custom_model_id,
            created_after=translate.timestamp("since", since),
            created_before=translate.timestamp("until", until),
            page_size=limit,
            page_token=cursor or "",
        )
    )
    return schemas.JobPage(
        items=[await job_with_urls(services, team_id, job) for job in response.jobs],
        next_cursor=response.next_page_token or None,
    )


@router.get("/{job_id}", response_model=schemas.JobPublic, response_model_by_alias=True)
async def get_job(job_id: str, team_id: ReadTeamIdDep, services: ServicesDep) -> schemas.JobPublic:
    """One job: queue position while queued, progress while running, quote, charge and refund when done."""
    response = await services.generation.GetJob(
        generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job_id)
    )
    return await job_with_urls(services, team_id, response.job)


# How often a followed job is re-read, and how often an idle stream sends a keep-alive comment.
EVENTS_POLL_SECONDS = 0.5
EVENTS_KEEPALIVE_SECONDS = 15.0


@router.get(
    "/{job_id}/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "`job` events until the job ends"}},
)
async def job_events(
    job_id: str, request: Request, team_id: ReadTeamIdDep, services: ServicesDep
) -> StreamingResponse:
    """Server-sent events: the job each time its status or progress changes, ending when it finishes."""
    get = generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job_id)
    # Read once before answering, so an unknown job is a JSON 404, not an empty stream.
    first = (await services.generation.GetJob(get)).job

    async def events(job: generation_pb2.Job) -> AsyncIterator[str]:
        sent, number, quiet_since = None, 0, time.monotonic()
        while True:
            body = (await job_with_urls(services, team_id, job)).model_dump_json(by_alias=True)
            if body != sent:
                number += 1
                sent, quiet_since = body, time.monotonic()
                yield f"event: job\nid: {number}\ndata: {body}\n\n"
            elif time.monotonic() - quiet_since > EVENTS_KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            if job.status in TERMINAL_STATUSES or await request.is_disconnected():
                return
            await asyncio.sleep(EVENTS_POLL_SECONDS)
            job = (await services.generation.GetJob(get)).job

    return StreamingResponse(
        events(first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.delete("/{job_id}", response_model=schemas.JobPublic, response_model_by_alias=True)
async def cancel_job(job_id: str, team_id: GenerateTeamIdDep, services: ServicesDep) -> schemas.JobPublic:
    """Cancel a queued or running job and release its credits; cancelling again returns the same job."""
    response = await services.generation.CancelJob(
        generation_service_pb2.CancelJobRequest(team_id=team_id, job_id=job_id)
    )
    return await job_with_urls(services, team_id, response.job)


@router.delete("/{job_id}/images", status_code=204, response_class=Response)
async def delete_job_images(job_id: str, team_id: GenerateTeamIdDep, services: ServicesDep) -> Response:
    """Delete a job's images now, before their retention ends: they read as `deleted` at once and
    the cleanup removes the files. The job itself, with its charge, stays in the history."""
    response = await services.generation.GetJob(
        generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job_id)
    )
    if response.job.status not in TERMINAL_STATUSES:
        raise ApiError(409, "job_not_finished", "a job's images can be deleted once it has finished")
    await services.storage.DeleteOwnerFiles(
        storage_service_pb2.DeleteOwnerFilesRequest(team_id=team_id, owner_id=job_id)
    )
    return Response(status_code=204)

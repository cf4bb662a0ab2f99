"""Generation use cases: create a job, start it at the provider, record its outcome once.

Money moves before work starts: a job's credits are reserved (keyed by the job id) before its row
and its JobQueued event are committed together, and settled by the JobFinished event its single
terminal transition writes. Every transition is conditional on the current status, so a webhook,
a poll and a redelivered message racing for the same job finish it once.
"""

import json
import logging
import random
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_platform.context import request_id_var
from imagegen_platform.errors import NotFound
from imagegen_platform.events import JOB_FINISHED_SUBJECT, JOB_QUEUED_SUBJECT
from imagegen_platform.outbox import add_event
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_generation.adapters.peers import CatalogModel, Peers, Quote
from imagegen_generation.adapters.provider import FalProvider, ProviderError
from imagegen_generation.adapters.tables import job, job_image, job_transition, outbox
from imagegen_generation.domain.jobs import (
    ImageGenerationRequest,
    JobStatus,
    JobType,
    provider_error_message,
    provider_images,
)

log = logging.getLogger(__name__)

_STATUS_TO_WIRE = {
    JobStatus.QUEUED: generation_pb2.JOB_STATUS_QUEUED,
    JobStatus.RUNNING: generation_pb2.JOB_STATUS_RUNNING,
    JobStatus.COMPLETED: generation_pb2.JOB_STATUS_COMPLETED,
    JobStatus.FAILED: generation_pb2.JOB_STATUS_FAILED,
    JobStatus.CANCELLED: generation_pb2.JOB_STATUS_CANCELLED,
}


@dataclass
class Generation:
    engine: AsyncEngine
    peers: Peers
    provider: FalProvider
    webhook_url: str
    provider_max_attempts: int


@dataclass
class JobView:
    row: Row
    images: list[Row] = field(default_factory=list)


async def _load(connection: AsyncConnection, job_id: str, team_id: str | None = None) -> JobView:
    query = select(job).where(job.c.id == job_id)
    if team_id is not None:
        query = query.where(job.c.team_id == team_id)
    row = (await connection.execute(query)).one_or_none()
    if row is None:
        raise NotFound("job_not_found", f"job {job_id} does not exist")
    images = (
        await connection.execute(
            select(job_image).where(job_image.c.job_id == job_id).order_by(job_image.c.position)
        )
    ).all()
    return JobView(row, list(images))


async def _transition(
    connection: AsyncConnection,
    job_id: str,
    from_statuses: tuple[JobStatus, ...],
    to_status: JobStatus,
    reason: str,
    **values: Any,
) -> Row | None:
    """Move a job between states only if it is in one of `from_statuses`; None when it was not."""
    current = (
        await connection.execute(select(job.c.status).where(job.c.id == job_id).with_for_update())
    ).scalar_one_or_none()
    if current is None or JobStatus(current) not in from_statuses:
        return None
    changed = (
        await connection.execute(
            update(job).where(job.c.id == job_id).values(status=to_status.value, **values).returning(job)
        )
    ).one()
    await connection.execute(
        insert(job_transition).values(
            job_id=job_id, from_status=current, to_status=to_status.value, reason=reason
        )
    )
    return changed


async def _finish(
    connection: AsyncConnection,
    row: Row,
    to_status: JobStatus,
    reason: str,
    *,
    charge: int,
    **values: Any,
) -> bool:
    """The one terminal transition of a running or queued job, with its settlement event."""
    finished = await _transition(
        connection,
        row.id,
        (JobStatus.QUEUED, JobStatus.RUNNING),
        to_status,
        reason,
        charged_credits_hundredths=charge,
        refunded_credits_hundredths=row.estimated_credits_hundredths - charge,
        finished_at=func.now(),
        **values,
    )
    if finished is None:
        return False
    event = events_pb2.JobFinished(
        job_id=row.id,
        team_id=row.team_id,
        status=_STATUS_TO_WIRE[to_status],
        charge_hundredths=charge,
    )
    await add_event(connection, outbox, JOB_FINISHED_SUBJECT, event, request_id_var.get())
    return True


async def quote_image_job(
    gen: Generation, request: ImageGenerationRequest, *, require_prompt: bool = True
) -> tuple[CatalogModel, Quote]:
    """The binding price of an image generation, as creating its job would reserve it."""
    request.validate(require_prompt=require_prompt)
    model = await gen.peers.reference_model(request.reference_model_id)
    quote = await gen.peers.quote_image_generation(
        request.resolution, request.quality, model.complexity_hundredths, request.num_images
    )
    return model, quote


async def quote_model_creation(gen: Generation, reference_model_id: int, num_training_images: int) -> Quote:
    model = await gen.peers.reference_model(reference_model_id)
    return await gen.peers.quote_model_creation(model.complexity_hundredths, num_training_images)


async def create_image_job(gen: Generation, team_id: str, request: ImageGenerationRequest) -> JobView:
    model, quote = await quote_image_job(gen, request)
    job_id = str(uuid.uuid4())
    await gen.peers.reserve(team_id, quote.amount_hundredths, job_id)
    try:
        async with gen.engine.begin() as connection:
            await connection.execute(
                insert(job).values(
                    id=job_id,
                    team_id=team_id,
                    type=JobType.IMAGE_GENERATION.value,
                    status=JobStatus.QUEUED.value,
                    input=asdict(request),
                    provider_endpoint=model.provider_endpoint,
                    provider_input=request.provider_input(model.default_parameters),
                    estimated_credits_hundredths=quote.amount_hundredths,
                    pricing_version=quote.pricing_version,
                    charged_credits_hundredths=0,
                    refunded_credits_hundredths=0,
                    attempts=0,
                    progress=0.0,
                )
            )
            await connection.execute(
                insert(job_transition).values(
                    job_id=job_id, to_status=JobStatus.QUEUED.value, reason="created"
                )
            )
            event = events_pb2.JobQueued(
                job_id=job_id, team_id=team_id, type=generation_pb2.JOB_TYPE_IMAGE_GENERATION
            )
            await add_event(connection, outbox, JOB_QUEUED_SUBJECT, event, request_id_var.get())
            return await _load(connection, job_id)
    except BaseException:
        # The job was never recorded, so nothing will settle its reservation: give it back now.
        await gen.peers.release(job_id)
        raise


async def get_job(engine: AsyncEngine, team_id: str, job_id: str) -> JobView:
    async with engine.connect() as connection:
        return await _load(connection, job_id, team_id)


@dataclass(frozen=True)
class StartOutcome:
    """What the worker should do with the message: ack it, or retry it after `retry_after` seconds."""

    retry_after: float | None = None


# How long a job waits before trying again when its team is at its plan's concurrency limit.
AT_LIMIT_RETRY_SECONDS = 2.0


async def start_job(gen: Generation, job_id: str) -> StartOutcome:
    """Claim a queued job and submit it to the provider; its result arrives by webhook.

    A team runs at most its plan's number of jobs at once, across every worker: claims of one team
    are serialised by a transaction-level advisory lock on the team, and a job over the limit stays
    queued and is offered again after a delay.
    """
    async with gen.engine.connect() as connection:
        team_id = (
            await connection.execute(select(job.c.team_id).where(job.c.id == job_id))
        ).scalar_one_or_none()
    if team_id is None:
        log.error("queued job does not exist", extra={"jobId": job_id})
        return StartOutcome()
    limit = await gen.peers.concurrency_limit(team_id)
    async with gen.engine.begin() as connection:
        await connection.execute(select(func.pg_advisory_xact_lock(func.hashtext(team_id))))
        row = (await connection.execute(select(job).where(job.c.id == job_id).with_for_update())).one()
        status = JobStatus(row.status)
        # A running job without a provider request id was claimed by a worker that died or
        # failed transiently before submitting: submit it again.
        if status is JobStatus.QUEUED:
            running = await connection.scalar(
                select(func.count())
                .select_from(job)
                .where(job.c.team_id == team_id, job.c.status == JobStatus.RUNNING.value)
            )
            if running >= limit:
                return StartOutcome(retry_after=AT_LIMIT_RETRY_SECONDS * random.uniform(0.75, 1.25))
            row = await _transition(
                connection,
                job_id,
                (JobStatus.QUEUED,),
                JobStatus.RUNNING,
                "claimed by worker",
                started_at=func.now(),
                attempts=row.attempts + 1,
            )
        elif status is JobStatus.RUNNING and row.provider_request_id is None:
            row = (
                await connection.execute(
                    update(job).where(job.c.id == job_id).values(attempts=row.attempts + 1).returning(job)
                )
            ).one()
        else:
            return StartOutcome()

    try:
        request_id = await gen.provider.submit(row.provider_endpoint, row.provider_input, gen.webhook_url)
    except ProviderError as error:
        if error.retryable and row.attempts < gen.provider_max_attempts:
            delay = min(60.0, 2.0**row.attempts) * random.uniform(0.5, 1.0)
            log.warning("provider submit failed; retrying", extra={"jobId": job_id, "error": str(error)})
            return StartOutcome(retry_after=delay)
        async with gen.engine.begin() as connection:
            await _finish(
                connection,
                row,
                JobStatus.FAILED,
                "provider refused the request",
                charge=0,
                error_code="provider_error",
                error_message=str(error),
            )
        return StartOutcome()

    async with gen.engine.begin() as connection:
        await connection.execute(update(job).where(job.c.id == job_id).values(provider_request_id=request_id))
    log.info("job submitted to provider", extra={"jobId": job_id, "providerRequestId": request_id})
    return StartOutcome()


async def complete_provider_request(
    gen: Generation, provider_request_id: str, ok: bool, payload_json: bytes, error: str
) -> JobView:
    """Record a provider's verified terminal report once; repeats return the finished job."""
    async with gen.engine.connect() as connection:
        row = (
            await connection.execute(select(job).where(job.c.provider_request_id == provider_request_id))
        ).one_or_none()
        if row is None:
            # The webhook can beat the worker's write of the request id; the provider retries.
            raise NotFound("provider_request_not_found", f"no job has provider request {provider_request_id}")
        if JobStatus(row.status).is_terminal:
            return await _load(connection, row.id)

    try:
        payload = json.loads(payload_json) if payload_json else None
    except json.JSONDecodeError:
        payload = None

    if ok:
        try:
            sources = provider_images(payload)
        except ValueError as invalid:
            return await _fail(gen, row, "invalid_provider_output", str(invalid))
        stored = [
            await gen.peers.import_image(row.team_id, row.id, position, source.url)
            for position, source in enumerate(sources)
        ]
        async with gen.engine.begin() as connection:
            if await _finish(
                connection,
                row,
                JobStatus.COMPLETED,
                "provider succeeded",
                charge=row.estimated_credits_hundredths,
                progress=1.0,
            ):
                await connection.execute(
                    insert(job_image),
                    [
                        {
                            "job_id": row.id,
                            "position": position,
                            "file_id": image.file_id,
                            "width": image.width,
                            "height": image.height,
                            "content_type": image.content_type,
                        }
                        for position, image in enumerate(stored)
                    ],
                )
            return await _load(connection, row.id)

    return await _fail(gen, row, "provider_error", provider_error_message(error, payload))


async def _fail(gen: Generation, row: Row, code: str, message: str) -> JobView:
    async with gen.engine.begin() as connection:
        await _finish(
            connection,
            row,
            JobStatus.FAILED,
            "provider failed",
            charge=0,
            error_code=code,
            error_message=message,
        )
        return await _load(connection, row.id)

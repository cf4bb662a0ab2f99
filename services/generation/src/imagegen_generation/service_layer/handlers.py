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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import asyncpg
import grpc
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen.storage.v1 import storage_pb2
from imagegen_platform import db, outbox, tracing
from imagegen_platform.context import job_id_var, request_id_var
from imagegen_platform.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound
from imagegen_platform.events import JOB_FINISHED_SUBJECT, JOB_QUEUED_SUBJECT, JOB_STARTED_SUBJECT
from sqlalchemy import BigInteger, and_, case, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_generation.adapters.peers import PLAN_NAMES, Peers, PlanLimits, Quote
from imagegen_generation.adapters.provider import (
    FalProvider,
    ProviderError,
    ProviderRunning,
    is_retryable_failure,
)
from imagegen_generation.adapters.tables import job, job_image
from imagegen_generation.domain.jobs import (
    LORA_PATH,
    ImageGenerationRequest,
    JobStatus,
    JobType,
    KeySpend,
    LoraWeights,
    ModelTrainingRequest,
    charge_for,
    provider_error_message,
    provider_images,
    provider_training_files,
    with_signed_files,
)

log = logging.getLogger(__name__)

TYPE_TO_WIRE = {
    JobType.IMAGE_GENERATION: generation_pb2.JOB_TYPE_IMAGE_GENERATION,
    JobType.MODEL_CREATION: generation_pb2.JOB_TYPE_MODEL_CREATION,
    JobType.MODEL_REFINEMENT: generation_pb2.JOB_TYPE_MODEL_REFINEMENT,
}

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
    # A claim this old without a provider request id was made by a worker that died.
    claim_timeout: timedelta = timedelta(seconds=60)

    @cached_property
    def autocommit(self) -> AsyncEngine:
        """For reads and lone writes (see imagegen_platform.db.autocommit)."""
        return db.autocommit(self.engine)


# A job's row and its images' rows: SQLAlchemy Rows (list_jobs) or asyncpg records read by attribute
# (db.Record), both with the columns of the job and job_image tables.
JobRow = Row | db.Record


@dataclass
class JobView:
    row: JobRow
    images: list[JobRow] = field(default_factory=list)
    # The job's place among its team's queued jobs (1 is next), while queued.
    queue_position: int | None = None
    # When the job should start, from its place, the team's free slots and recent run times.
    estimated_start_at: datetime | None = None


# Run times of this many recent completed jobs of a type estimate when a queued job starts.
RUN_TIME_SAMPLE = 20

# The hot statements run straight on the pooled connection's asyncpg driver (imagegen_platform.db
# .connection): asyncpg prepares each once per connection, and their client CPU is a fraction of
# SQLAlchemy Core's. Where Postgres allows, one statement does a whole step (data-modifying CTEs),
# so that it needs neither more round trips nor BEGIN and COMMIT: a lone statement is atomic.
_GET_JOB = "SELECT * FROM generation.job WHERE id = $1"
_GET_TEAM_JOB = "SELECT * FROM generation.job WHERE id = $1 AND team_id = $2"
_GET_IMAGES = "SELECT * FROM generation.job_image WHERE job_id = $1 ORDER BY position"
# The number of the team's queued jobs ahead of the job in dispatch order (as _CLAIM_NEXT orders them).
_AHEAD = (
    "(SELECT count(*) FROM generation.job ahead WHERE ahead.team_id = {job}.team_id"
    " AND ahead.status = 'queued' AND (-ahead.priority, ahead.created_at, ahead.id)"
    " < (-{job}.priority, {job}.created_at, {job}.id))"
)
# One round trip for the place and the team's slots (no schedule row: the plan is not known yet).
_PLACE_IN_QUEUE = (
    f"SELECT {_AHEAD.format(job='job')} AS ahead, s.max_concurrent, s.running FROM generation.job"
    " LEFT JOIN generation.team_schedule s ON s.team_id = job.team_id WHERE job.id = $1"
)
_RECENT_RUN_SECONDS = (
    "SELECT avg(seconds) FROM (SELECT extract(epoch FROM finished_at) - extract(epoch FROM started_at)"
    " AS seconds FROM generation.job WHERE type = $1 AND status = 'completed'"
    " ORDER BY finished_at DESC LIMIT $2) recent"
)


async def _load(driver: asyncpg.Connection, job_id: str, team_id: str | None = None) -> JobView:
    if team_id is None:
        record = await driver.fetchrow(_GET_JOB, job_id)
    else:
        record = await driver.fetchrow(_GET_TEAM_JOB, job_id, team_id)
    if record is None:
        raise NotFound("job_not_found", f"job {job_id} does not exist")
    view = JobView(db.Record(record))
    if record["status"] == JobStatus.COMPLETED.value:
        # Only completing a job writes its images (_finish).
        view.images = [db.Record(image) for image in await driver.fetch(_GET_IMAGES, job_id)]
    elif record["status"] == JobStatus.QUEUED.value:
        if waves := _place_in_queue(view, *await driver.fetchrow(_PLACE_IN_QUEUE, job_id)):
            await _estimate_start(driver, view, waves)
    return view


def _place_in_queue(view: JobView, ahead: int, max_concurrent: int | None, running: int | None) -> int:
    """Set the queued job's position from the jobs `ahead` of it, and its start if its team has a
    slot for it now; the waves of runs it waits for otherwise (0 when there is no honest estimate)."""
    view.queue_position = ahead + 1
    if max_concurrent is None or max_concurrent <= 0:
        return 0  # the plan runs nothing (or is not known yet): no honest estimate
    free = max(0, max_concurrent - running)
    if ahead < free:
        view.estimated_start_at = datetime.now(UTC)
        return 0
    return (ahead - free) // max_concurrent + 1


async def _estimate_start(driver: asyncpg.Connection, view: JobView, waves: int) -> None:
    """When a job waiting for `waves` runs of its team's slots should start, from recent run times."""
    run_seconds = await driver.fetchval(_RECENT_RUN_SECONDS, view.row.type, RUN_TIME_SAMPLE)
    if run_seconds is not None:
        view.estimated_start_at = datetime.now(UTC) + timedelta(seconds=waves * float(run_seconds))


def training_message(training_input: dict[str, Any]) -> generation_pb2.ModelTrainingInput:
    return generation_pb2.ModelTrainingInput(**training_input)


# The one terminal transition of a queued or running job, in one statement: lock the job's row if
# it is still unfinished (a webhook, a poll and a redelivered message racing for it wait here, and
# all but the first find it finished), then its row, its transition, its team's freed slot (or
# place in the queue), its JobFinished event and its images. Each part reads `finished`, so it
# happens only if the transition did, and the job's row is locked before its team's schedule row,
# as every other path that holds both locks them (dispatch skips locked jobs).
_FINISH = f"""
WITH old AS (
    SELECT id, status FROM generation.job
    WHERE id = $1 AND status IN ('queued', 'running')
    FOR UPDATE
), finished AS (
    UPDATE generation.job SET status = $2, charged_credits_hundredths = $3,
        refunded_credits_hundredths = estimated_credits_hundredths - $3, finished_at = now(),
        progress = coalesce($4, progress), output = coalesce($5, output),
        error_code = coalesce($6, error_code), error_message = coalesce($7, error_message)
    FROM old WHERE job.id = old.id
    RETURNING job.*, old.status AS left_status
), transition AS (
    INSERT INTO generation.job_transition (job_id, from_status, to_status, reason)
    SELECT id, left_status, status, $8 FROM finished
), freed AS (
    UPDATE generation.team_schedule
    SET running = running - (left_status = 'running')::int, queued = queued - (left_status = 'queued')::int
    FROM finished WHERE team_schedule.team_id = finished.team_id
), finished_event AS (
    INSERT INTO generation.outbox ({outbox.EVENT_COLUMNS})
    SELECT $9, $10, $11::bytea, $12, $13 FROM finished
), images AS (
    INSERT INTO generation.job_image (job_id, position, file_id, width, height, content_type, nsfw)
    SELECT finished.id, image.position - 1, image.file_id, image.width, image.height,
        image.content_type, image.nsfw
    FROM finished, unnest($14::text[], $15::int[], $16::int[], $17::text[], $18::bool[])
        WITH ORDINALITY AS image (file_id, width, height, content_type, nsfw, position)
)
SELECT * FROM finished
"""


@dataclass(frozen=True)
class FinishedImage:
    """An image a completion stores with the job, as job_image holds it."""

    file_id: str
    width: int
    height: int
    content_type: str
    nsfw: bool


async def _finish(
    gen: Generation,
    row: JobRow,
    to_status: JobStatus,
    reason: str,
    *,
    charge: int,
    progress: float | None = None,
    output: dict[str, str] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    images: Sequence[FinishedImage] = (),
) -> JobView | None:
    """The one terminal transition of a running or queued job, with its settlement event: the
    finished job, or None when it had finished already."""
    job_type = JobType(row.type)
    event = events_pb2.JobFinished(
        job_id=row.id,
        team_id=row.team_id,
        status=_STATUS_TO_WIRE[to_status],
        charge_hundredths=charge,
        type=TYPE_TO_WIRE[job_type],
        model_training=training_message(row.input) if job_type.is_training else None,
        training_output=generation_pb2.TrainingOutput(**output) if output else None,
        error=generation_pb2.JobError(code=error_code, message=error_message or "") if error_code else None,
    )
    async with db.connection(gen.engine) as driver:
        finished = await driver.fetchrow(
            _FINISH,
            row.id,
            to_status.value,
            charge,
            progress,
            None if output is None else json.dumps(output),
            error_code,
            error_message,
            reason,
            *outbox.event_row(JOB_FINISHED_SUBJECT, event, request_id_var.get()),
            [image.file_id for image in images],
            [image.width for image in images],
            [image.height for image in images],
            [image.content_type for image in images],
            [image.nsfw for image in images],
        )
    if finished is None:
        return None
    outbox.rows_committed(gen.engine)
    stored = [
        db.Record({"job_id": row.id, "position": position, **asdict(image)})
        for position, image in enumerate(images)
    ]
    return JobView(db.Record(finished), stored)


@dataclass(frozen=True)
class NewJob:
    """A priced job, ready to reserve and queue."""

    type: JobType
    input: dict[str, Any]
    provider_endpoint: str
    provider_input: dict[str, Any]
    # Stored files signed into provider_input at submit time, by dotted path.
    provider_files: dict[str, str]
    quote: Quote
    # Orders the team's own queued jobs: higher starts first.
    priority: int = 0


async def price_image_job(
    gen: Generation, team_id: str, request: ImageGenerationRequest, *, require_prompt: bool = True
) -> NewJob:
    """The binding price of an image generation, as creating its job would reserve it.

    With a custom model, its pinned (or current) version must be ready: the job records the
    resolved version and the reference model it was trained from."""
    request.validate(require_prompt=require_prompt)
    lora: LoraWeights | None = None
    if request.custom_model_id:
        resolved = await gen.peers.resolve_model_version(
            team_id, request.custom_model_id, request.model_version
        )
        model = resolved.reference_model
        request = replace(request, reference_model_id=model.id, model_version=resolved.version)
        lora = resolved.lora
    else:
        model = await gen.peers.reference_model(request.reference_model_id)
    quote = await gen.peers.quote_image_generation(
        request.resolution, request.quality, model.complexity_hundredths, request.num_images
    )
    return NewJob(
        type=JobType.IMAGE_GENERATION,
        input=asdict(request),
        provider_endpoint=model.provider_endpoint,
        provider_input=request.provider_input(model.default_parameters, lora),
        provider_files={LORA_PATH: lora.weights_file_id} if lora else {},
        quote=quote,
    )


async def quote_model_creation(gen: Generation, reference_model_id: int, num_training_images: int) -> Quote:
    model = await gen.peers.reference_model(reference_model_id)
    return await gen.peers.quote_model_creation(model.complexity_hundredths, num_training_images)


async def quote_model_refinement(gen: Generation, team_id: str, custom_model_id: int) -> Quote:
    """The price of the custom model's next version, as refining it now would reserve it."""
    refinement = await gen.peers.next_refinement(team_id, custom_model_id)
    return await gen.peers.quote_model_refinement(refinement.complexity_hundredths, refinement.iteration)


_JOB_BY_KEY = "SELECT id FROM generation.job WHERE team_id = $1 AND idempotency_key = $2"


async def _job_by_idempotency_key(engine: AsyncEngine, team_id: str, key: str | None) -> JobView | None:
    """The job a request with this key already created; None without a key or before the first."""
    if not key:
        return None
    async with db.connection(engine) as driver:
        job_id = await driver.fetchval(_JOB_BY_KEY, team_id, key)
        return None if job_id is None else await _load(driver, job_id)


def _check_priority(priority: int) -> None:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidArgument(
            "invalid_request",
            "the request has invalid fields",
            {"priority": f"between {MIN_PRIORITY} and {MAX_PRIORITY}"},
        )


async def create_image_job(
    gen: Generation,
    team_id: str,
    request: ImageGenerationRequest,
    idempotency_key: str | None = None,
    priority: int = 0,
    key_spend: KeySpend | None = None,
) -> JobView:
    """Quote, reserve and queue; with an idempotency key a retry returns the first job, charging once."""
    if (first := await _job_by_idempotency_key(gen.engine, team_id, idempotency_key)) is not None:
        return first
    _check_priority(priority)
    new_job = replace(await price_image_job(gen, team_id, request), priority=priority)
    return await _queue_job(gen, team_id, new_job, idempotency_key, key_spend)


async def create_training_job(
    gen: Generation,
    team_id: str,
    request: ModelTrainingRequest,
    *,
    complexity_hundredths: int,
    training_endpoint: str,
    starting_weights_parameter: str,
    idempotency_key: str | None,
    priority: int = 0,
    key_spend: KeySpend | None = None,
) -> JobView:
    """Quote (creation or refinement formula), reserve and queue the training of a model version."""
    if (first := await _job_by_idempotency_key(gen.engine, team_id, idempotency_key)) is not None:
        return first
    request.validate()
    _check_priority(priority)
    if not training_endpoint:
        raise InvalidArgument("invalid_request", "the training endpoint is required")
    if request.job_type is JobType.MODEL_CREATION:
        quote = await gen.peers.quote_model_creation(complexity_hundredths, request.num_training_images)
    else:
        quote = await gen.peers.quote_model_refinement(complexity_hundredths, request.iteration)
    provider_input, provider_files = request.provider_input(starting_weights_parameter)
    new_job = NewJob(
        type=request.job_type,
        input=asdict(request),
        provider_endpoint=training_endpoint,
        provider_input=provider_input,
        provider_files=provider_files,
        quote=quote,
        priority=priority,
    )
    return await _queue_job(gen, team_id, new_job, idempotency_key, key_spend)


async def _queue_job(
    gen: Generation,
    team_id: str,
    new_job: NewJob,
    idempotency_key: str | None,
    key_spend: KeySpend | None,
) -> JobView:
    """Reserve the quote (keyed by the new job's id), then commit the job with its JobQueued event.

    A key's spend cap is checked under a lock on the key held until the job is written, so
    concurrent requests of one key cannot pass the cap together."""
    job_id = str(uuid.uuid4())
    job_id_var.set(job_id)
    reserved = False
    try:
        if key_spend is not None and key_spend.monthly_cap_hundredths is not None:
            async with db.transaction(gen.engine) as driver:
                await _check_spend_cap(driver, key_spend, new_job.quote.amount_hundredths)
                limits = await gen.peers.reserve(team_id, new_job.quote.amount_hundredths, job_id)
                reserved = True
                created = await _insert_job(
                    driver, job_id, team_id, new_job, idempotency_key, key_spend, limits
                )
        else:
            limits = await gen.peers.reserve(team_id, new_job.quote.amount_hundredths, job_id)
            reserved = True
            async with db.connection(gen.engine) as driver:
                created = await _insert_job(
                    driver, job_id, team_id, new_job, idempotency_key, key_spend, limits
                )
    except asyncpg.IntegrityConstraintViolationError:
        # A concurrent request with the same idempotency key won: return its job, not a second one.
        await gen.peers.release(job_id)
        winner = await _job_by_idempotency_key(gen.engine, team_id, idempotency_key)
        if winner is None:
            raise
        return winner
    except BaseException:
        # The job was never recorded, so nothing will settle its reservation: give it back now.
        if reserved:
            await gen.peers.release(job_id)
        raise
    outbox.rows_committed(gen.engine)
    view = JobView(db.Record(created))
    if waves := _place_in_queue(
        view, created["ahead"], created["team_max_concurrent"], created["team_running"]
    ):
        async with db.connection(gen.engine) as driver:
            await _estimate_start(driver, view, waves)
    return view


# A job's creation in one statement: its row, its first transition, its team's schedule row (with
# the plan's limits as the reservation answered them), its JobQueued event, and its place in the
# queue. The other parts read `created`, so the job's row (and its idempotency key's uniqueness) is
# written before the team's schedule row is locked: a request racing with the same key waits on the
# key, never holding the schedule row the first one needs.
_CREATE_JOB = f"""
WITH created AS (
    INSERT INTO generation.job (id, team_id, type, status, input, provider_endpoint, provider_input,
        provider_files, estimated_credits_hundredths, pricing_version, charged_credits_hundredths,
        refunded_credits_hundredths, attempts, progress, idempotency_key, priority, traceparent,
        request_id, api_key_id)
    VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, 0, 0, 0, 0, $10, $11, $12, $13, $14)
    RETURNING *
), transition AS (
    INSERT INTO generation.job_transition (job_id, to_status, reason)
    SELECT id, 'queued', 'created' FROM created
), schedule AS (
    INSERT INTO generation.team_schedule AS s
        (team_id, queued, running, plan_rank, max_concurrent, limits_checked_at)
    SELECT team_id, 1, 0, $15, $16, now() FROM created
    ON CONFLICT (team_id) DO UPDATE SET queued = s.queued + 1, plan_rank = excluded.plan_rank,
        max_concurrent = excluded.max_concurrent, limits_checked_at = excluded.limits_checked_at
    RETURNING s.max_concurrent, s.running
), queued_event AS (
    INSERT INTO generation.outbox ({outbox.EVENT_COLUMNS})
    SELECT $17, $18, $19::bytea, $20, $21 FROM created
)
SELECT created.*, schedule.max_concurrent AS team_max_concurrent, schedule.running AS team_running,
    {_AHEAD.format(job="created")} AS ahead
FROM created, schedule
"""


async def _insert_job(
    driver: asyncpg.Connection,
    job_id: str,
    team_id: str,
    new_job: NewJob,
    idempotency_key: str | None,
    key_spend: KeySpend | None,
    limits: PlanLimits,
) -> asyncpg.Record:
    event = events_pb2.JobQueued(job_id=job_id, team_id=team_id, type=TYPE_TO_WIRE[new_job.type])
    return await driver.fetchrow(
        _CREATE_JOB,
        job_id,
        team_id,
        new_job.type.value,
        json.dumps(new_job.input),
        new_job.provider_endpoint,
        json.dumps(new_job.provider_input),
        json.dumps(new_job.provider_files),
        new_job.quote.amount_hundredths,
        new_job.quote.pricing_version,
        idempotency_key or None,
        new_job.priority,
        tracing.current_traceparent(),
        request_id_var.get(),
        key_spend.api_key_id if key_spend else None,
        limits.rank,
        limits.max_concurrent,
        *outbox.event_row(JOB_QUEUED_SUBJECT, event, request_id_var.get()),
    )


# What a job counts against its key's cap this (UTC) month: its charge once finished, its quote
# until then.
_KEY_SPEND = (
    "SELECT coalesce(sum(CASE WHEN status IN ({terminal}) THEN charged_credits_hundredths"
    " ELSE estimated_credits_hundredths END), 0) FROM generation.job WHERE api_key_id = $1"
    " AND created_at >= timezone('UTC', date_trunc('month', timezone('UTC', now())))"
).format(terminal=", ".join(f"'{status.value}'" for status in JobStatus if status.is_terminal))


async def _check_spend_cap(driver: asyncpg.Connection, key_spend: KeySpend, quote_hundredths: int) -> None:
    """Refuse the job if it would take the key's spend this (UTC) month past its cap."""
    # The lock and the sum are two statements: the sum must see what committed while it waited.
    await driver.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "key-spend:" + key_spend.api_key_id)
    spent = int(await driver.fetchval(_KEY_SPEND, key_spend.api_key_id))
    cap = key_spend.monthly_cap_hundredths
    if spent + quote_hundredths > cap:
        raise FailedPrecondition(
            "spend_cap_reached",
            f"this API key's monthly spend cap of {cap / 100:.2f} credits would be passed",
            {
                "monthlySpendCap": f"{cap / 100:.2f}",
                "spentThisMonth": f"{spent / 100:.2f}",
                "quote": f"{quote_hundredths / 100:.2f}",
            },
        )


@dataclass(frozen=True)
class KeyUsageRow:
    api_key_id: str
    day: str
    reference_model_id: int
    custom_model_id: int
    jobs: int
    charged_hundredths: int
    reserved_hundredths: int


async def key_usage(
    engine: AsyncEngine, team_id: str, api_key_id: str | None, since: datetime, until: datetime
) -> list[KeyUsageRow]:
    """The team's jobs made with API keys, summed by key, UTC day and model; newest day first."""
    day = func.to_char(func.timezone("UTC", job.c.created_at), "YYYY-MM-DD").label("day")
    reference = job.c.input["reference_model_id"].astext.cast(BigInteger).label("reference_model_id")
    custom = func.coalesce(job.c.input["custom_model_id"].astext.cast(BigInteger), 0).label("custom_model_id")
    unfinished = job.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
    query = (
        select(
            job.c.api_key_id,
            day,
            reference,
            custom,
            func.count().label("jobs"),
            func.sum(job.c.charged_credits_hundredths).label("charged"),
            func.sum(case((unfinished, job.c.estimated_credits_hundredths), else_=0)).label("reserved"),
        )
        .where(
            job.c.team_id == team_id,
            job.c.api_key_id.is_not(None),
            job.c.created_at >= since,
            job.c.created_at < until,
        )
        .group_by(job.c.api_key_id, day, reference, custom)
        .order_by(day.desc(), job.c.api_key_id, reference, custom)
    )
    if api_key_id:
        query = query.where(job.c.api_key_id == api_key_id)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    # SUM over bigint is numeric in Postgres: back to whole hundredths.
    return [
        KeyUsageRow(key, day, reference, custom, jobs, int(charged), int(reserved))
        for key, day, reference, custom, jobs, charged, reserved in rows
    ]


async def is_queued(engine: AsyncEngine, job_id: str) -> bool:
    async with db.connection(engine) as driver:
        status = await driver.fetchval("SELECT status FROM generation.job WHERE id = $1", job_id)
    return status == JobStatus.QUEUED.value


async def get_job(engine: AsyncEngine, team_id: str, job_id: str) -> JobView:
    async with db.connection(engine) as driver:
        return await _load(driver, job_id, team_id)


MIN_PRIORITY, MAX_PRIORITY = -10, 10
# A team's plan is read from credits again when its schedule row's copy is older than this.
PLAN_LIMITS_MAX_AGE = timedelta(seconds=10)

# The team to serve next and its next job, both locked, the team's row first: teams whose row
# another dispatcher holds are skipped (SKIP LOCKED), and so are jobs a cancel holds.
_CLAIM_NEXT = """
WITH team AS (
    SELECT team_id, running, limits_checked_at < now() - $1::interval AS limits_stale
    FROM generation.team_schedule
    WHERE queued > 0 AND (running < max_concurrent OR limits_checked_at < now() - $1::interval)
    ORDER BY plan_rank DESC, last_started_at ASC NULLS FIRST, team_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
SELECT team.team_id, team.running, team.limits_stale, next.id AS job_id, next.type, next.input
FROM team LEFT JOIN LATERAL (
    SELECT id, type, input FROM generation.job
    WHERE job.team_id = team.team_id AND job.status = 'queued'
    ORDER BY priority DESC, created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
) next ON true
"""
_UPDATE_LIMITS = (
    "UPDATE generation.team_schedule SET plan_rank = $2, max_concurrent = $3, limits_checked_at = now()"
    " WHERE team_id = $1"
)
# The count was off (a job locked by a cancel right now, or drift): take it from the jobs.
_RECOUNT_QUEUED = (
    "UPDATE generation.team_schedule SET queued = (SELECT count(*) FROM generation.job"
    " WHERE team_id = $1 AND status = 'queued') WHERE team_id = $1"
)
# The claimed job's start in one statement: its row, its transition, its team's counters and its
# JobStarted event, each only if the job was still queued.
_START = f"""
WITH started AS (
    UPDATE generation.job
    SET status = 'running', started_at = now(), claimed_at = now(), attempts = attempts + 1
    WHERE id = $1 AND status = 'queued'
    RETURNING *
), transition AS (
    INSERT INTO generation.job_transition (job_id, from_status, to_status, reason)
    SELECT id, 'queued', 'running', 'dispatched to a worker' FROM started
), slot AS (
    UPDATE generation.team_schedule
    SET queued = queued - 1, running = running + 1, last_started_at = now()
    FROM started WHERE team_schedule.team_id = started.team_id
), started_event AS (
    INSERT INTO generation.outbox ({outbox.EVENT_COLUMNS})
    SELECT $2, $3, $4::bytea, $5, $6 FROM started
)
SELECT * FROM started
"""


async def dispatch_next(gen: Generation) -> JobRow | None:
    """Start the next job that may run, and return it claimed (to submit), or None when none may.

    Order: plan tier (enterprise first), then the team served longest ago, then the job's own
    priority and age within its team. Locking the team's schedule row (SKIP LOCKED, so other
    dispatchers take other teams meanwhile) makes the running count exact across every worker: a
    team never runs more jobs than its plan allows, and waiting jobs cost nothing until a slot frees.
    One transaction of two statements (claim, start) in the usual case.
    """
    while True:
        async with db.transaction(gen.engine) as driver:
            claimed = await driver.fetchrow(_CLAIM_NEXT, PLAN_LIMITS_MAX_AGE)
            if claimed is None:
                return None
            team_id = claimed["team_id"]
            if claimed["limits_stale"]:
                limits = await gen.peers.plan_limits(team_id)
                await driver.execute(_UPDATE_LIMITS, team_id, limits.rank, limits.max_concurrent)
                if claimed["running"] >= limits.max_concurrent:
                    continue
            if claimed["job_id"] is None:
                await driver.execute(_RECOUNT_QUEUED, team_id)
                continue
            job_type = JobType(claimed["type"])
            event = events_pb2.JobStarted(
                job_id=claimed["job_id"],
                team_id=team_id,
                type=TYPE_TO_WIRE[job_type],
                model_training=training_message(claimed["input"]) if job_type.is_training else None,
            )
            started = await driver.fetchrow(
                _START, claimed["job_id"], *outbox.event_row(JOB_STARTED_SUBJECT, event, request_id_var.get())
            )
        outbox.rows_committed(gen.engine)
        return db.Record(started)


async def dispatch_once(gen: Generation) -> str | None:
    """Start and submit the next job that may run; its id, or None when none may run now."""
    row = await dispatch_next(gen)
    if row is None:
        return None
    await submit_started(gen, row)
    return row.id


async def submit_started(gen: Generation, row: JobRow) -> None:
    """Submit a job dispatch_next started, in the trace of the request that created it."""
    job_id_var.set(row.id)
    request_id_var.set(row.request_id)
    with _in_job_trace(row.traceparent, "job dispatch"):
        await _submit(gen, row)


_BACK_OFF_SUBMIT = (
    "UPDATE generation.job SET claimed_at = NULL, next_attempt_at = now() + $2::interval"
    " WHERE id = $1 AND status = 'running' AND provider_request_id IS NULL"
)
# The request is stored whatever becomes of the job, in the same statement (one round trip).
_RECORD_REQUEST = """
WITH stored AS (
    INSERT INTO generation.provider_request (id, job_id, attempt) VALUES ($1, $2, $3)
)
UPDATE generation.job SET provider_request_id = $1, provider_checked_at = now()
WHERE id = $2 AND status = 'running' AND provider_request_id IS NULL
RETURNING id
"""


async def _submit(gen: Generation, row: JobRow) -> None:
    """Hand a claimed job to the provider and record its request id; a transient failure hands the
    claim back with a back-off after which the provider loop submits it again."""
    try:
        arguments = await _provider_arguments(gen, row)
        request_id = await gen.provider.submit(row.provider_endpoint, arguments, gen.webhook_url)
    except ProviderError as error:
        if error.retryable and row.attempts < gen.provider_max_attempts:
            log.warning("provider submit failed; retrying", extra={"jobId": row.id, "error": str(error)})
            async with db.connection(gen.engine) as driver:
                await driver.execute(_BACK_OFF_SUBMIT, row.id, timedelta(seconds=_backoff(row.attempts)))
            return
        await _finish(
            gen,
            row,
            JobStatus.FAILED,
            "provider refused the request",
            charge=0,
            error_code=error.code,
            error_message=str(error),
        )
        return

    async with db.connection(gen.engine) as driver:
        recorded = await driver.fetchval(_RECORD_REQUEST, request_id, row.id, row.attempts)
    if recorded is None:
        # The job was cancelled while it was being submitted: stop the provider's work too.
        await _cancel_at_provider(gen, row.provider_endpoint, request_id)
        return
    log.info("job submitted to provider", extra={"jobId": row.id, "providerRequestId": request_id})


async def _provider_arguments(gen: Generation, row: Row) -> dict[str, Any]:
    """The job's provider input with fresh signed URLs of the stored files it reads."""
    if not row.provider_files:
        return row.provider_input
    try:
        urls = await gen.peers.sign_files(row.team_id, sorted(set(row.provider_files.values())))
    except DomainError as gone:
        raise ProviderError(gone.message, retryable=False, code=gone.reason) from gone
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise ProviderError(
                "a file the job needs no longer exists", retryable=False, code="file_unavailable"
            ) from error
        raise ProviderError(
            f"storage could not sign the job's files: {error.details()}", retryable=True
        ) from error
    signed = {path: urls[file_id] for path, file_id in row.provider_files.items()}
    return with_signed_files(row.provider_input, signed)


def _backoff(attempts: int) -> float:
    """Exponential back-off with jitter for the next provider attempt."""
    return min(60.0, 2.0**attempts) * random.uniform(0.5, 1.0)


async def _cancel_at_provider(gen: Generation, endpoint: str, request_id: str) -> None:
    try:
        await gen.provider.cancel(endpoint, request_id)
    except ProviderError as error:
        # Our side is settled either way; the provider's late result for it is ignored.
        log.warning("provider cancel failed", extra={"providerRequestId": request_id, "error": str(error)})


# The job a provider request belongs to, with its team's plan as the scheduler last read it.
_JOB_OF_REQUEST = """
SELECT job.*, team_schedule.plan_rank FROM generation.job
JOIN generation.provider_request ON provider_request.job_id = job.id
JOIN generation.team_schedule ON team_schedule.team_id = job.team_id
WHERE provider_request.id = $1
"""


async def complete_provider_request(
    gen: Generation, provider_request_id: str, ok: bool, payload_json: bytes, error: str
) -> JobView:
    """Record a provider's verified terminal report once; repeats return the finished job."""
    async with db.connection(gen.engine) as driver:
        # The team's plan as the scheduler last read it from credits (at the job's creation, and
        # again at its dispatch when older than PLAN_LIMITS_MAX_AGE) sets its images' retention.
        record = await driver.fetchrow(_JOB_OF_REQUEST, provider_request_id)
        if record is None:
            # The webhook can beat the worker's write of the request id; the provider retries.
            raise NotFound("provider_request_not_found", f"no job has provider request {provider_request_id}")
        row = db.Record(record)
        job_id_var.set(row.id)
        # A finished job, or a report about an attempt that was since superseded, changes nothing.
        if JobStatus(row.status).is_terminal or row.provider_request_id != provider_request_id:
            return await _load(driver, row.id)

    try:
        payload = json.loads(payload_json) if payload_json else None
    except json.JSONDecodeError:
        payload = None

    if ok and JobType(row.type).is_training:
        return await _complete_training(gen, row, payload)
    if ok:
        try:
            sources = provider_images(payload)
        except ValueError as invalid:
            return await _fail(gen, row, "invalid_provider_output", str(invalid))
        plan = PLAN_NAMES[row.plan_rank]
        stored = [
            await gen.peers.import_image(row.team_id, plan, row.id, position, source.url)
            for position, source in enumerate(sources)
        ]
        images = [
            FinishedImage(image.file_id, image.width, image.height, image.content_type, source.nsfw)
            for image, source in zip(stored, sources, strict=True)
        ]
        return await _finished_or_loaded(
            gen,
            row,
            await _finish(
                gen,
                row,
                JobStatus.COMPLETED,
                "provider succeeded",
                charge=charge_for(row.estimated_credits_hundredths, sources),
                progress=1.0,
                images=images,
            ),
        )

    message = provider_error_message(error, payload)
    error_type = payload.get("error_type") if isinstance(payload, dict) else None
    if is_retryable_failure(error, error_type) and row.attempts < gen.provider_max_attempts:
        return await _schedule_retry(gen, row, provider_request_id, message)
    return await _fail(gen, row, "provider_error", message)


async def _finished_or_loaded(gen: Generation, row: JobRow, finished: JobView | None) -> JobView:
    """The job this call finished, or as another report (or a cancel) left it."""
    if finished is not None:
        return finished
    async with db.connection(gen.engine) as driver:
        return await _load(driver, row.id)


async def _complete_training(gen: Generation, row: JobRow, payload: Any) -> JobView:
    """Copy the trained weights (and config) into our bucket, then complete the job with them:
    a provider's URL is never the only copy of what a team paid for."""
    try:
        trained = provider_training_files(payload)
    except ValueError as invalid:
        return await _fail(gen, row, "invalid_provider_output", str(invalid))
    owner = row.input["files_owner_id"]
    output = {
        "weights_file_id": await gen.peers.import_file(
            row.team_id, storage_pb2.FILE_KIND_LORA_WEIGHTS, owner, trained.weights_url, f"{row.id}/weights"
        )
    }
    if trained.config_url:
        output["config_file_id"] = await gen.peers.import_file(
            row.team_id, storage_pb2.FILE_KIND_MODEL_CONFIG, owner, trained.config_url, f"{row.id}/config"
        )
    finished = await _finish(
        gen,
        row,
        JobStatus.COMPLETED,
        "provider succeeded",
        charge=row.estimated_credits_hundredths,
        progress=1.0,
        output=output,
    )
    return await _finished_or_loaded(gen, row, finished)


# Submit again later; conditional on the failed request, so a repeated report schedules once.
_SCHEDULE_RETRY = """
WITH scheduled AS (
    UPDATE generation.job SET provider_request_id = NULL, next_attempt_at = now() + $3::interval
    WHERE id = $1 AND status = 'running' AND provider_request_id = $2
    RETURNING *
), transition AS (
    INSERT INTO generation.job_transition (job_id, from_status, to_status, reason)
    SELECT id, 'running', 'running', $4 FROM scheduled
)
SELECT * FROM scheduled
"""


async def _schedule_retry(gen: Generation, row: JobRow, provider_request_id: str, message: str) -> JobView:
    """Submit again later; conditional on the failed request, so a repeated report schedules once."""
    async with db.connection(gen.engine) as driver:
        scheduled = await driver.fetchrow(
            _SCHEDULE_RETRY,
            row.id,
            provider_request_id,
            timedelta(seconds=_backoff(row.attempts)),
            f"retrying after a transient provider failure: {message}"[:500],
        )
        return JobView(db.Record(scheduled)) if scheduled is not None else await _load(driver, row.id)


async def _fail(gen: Generation, row: JobRow, code: str, message: str) -> JobView:
    finished = await _finish(
        gen,
        row,
        JobStatus.FAILED,
        "provider failed",
        charge=0,
        error_code=code,
        error_message=message,
    )
    return await _finished_or_loaded(gen, row, finished)


async def _claim_running(gen: Generation, condition, batch_size: int, returning, **values) -> list[Row]:
    """Claim up to `batch_size` running jobs matching `condition` by updating them with `values`;
    SKIP LOCKED lets several workers share the work without taking the same job. One statement,
    atomic on its own: no BEGIN and COMMIT round trips."""
    async with gen.autocommit.connect() as connection:
        return (
            await connection.execute(
                update(job)
                .where(
                    job.c.id.in_(
                        select(job.c.id)
                        .where(job.c.status == JobStatus.RUNNING.value, condition)
                        .limit(batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .values(**values)
                .returning(*returning)
            )
        ).all()


async def resubmit_due(gen: Generation, batch_size: int = 20) -> int:
    """Submit again the running jobs without a provider request: those whose transient failure has
    waited out its back-off, and those claimed so long ago that their worker must have died."""
    due = await _claim_running(
        gen,
        and_(
            job.c.provider_request_id.is_(None),
            or_(
                job.c.next_attempt_at <= func.now(),
                and_(job.c.next_attempt_at.is_(None), job.c.claimed_at < func.now() - gen.claim_timeout),
            ),
        ),
        batch_size,
        [job],
        next_attempt_at=None,
        attempts=job.c.attempts + 1,
        claimed_at=func.now(),
    )
    for row in due:
        with _in_job_trace(row.traceparent, "provider resubmit"):
            await _submit(gen, row)
    return len(due)


async def poll_provider(gen: Generation, stale_after: timedelta, batch_size: int = 20) -> int:
    """Ask the provider about running jobs whose webhook is late, and record what has finished.

    The same conditional transitions as the webhook apply, so a poll and a webhook racing for one
    job finish it once.
    """
    stale = await _claim_running(
        gen,
        and_(
            job.c.provider_request_id.is_not(None),
            func.coalesce(job.c.provider_checked_at, job.c.started_at) < func.now() - stale_after,
        ),
        batch_size,
        [job.c.id, job.c.provider_endpoint, job.c.provider_request_id, job.c.traceparent],
        provider_checked_at=func.now(),
    )
    finished = 0
    for job_id, endpoint, request_id, traceparent in stale:
        with _in_job_trace(traceparent, "provider poll"):
            try:
                outcome = await gen.provider.outcome(endpoint, request_id)
            except ProviderError as error:
                log.warning("provider status poll failed", extra={"jobId": job_id, "error": str(error)})
                continue
            if isinstance(outcome, ProviderRunning):
                await _record_progress(gen, job_id, request_id, outcome.progress)
                continue
            await complete_provider_request(
                gen, request_id, outcome.ok, json.dumps(outcome.payload).encode(), outcome.error
            )
            finished += 1
    return finished


async def _record_progress(gen: Generation, job_id: str, request_id: str, progress: float | None) -> None:
    """Progress only moves forward, and only for the attempt that reported it."""
    if progress is None:
        return
    async with gen.autocommit.connect() as connection:
        await connection.execute(
            update(job)
            .where(
                job.c.id == job_id,
                job.c.status == JobStatus.RUNNING.value,
                job.c.provider_request_id == request_id,
                job.c.progress < progress,
            )
            .values(progress=progress)
        )


def _in_job_trace(traceparent: str | None, name: str):
    """A span that continues the trace of the request that created the job."""
    return tracing.tracer.start_as_current_span(name, context=tracing.context_from_traceparent(traceparent))


async def cancel_job(gen: Generation, team_id: str, job_id: str) -> JobView:
    """Cancel a queued or running job and release its credits; cancelling again returns the same job."""
    async with db.connection(gen.engine) as driver:
        record = await driver.fetchrow(_GET_TEAM_JOB, job_id, team_id)
    if record is None:
        raise NotFound("job_not_found", f"job {job_id} does not exist")
    row = db.Record(record)
    status = JobStatus(row.status)
    if status is JobStatus.CANCELLED:
        return JobView(row)  # a cancelled job has no images and no place in the queue
    if status.is_terminal:
        raise FailedPrecondition("job_finished", f"the job has already {status.value}")
    finished = await _finish(gen, row, JobStatus.CANCELLED, "cancelled by the team", charge=0)
    cancelled = await _finished_or_loaded(gen, row, finished)
    if cancelled.row.status == JobStatus.CANCELLED.value and cancelled.row.provider_request_id:
        await _cancel_at_provider(gen, cancelled.row.provider_endpoint, cancelled.row.provider_request_id)
    return cancelled


@dataclass(frozen=True)
class JobFilter:
    statuses: list[JobStatus]
    types: list[JobType]
    reference_model_id: int | None
    custom_model_id: int | None
    created_after: datetime | None
    created_before: datetime | None


def encode_cursor(row: Row) -> str:
    return f"{row.created_at.isoformat()}|{row.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    created_at, _, job_id = cursor.partition("|")
    try:
        return datetime.fromisoformat(created_at), job_id
    except ValueError:
        raise InvalidArgument("invalid_cursor", "the cursor is not one this API handed out") from None


async def list_jobs(
    engine: AsyncEngine, team_id: str, filters: JobFilter, page_size: int, cursor: str | None
) -> tuple[list[JobView], str | None]:
    """A team's jobs, newest first, and the cursor of the next page (None on the last)."""
    query = select(job).where(job.c.team_id == team_id)
    if filters.statuses:
        query = query.where(job.c.status.in_([s.value for s in filters.statuses]))
    if filters.types:
        query = query.where(job.c.type.in_([t.value for t in filters.types]))
    if filters.reference_model_id is not None:
        query = query.where(job.c.input["reference_model_id"].as_integer() == filters.reference_model_id)
    if filters.custom_model_id is not None:
        query = query.where(job.c.input["custom_model_id"].astext == str(filters.custom_model_id))
    if filters.created_after is not None:
        query = query.where(job.c.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(job.c.created_at < filters.created_before)
    if cursor:
        created_at, job_id = _decode_cursor(cursor)
        query = query.where(
            or_(job.c.created_at < created_at, and_(job.c.created_at == created_at, job.c.id < job_id))
        )
    query = query.order_by(job.c.created_at.desc(), job.c.id.desc()).limit(page_size + 1)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
        page = rows[:page_size]
        images = (
            await connection.execute(
                select(job_image)
                .where(job_image.c.job_id.in_([row.id for row in page]))
                .order_by(job_image.c.job_id, job_image.c.position)
            )
        ).all()
    by_job: dict[str, list[Row]] = {}
    for image in images:
        by_job.setdefault(image.job_id, []).append(image)
    views = [JobView(row, by_job.get(row.id, [])) for row in page]
    return views, (encode_cursor(page[-1]) if len(rows) > page_size else None)

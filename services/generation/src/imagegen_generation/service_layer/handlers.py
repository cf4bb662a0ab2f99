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
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import grpc
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen.storage.v1 import storage_pb2
from imagegen_platform import db, tracing
from imagegen_platform.context import job_id_var, request_id_var
from imagegen_platform.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound
from imagegen_platform.events import JOB_FINISHED_SUBJECT, JOB_QUEUED_SUBJECT, JOB_STARTED_SUBJECT
from imagegen_platform.outbox import add_event
from sqlalchemy import BigInteger, and_, case, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imagegen_generation.adapters.peers import PLAN_NAMES, Peers, Quote
from imagegen_generation.adapters.provider import (
    FalProvider,
    ProviderError,
    ProviderRunning,
    is_retryable_failure,
)
from imagegen_generation.adapters.tables import (
    job,
    job_image,
    job_transition,
    outbox,
    provider_request,
    team_schedule,
)
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


@dataclass
class JobView:
    row: Row
    images: list[Row] = field(default_factory=list)
    # The job's place among its team's queued jobs (1 is next), while queued.
    queue_position: int | None = None
    # When the job should start, from its place, the team's free slots and recent run times.
    estimated_start_at: datetime | None = None


# Run times of this many recent completed jobs of a type estimate when a queued job starts.
RUN_TIME_SAMPLE = 20


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
    view = JobView(row, list(images))
    if row.status == JobStatus.QUEUED.value:
        await _place_in_queue(connection, view)
    return view


async def _place_in_queue(connection: AsyncConnection, view: JobView) -> None:
    """The queued job's position in its team's dispatch order, and when it should start."""
    row = view.row
    in_order = tuple_(-job.c.priority, job.c.created_at, job.c.id)
    ahead_of_it = (
        select(func.count())
        .select_from(job)
        .where(
            job.c.team_id == row.team_id,
            job.c.status == JobStatus.QUEUED.value,
            in_order < tuple_(-row.priority, row.created_at, row.id),
        )
        .scalar_subquery()
    )
    # One round trip for the place and the team's slots (no schedule row: the plan is not known yet).
    team = team_schedule.c.team_id == row.team_id
    ahead, max_concurrent, running = (
        await connection.execute(
            select(
                ahead_of_it,
                select(team_schedule.c.max_concurrent).where(team).scalar_subquery(),
                select(team_schedule.c.running).where(team).scalar_subquery(),
            )
        )
    ).one()
    view.queue_position = ahead + 1
    if max_concurrent is None or max_concurrent <= 0:
        return  # the plan runs nothing (or is not known yet): no honest estimate
    free = max(0, max_concurrent - running)
    waves = 0 if ahead < free else (ahead - free) // max_concurrent + 1
    if waves == 0:
        view.estimated_start_at = datetime.now(UTC)
        return
    recent = (
        select(
            (func.extract("epoch", job.c.finished_at) - func.extract("epoch", job.c.started_at)).label(
                "seconds"
            )
        )
        .where(job.c.type == row.type, job.c.status == JobStatus.COMPLETED.value)
        .order_by(job.c.finished_at.desc())
        .limit(RUN_TIME_SAMPLE)
        .subquery()
    )
    run_seconds = await connection.scalar(select(func.avg(recent.c.seconds)))
    if run_seconds is not None:
        view.estimated_start_at = datetime.now(UTC) + timedelta(seconds=waves * float(run_seconds))


def training_message(training_input: dict[str, Any]) -> generation_pb2.ModelTrainingInput:
    return generation_pb2.ModelTrainingInput(**training_input)


async def _transition(
    connection: AsyncConnection,
    job_id: str,
    from_statuses: tuple[JobStatus, ...],
    to_status: JobStatus,
    reason: str,
    *,
    locked_in: JobStatus | None = None,
    **values: Any,
) -> tuple[Row, JobStatus] | tuple[None, None]:
    """Move a job between states only if it is in one of `from_statuses`: the changed row and the
    status it left, or (None, None) when it was in none of them. `locked_in`: the caller has locked
    the job's row already and read its status."""
    current = (
        locked_in.value
        if locked_in is not None
        else (
            await connection.execute(select(job.c.status).where(job.c.id == job_id).with_for_update())
        ).scalar_one_or_none()
    )
    if current is None or JobStatus(current) not in from_statuses:
        return None, None
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
    return changed, JobStatus(current)


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
    finished, left = await _transition(
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
    # The slot (or the place in the queue) is free for the team's next job.
    counter = team_schedule.c.running if left is JobStatus.RUNNING else team_schedule.c.queued
    await connection.execute(
        update(team_schedule).where(team_schedule.c.team_id == row.team_id).values({counter: counter - 1})
    )
    job_type = JobType(row.type)
    event = events_pb2.JobFinished(
        job_id=row.id,
        team_id=row.team_id,
        status=_STATUS_TO_WIRE[to_status],
        charge_hundredths=charge,
        type=TYPE_TO_WIRE[job_type],
        model_training=training_message(row.input) if job_type.is_training else None,
        training_output=generation_pb2.TrainingOutput(**values["output"]) if values.get("output") else None,
        error=generation_pb2.JobError(code=values["error_code"], message=values.get("error_message") or "")
        if values.get("error_code")
        else None,
    )
    await add_event(connection, outbox, JOB_FINISHED_SUBJECT, event, request_id_var.get())
    return True


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


async def _job_by_idempotency_key(engine: AsyncEngine, team_id: str, key: str | None) -> JobView | None:
    """The job a request with this key already created; None without a key or before the first."""
    if not key:
        return None
    async with engine.connect() as connection:
        job_id = (
            await connection.execute(
                select(job.c.id).where(job.c.team_id == team_id, job.c.idempotency_key == key)
            )
        ).scalar_one_or_none()
        return None if job_id is None else await _load(connection, job_id)


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
        async with gen.engine.begin() as connection:
            if key_spend is not None and key_spend.monthly_cap_hundredths is not None:
                await _check_spend_cap(connection, key_spend, new_job.quote.amount_hundredths)
            limits = await gen.peers.reserve(team_id, new_job.quote.amount_hundredths, job_id)
            reserved = True
            created = await connection.execute(
                insert(job)
                .values(
                    id=job_id,
                    team_id=team_id,
                    type=new_job.type.value,
                    status=JobStatus.QUEUED.value,
                    input=new_job.input,
                    provider_endpoint=new_job.provider_endpoint,
                    provider_input=new_job.provider_input,
                    provider_files=new_job.provider_files,
                    estimated_credits_hundredths=new_job.quote.amount_hundredths,
                    pricing_version=new_job.quote.pricing_version,
                    charged_credits_hundredths=0,
                    refunded_credits_hundredths=0,
                    attempts=0,
                    progress=0.0,
                    idempotency_key=idempotency_key or None,
                    priority=new_job.priority,
                    traceparent=tracing.current_traceparent(),
                    request_id=request_id_var.get(),
                    api_key_id=key_spend.api_key_id if key_spend else None,
                )
                .returning(job)
            )
            view = JobView(created.one())
            await connection.execute(
                insert(job_transition).values(
                    job_id=job_id, to_status=JobStatus.QUEUED.value, reason="created"
                )
            )
            plan = {
                "plan_rank": limits.rank,
                "max_concurrent": limits.max_concurrent,
                "limits_checked_at": func.now(),
            }
            waiting = pg_insert(team_schedule).values(team_id=team_id, queued=1, running=0, **plan)
            await connection.execute(
                waiting.on_conflict_do_update(
                    index_elements=[team_schedule.c.team_id],
                    set_={"queued": team_schedule.c.queued + 1, **plan},
                )
            )
            event = events_pb2.JobQueued(job_id=job_id, team_id=team_id, type=TYPE_TO_WIRE[new_job.type])
            await add_event(connection, outbox, JOB_QUEUED_SUBJECT, event, request_id_var.get())
            await _place_in_queue(connection, view)
            return view
    except IntegrityError:
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


# What a job counts against its key's cap: its charge once finished, its quote until then.
_SPEND = case(
    (
        job.c.status.in_([s.value for s in JobStatus if s.is_terminal]),
        job.c.charged_credits_hundredths,
    ),
    else_=job.c.estimated_credits_hundredths,
)


def _month_start():
    """The start of the current UTC calendar month."""
    return func.timezone("UTC", func.date_trunc("month", func.timezone("UTC", func.now())))


async def _check_spend_cap(connection: AsyncConnection, key_spend: KeySpend, quote_hundredths: int) -> None:
    """Refuse the job if it would take the key's spend this (UTC) month past its cap."""
    await connection.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("key-spend:" + key_spend.api_key_id)))
    )
    spent = await connection.scalar(
        select(func.coalesce(func.sum(_SPEND), 0)).where(
            job.c.api_key_id == key_spend.api_key_id, job.c.created_at >= _month_start()
        )
    )
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
    async with engine.connect() as connection:
        status = await connection.scalar(select(job.c.status).where(job.c.id == job_id))
    return status == JobStatus.QUEUED.value


async def get_job(engine: AsyncEngine, team_id: str, job_id: str) -> JobView:
    async with engine.connect() as connection:
        return await _load(connection, job_id, team_id)


MIN_PRIORITY, MAX_PRIORITY = -10, 10
# A team's plan is read from credits again when its schedule row's copy is older than this.
PLAN_LIMITS_MAX_AGE = timedelta(seconds=10)


async def dispatch_next(gen: Generation) -> Row | None:
    """Start the next job that may run, and return it claimed (to submit), or None when none may.

    Order: plan tier (enterprise first), then the team served longest ago, then the job's own
    priority and age within its team. Locking the team's schedule row (SKIP LOCKED, so other
    dispatchers take other teams meanwhile) makes the running count exact across every worker: a
    team never runs more jobs than its plan allows, and waiting jobs cost nothing until a slot frees.
    """
    while True:
        async with gen.engine.begin() as connection:
            limits_stale = team_schedule.c.limits_checked_at < func.now() - PLAN_LIMITS_MAX_AGE
            team = (
                await connection.execute(
                    select(team_schedule, limits_stale.label("limits_stale"))
                    .where(
                        team_schedule.c.queued > 0,
                        or_(team_schedule.c.running < team_schedule.c.max_concurrent, limits_stale),
                    )
                    .order_by(
                        team_schedule.c.plan_rank.desc(),
                        team_schedule.c.last_started_at.asc().nulls_first(),
                        team_schedule.c.team_id,
                    )
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if team is None:
                return None
            if team.limits_stale:
                limits = await gen.peers.plan_limits(team.team_id)
                await connection.execute(
                    update(team_schedule)
                    .where(team_schedule.c.team_id == team.team_id)
                    .values(
                        plan_rank=limits.rank,
                        max_concurrent=limits.max_concurrent,
                        limits_checked_at=func.now(),
                    )
                )
                if team.running >= limits.max_concurrent:
                    continue
            started = await _start_next_of_team(connection, team.team_id)
            if started is not None:
                return started


async def _start_next_of_team(connection: AsyncConnection, team_id: str) -> Row | None:
    """Claim the team's next queued job (its schedule row is locked by the caller)."""
    job_id = (
        await connection.execute(
            select(job.c.id)
            .where(job.c.team_id == team_id, job.c.status == JobStatus.QUEUED.value)
            .order_by(job.c.priority.desc(), job.c.created_at, job.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if job_id is None:
        # The count was off (a job locked by a cancel right now, or drift): take it from the jobs.
        await connection.execute(
            update(team_schedule)
            .where(team_schedule.c.team_id == team_id)
            .values(
                queued=select(func.count())
                .select_from(job)
                .where(job.c.team_id == team_id, job.c.status == JobStatus.QUEUED.value)
                .scalar_subquery()
            )
        )
        return None
    row, _ = await _transition(
        connection,
        job_id,
        (JobStatus.QUEUED,),
        JobStatus.RUNNING,
        "dispatched to a worker",
        locked_in=JobStatus.QUEUED,
        started_at=func.now(),
        claimed_at=func.now(),
        attempts=job.c.attempts + 1,
    )
    await connection.execute(
        update(team_schedule)
        .where(team_schedule.c.team_id == team_id)
        .values(
            queued=team_schedule.c.queued - 1,
            running=team_schedule.c.running + 1,
            last_started_at=func.now(),
        )
    )
    job_type = JobType(row.type)
    started = events_pb2.JobStarted(
        job_id=row.id,
        team_id=row.team_id,
        type=TYPE_TO_WIRE[job_type],
        model_training=training_message(row.input) if job_type.is_training else None,
    )
    await add_event(connection, outbox, JOB_STARTED_SUBJECT, started, request_id_var.get())
    return row


async def dispatch_once(gen: Generation) -> str | None:
    """Start and submit the next job that may run; its id, or None when none may run now."""
    row = await dispatch_next(gen)
    if row is None:
        return None
    await submit_started(gen, row)
    return row.id


async def submit_started(gen: Generation, row: Row) -> None:
    """Submit a job dispatch_next started, in the trace of the request that created it."""
    job_id_var.set(row.id)
    request_id_var.set(row.request_id)
    with _in_job_trace(row.traceparent, "job dispatch"):
        await _submit(gen, row)


async def _submit(gen: Generation, row: Row) -> None:
    """Hand a claimed job to the provider and record its request id; a transient failure hands the
    claim back with a back-off after which the provider loop submits it again."""
    try:
        arguments = await _provider_arguments(gen, row)
        request_id = await gen.provider.submit(row.provider_endpoint, arguments, gen.webhook_url)
    except ProviderError as error:
        if error.retryable and row.attempts < gen.provider_max_attempts:
            log.warning("provider submit failed; retrying", extra={"jobId": row.id, "error": str(error)})
            async with gen.engine.begin() as connection:
                await connection.execute(
                    update(job)
                    .where(
                        job.c.id == row.id,
                        job.c.status == JobStatus.RUNNING.value,
                        job.c.provider_request_id.is_(None),
                    )
                    .values(
                        claimed_at=None,
                        next_attempt_at=func.now() + timedelta(seconds=_backoff(row.attempts)),
                    )
                )
            return
        async with gen.engine.begin() as connection:
            await _finish(
                connection,
                row,
                JobStatus.FAILED,
                "provider refused the request",
                charge=0,
                error_code=error.code,
                error_message=str(error),
            )
        return

    # The request is stored whatever becomes of the job, in the same statement (one round trip).
    stored = (
        insert(provider_request)
        .values(id=request_id, job_id=row.id, attempt=row.attempts)
        .returning(provider_request.c.id)
        .cte("stored")
    )
    async with gen.autocommit.connect() as connection:
        recorded = (
            await connection.execute(
                update(job)
                .add_cte(stored)
                .where(
                    job.c.id == row.id,
                    job.c.status == JobStatus.RUNNING.value,
                    job.c.provider_request_id.is_(None),
                )
                .values(provider_request_id=request_id, provider_checked_at=func.now())
                .returning(job.c.id)
            )
        ).first()
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


async def complete_provider_request(
    gen: Generation, provider_request_id: str, ok: bool, payload_json: bytes, error: str
) -> JobView:
    """Record a provider's verified terminal report once; repeats return the finished job."""
    async with gen.autocommit.connect() as connection:
        # The team's plan as the scheduler last read it from credits (at the job's creation, and
        # again at its dispatch when older than PLAN_LIMITS_MAX_AGE) sets its images' retention.
        row = (
            await connection.execute(
                select(job, team_schedule.c.plan_rank)
                .join(provider_request, provider_request.c.job_id == job.c.id)
                .join(team_schedule, team_schedule.c.team_id == job.c.team_id)
                .where(provider_request.c.id == provider_request_id)
            )
        ).one_or_none()
        if row is None:
            # The webhook can beat the worker's write of the request id; the provider retries.
            raise NotFound("provider_request_not_found", f"no job has provider request {provider_request_id}")
        job_id_var.set(row.id)
        # A finished job, or a report about an attempt that was since superseded, changes nothing.
        if JobStatus(row.status).is_terminal or row.provider_request_id != provider_request_id:
            return await _load(connection, row.id)

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
        async with gen.engine.begin() as connection:
            if await _finish(
                connection,
                row,
                JobStatus.COMPLETED,
                "provider succeeded",
                charge=charge_for(row.estimated_credits_hundredths, sources),
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
                            "nsfw": source.nsfw,
                        }
                        for position, (image, source) in enumerate(zip(stored, sources, strict=True))
                    ],
                )
            return await _load(connection, row.id)

    message = provider_error_message(error, payload)
    error_type = payload.get("error_type") if isinstance(payload, dict) else None
    if is_retryable_failure(error, error_type) and row.attempts < gen.provider_max_attempts:
        return await _schedule_retry(gen, row, provider_request_id, message)
    return await _fail(gen, row, "provider_error", message)


async def _complete_training(gen: Generation, row: Row, payload: Any) -> JobView:
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
    async with gen.engine.begin() as connection:
        await _finish(
            connection,
            row,
            JobStatus.COMPLETED,
            "provider succeeded",
            charge=row.estimated_credits_hundredths,
            progress=1.0,
            output=output,
        )
        return await _load(connection, row.id)


async def _schedule_retry(gen: Generation, row: Row, provider_request_id: str, message: str) -> JobView:
    """Submit again later; conditional on the failed request, so a repeated report schedules once."""
    async with gen.engine.begin() as connection:
        scheduled = (
            await connection.execute(
                update(job)
                .where(
                    job.c.id == row.id,
                    job.c.status == JobStatus.RUNNING.value,
                    job.c.provider_request_id == provider_request_id,
                )
                .values(
                    provider_request_id=None,
                    next_attempt_at=func.now() + timedelta(seconds=_backoff(row.attempts)),
                )
                .returning(job.c.id)
            )
        ).first()
        if scheduled is not None:
            await connection.execute(
                insert(job_transition).values(
                    job_id=row.id,
                    from_status=JobStatus.RUNNING.value,
                    to_status=JobStatus.RUNNING.value,
                    reason=f"retrying after a transient provider failure: {message}"[:500],
                )
            )
        return await _load(connection, row.id)


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


async def _claim_running(gen: Generation, condition, batch_size: int, returning, **values) -> list[Row]:
    """Claim up to `batch_size` running jobs matching `condition` by updating them with `values`;
    SKIP LOCKED lets several workers share the work without taking the same job."""
    async with gen.engine.begin() as connection:
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
    async with gen.engine.begin() as connection:
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
    async with gen.engine.begin() as connection:
        view = await _load(connection, job_id, team_id)
        status = JobStatus(view.row.status)
        if status is JobStatus.CANCELLED:
            return view
        if status.is_terminal:
            raise FailedPrecondition("job_finished", f"the job has already {status.value}")
        await _finish(connection, view.row, JobStatus.CANCELLED, "cancelled by the team", charge=0)
        cancelled = await _load(connection, job_id)
    if cancelled.row.status == JobStatus.CANCELLED.value and view.row.provider_request_id:
        await _cancel_at_provider(gen, view.row.provider_endpoint, view.row.provider_request_id)
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

"""Generation's use cases on a real Postgres, with the provider and peer services faked at their ports.

These pin the exactly-once rules: one reservation per job, one submit per claim, and one terminal
transition (with one settlement event) however many reports arrive.
"""

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_generation.adapters.peers import (
    CatalogModel,
    NextRefinement,
    PlanLimits,
    Quote,
    ResolvedVersion,
    StoredImage,
)
from imagegen_generation.adapters.provider import ProviderError, ProviderOutcome, ProviderRunning
from imagegen_generation.adapters.tables import (
    job,
    job_transition,
    outbox,
    provider_delivery,
    provider_request,
)
from imagegen_generation.domain.jobs import (
    ImageGenerationRequest,
    JobStatus,
    KeySpend,
    LoraWeights,
    ModelTrainingRequest,
)
from imagegen_generation.entrypoints.grpc_servicer import job_message
from imagegen_generation.service_layer import deliveries, handlers
from imagegen_platform import db
from imagegen_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from imagegen_platform.events import JOB_FINISHED_SUBJECT, JOB_QUEUED_SUBJECT, JOB_STARTED_SUBJECT
from sqlalchemy import func, insert, select, text, update


@dataclass
class FakePeers:
    reserved: list[tuple[str, int, str]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    refuse_reservation: bool = False
    limit: int = 3

    # Plan tier by team; teams not listed are pro.
    ranks: dict[str, int] = field(default_factory=dict)

    async def plan_limits(self, team_id: str) -> PlanLimits:
        return PlanLimits(self.ranks.get(team_id, 2), self.limit)

    async def reference_model(self, model_id: int) -> CatalogModel:
        return CatalogModel(150, "fal-ai/flux-lora", {"guidance_scale": 3.5})

    async def quote_image_generation(self, resolution, quality, complexity_hundredths, num_images) -> Quote:
        return Quote(27_00 * num_images, 1, {})

    async def reserve(self, team_id: str, amount: int, key: str) -> PlanLimits:
        if self.refuse_reservation:
            raise FailedPrecondition("insufficient_credits", "no credits")
        self.reserved.append((team_id, amount, key))
        return await self.plan_limits(team_id)

    async def release(self, key: str) -> None:
        self.released.append(key)

    async def import_image(
        self, team_id: str, plan: str, job_id: str, position: int, url: str
    ) -> StoredImage:
        await asyncio.sleep(0.05)  # let racing reports overlap
        self.imported.append(url)
        return StoredImage(f"file-{job_id}-{position}", 1024, 1024, "image/png")

    async def quote_model_creation(self, complexity_hundredths: int, num_training_images: int) -> Quote:
        return Quote(115_00, 1, {})

    async def quote_model_refinement(self, complexity_hundredths: int, iteration: int) -> Quote:
        return Quote({1: 59_40, 2: 71_28}[iteration], 1, {})

    async def next_refinement(self, team_id: str, custom_model_id: int) -> NextRefinement:
        return NextRefinement(150, 2)

    async def resolve_model_version(
        self, team_id: str, custom_model_id: int, version: int
    ) -> ResolvedVersion:
        if custom_model_id != 7:
            raise FailedPrecondition("model_not_ready", "version 1 of model 8 is still training")
        return ResolvedVersion(
            CatalogModel(150, "fal-ai/flux-lora", {}, id=3), version or 2, LoraWeights("weights-7-2", "zxq")
        )

    async def import_file(self, team_id: str, kind, owner_id: str, url: str, key: str) -> str:
        self.imported.append(url)
        return f"{owner_id}/{key}"

    async def sign_files(self, team_id: str, file_ids: list[str]) -> dict[str, str]:
        return {file_id: f"https://s3.local/{file_id}?signature" for file_id in file_ids}


@dataclass
class FakeProvider:
    failures: list[ProviderError] = field(default_factory=list)
    submitted: list[dict] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    # What a status poll reports, by request id; absent means still running.
    outcomes: dict[str, ProviderOutcome] = field(default_factory=dict)

    async def outcome(self, endpoint: str, request_id: str) -> ProviderOutcome | ProviderRunning:
        return self.outcomes.get(request_id, ProviderRunning(None))

    async def cancel(self, endpoint: str, request_id: str) -> None:
        self.cancelled.append(request_id)

    async def submit(self, endpoint: str, arguments: dict, webhook_url: str) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.submitted.append(arguments)
        # Trainings have no prompt; their ids must still be unique across tests sharing the database.
        return f"fal-{len(self.submitted)}-{arguments.get('prompt') or uuid.uuid4().hex}"


@pytest.fixture
async def generation(infrastructure):
    engine = db.create_engine(infrastructure.database_url)
    # The dispatcher takes the best job of any team: each test starts from an empty queue.
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "TRUNCATE generation.job, generation.job_transition, generation.job_image,"
                " generation.provider_request, generation.team_schedule, generation.outbox,"
                " generation.provider_delivery"
            )
        )
    yield handlers.Generation(
        engine=engine,
        peers=FakePeers(),
        provider=FakeProvider(),
        webhook_url="http://gateway/api/webhooks/fal",
        provider_max_attempts=3,
    )
    await engine.dispose()


def request(prompt: str, num_images: int = 1) -> ImageGenerationRequest:
    return ImageGenerationRequest(1, prompt, "1024x1024", "hd", num_images, 42)


_EVENT_TYPES = {
    JOB_QUEUED_SUBJECT: events_pb2.JobQueued,
    JOB_STARTED_SUBJECT: events_pb2.JobStarted,
    JOB_FINISHED_SUBJECT: events_pb2.JobFinished,
}


async def events(generation, job_id: str, subject: str) -> list:
    decode = _EVENT_TYPES[subject]
    async with generation.engine.connect() as connection:
        payloads = (
            await connection.execute(select(outbox.c.payload).where(outbox.c.subject == subject))
        ).scalars()
        return [event for event in map(decode.FromString, payloads) if event.job_id == job_id]


async def start(generation, job_id: str) -> None:
    """Dispatch the next job, which must be this one."""
    assert await handlers.dispatch_once(generation) == job_id


async def test_creating_a_job_reserves_its_quote_and_queues_it_in_one_step(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request("a red dress", num_images=2))
    assert view.row.status == "queued"
    assert view.row.estimated_credits_hundredths == 54_00
    assert generation.peers.reserved == [(team_id, 54_00, view.row.id)]
    assert view.row.provider_input["guidance_scale"] == 3.5
    assert [e.team_id for e in await events(generation, view.row.id, JOB_QUEUED_SUBJECT)] == [team_id]


async def test_no_job_is_written_when_credits_cannot_be_reserved(generation, team_id):
    generation.peers.refuse_reservation = True
    with pytest.raises(FailedPrecondition):
        await handlers.create_image_job(generation, team_id, request("a red dress"))
    async with generation.engine.connect() as connection:
        assert (await connection.execute(select(job).where(job.c.team_id == team_id))).first() is None


async def test_a_dispatched_job_is_not_dispatched_again(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    await start(generation, view.row.id)
    assert await handlers.dispatch_once(generation) is None
    assert len(generation.provider.submitted) == 1
    [started] = await events(generation, view.row.id, JOB_STARTED_SUBJECT)
    assert started.type == generation_pb2.JOB_TYPE_IMAGE_GENERATION
    job = await handlers.get_job(generation.engine, team_id, view.row.id)
    assert (job.row.status, job.row.attempts) == ("running", 1)


async def test_racing_reports_finish_the_job_once_with_one_settlement(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    await start(generation, view.row.id)
    request_id = (await handlers.get_job(generation.engine, team_id, view.row.id)).row.provider_request_id
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()

    results = await asyncio.gather(
        *(handlers.complete_provider_request(generation, request_id, True, payload, "") for _ in range(4)),
        handlers.complete_provider_request(generation, request_id, False, b"{}", "late error"),
    )
    assert {result.row.status for result in results} <= {"completed", "failed"}
    final = await handlers.get_job(generation.engine, team_id, view.row.id)
    finished = await events(generation, view.row.id, JOB_FINISHED_SUBJECT)
    assert len(finished) == 1
    if final.row.status == "completed":
        assert finished[0].status == generation_pb2.JOB_STATUS_COMPLETED
        assert finished[0].charge_hundredths == 27_00
        assert [image.file_id for image in final.images] == [f"file-{view.row.id}-0"]
    else:
        assert finished[0].charge_hundredths == 0
    async with generation.engine.connect() as connection:
        transitions = (
            await connection.execute(
                select(job_transition.c.from_status, job_transition.c.to_status)
                .where(job_transition.c.job_id == view.row.id)
                .order_by(job_transition.c.id)
            )
        ).all()
    assert [tuple(t) for t in transitions] == [
        (None, "queued"),
        ("queued", "running"),
        ("running", final.row.status),
    ]


async def test_a_provider_error_fails_the_job_and_settles_nothing(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    await start(generation, view.row.id)
    request_id = (await handlers.get_job(generation.engine, team_id, view.row.id)).row.provider_request_id
    body = json.dumps({"detail": [{"msg": "prompt rejected"}]}).encode()
    failed = await handlers.complete_provider_request(
        generation, request_id, False, body, "Invalid status code: 422"
    )
    assert (failed.row.status, failed.row.error_code) == ("failed", "provider_error")
    assert failed.row.error_message == "Invalid status code: 422: prompt rejected"
    assert (failed.row.charged_credits_hundredths, failed.row.refunded_credits_hundredths) == (0, 27_00)
    [event] = await events(generation, view.row.id, JOB_FINISHED_SUBJECT)
    assert (event.status, event.charge_hundredths) == (generation_pb2.JOB_STATUS_FAILED, 0)


async def test_transient_submit_errors_retry_with_backoff_then_fail(generation, team_id):
    generation.provider.failures = [ProviderError("fal answered 503", retryable=True) for _ in range(3)]
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    await start(generation, view.row.id)
    for _ in range(2):
        waiting = (await handlers.get_job(generation.engine, team_id, view.row.id)).row
        assert (waiting.status, waiting.provider_request_id) == ("running", None)
        assert waiting.next_attempt_at is not None  # backing off
        assert await handlers.resubmit_due(generation) == 0
        async with generation.engine.begin() as connection:  # let the back-off pass
            await connection.execute(
                update(job).where(job.c.id == view.row.id).values(next_attempt_at=func.now())
            )
        assert await handlers.resubmit_due(generation) == 1
    final = await handlers.get_job(generation.engine, team_id, view.row.id)
    assert (final.row.status, final.row.attempts) == ("failed", 3)
    assert "503" in final.row.error_message


async def test_a_permanent_submit_error_fails_at_once(generation, team_id):
    generation.provider.failures = [ProviderError("fal answered 422", retryable=False)]
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    await start(generation, view.row.id)
    final = await handlers.get_job(generation.engine, team_id, view.row.id)
    assert final.row.status == "failed"
    assert len(await events(generation, view.row.id, JOB_FINISHED_SUBJECT)) == 1


async def test_reports_for_unknown_requests_and_other_teams_jobs_are_not_found(generation, team_id):
    with pytest.raises(NotFound):
        await handlers.complete_provider_request(generation, f"unknown-{team_id}", True, b"{}", "")
    view = await handlers.create_image_job(generation, team_id, request("a red dress"))
    with pytest.raises(NotFound):
        await handlers.get_job(generation.engine, "another-team", view.row.id)


async def test_a_team_never_runs_more_jobs_than_its_plan_allows(generation, team_id):
    """Ten dispatchers race to start six jobs of a team whose plan runs two at a time."""
    generation.peers.limit = 2
    views = [
        await handlers.create_image_job(generation, team_id, request(f"dress {n} {team_id}"))
        for n in range(6)
    ]
    # Dispatchers that find the team's row locked skip it; the winner goes on dispatching.
    started = await asyncio.gather(*(handlers.dispatch_once(generation) for _ in range(10)))
    while await handlers.dispatch_once(generation):
        pass
    assert 1 <= len([job_id for job_id in started if job_id]) <= 2
    assert len(generation.provider.submitted) == 2
    statuses = [
        (await handlers.get_job(generation.engine, team_id, view.row.id)).row.status for view in views
    ]
    assert sorted(statuses) == ["queued"] * 4 + ["running"] * 2

    # When one finishes, a waiting job gets its slot.
    running = next(view for view, status in zip(views, statuses, strict=True) if status == "running")
    request_id = (await handlers.get_job(generation.engine, team_id, running.row.id)).row.provider_request_id
    await handlers.complete_provider_request(generation, request_id, False, b"{}", "failed")
    assert await handlers.dispatch_once(generation) in {
        view.row.id for view, status in zip(views, statuses, strict=True) if status == "queued"
    }
    assert await handlers.dispatch_once(generation) is None


async def test_a_plan_without_concurrency_runs_nothing(generation, team_id):
    generation.peers.limit = 0
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    assert await handlers.dispatch_once(generation) is None
    assert generation.provider.submitted == []
    assert (await handlers.get_job(generation.engine, team_id, view.row.id)).estimated_start_at is None


async def running_job(generation, team_id: str, prompt: str = "dress") -> tuple[str, str]:
    view = await handlers.create_image_job(generation, team_id, request(f"{prompt} {team_id}"))
    await start(generation, view.row.id)
    job = await handlers.get_job(generation.engine, team_id, view.row.id)
    return job.row.id, job.row.provider_request_id


async def test_a_retried_create_with_the_same_key_returns_the_first_job(generation, team_id):
    first = await handlers.create_image_job(generation, team_id, request("a"), idempotency_key="key-1")
    again = await handlers.create_image_job(generation, team_id, request("a"), idempotency_key="key-1")
    racing = await asyncio.gather(
        *(
            handlers.create_image_job(generation, team_id, request("b"), idempotency_key="key-2")
            for _ in range(5)
        )
    )
    assert again.row.id == first.row.id
    assert len({view.row.id for view in racing}) == 1
    held = [key for _, _, key in generation.peers.reserved if key not in generation.peers.released]
    assert sorted(held) == sorted([first.row.id, racing[0].row.id])


async def test_cancelling_a_queued_job_never_calls_the_provider(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    cancelled = await handlers.cancel_job(generation, team_id, view.row.id)
    again = await handlers.cancel_job(generation, team_id, view.row.id)
    assert (cancelled.row.status, again.row.status) == ("cancelled", "cancelled")
    assert (cancelled.row.charged_credits_hundredths, cancelled.row.refunded_credits_hundredths) == (0, 27_00)
    assert await handlers.dispatch_once(generation) is None
    assert generation.provider.submitted == []
    [event] = await events(generation, view.row.id, JOB_FINISHED_SUBJECT)
    assert (event.status, event.charge_hundredths) == (generation_pb2.JOB_STATUS_CANCELLED, 0)


async def test_cancelling_a_running_job_cancels_it_at_the_provider_and_ignores_its_late_result(
    generation, team_id
):
    job_id, request_id = await running_job(generation, team_id)
    await handlers.cancel_job(generation, team_id, job_id)
    assert generation.provider.cancelled == [request_id]
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    late = await handlers.complete_provider_request(generation, request_id, True, payload, "")
    assert late.row.status == "cancelled"
    assert generation.peers.imported == []
    assert len(await events(generation, job_id, JOB_FINISHED_SUBJECT)) == 1


async def test_a_finished_job_cannot_be_cancelled(generation, team_id):
    job_id, request_id = await running_job(generation, team_id)
    await handlers.complete_provider_request(generation, request_id, False, b"{}", "Invalid status code: 422")
    with pytest.raises(FailedPrecondition):
        await handlers.cancel_job(generation, team_id, job_id)
    with pytest.raises(NotFound):
        await handlers.cancel_job(generation, "another-team", job_id)


async def test_a_transient_failure_is_submitted_again_and_charged_once(generation, team_id):
    job_id, request_id = await running_job(generation, team_id)
    body = json.dumps({"detail": "runner crashed", "error_type": "runner_server_error"}).encode()
    for _ in range(2):  # a repeated failure report schedules one retry
        retrying = await handlers.complete_provider_request(
            generation, request_id, False, body, "Invalid status code: 503"
        )
    assert (retrying.row.status, retrying.row.provider_request_id) == ("running", None)
    assert retrying.row.next_attempt_at is not None
    async with generation.engine.begin() as connection:  # let the back-off pass
        await connection.execute(update(job).where(job.c.id == job_id).values(next_attempt_at=func.now()))
    assert await handlers.resubmit_due(generation) == 1
    assert await handlers.resubmit_due(generation) == 0
    second = (await handlers.get_job(generation.engine, team_id, job_id)).row
    assert (second.attempts, len(generation.provider.submitted)) == (2, 2)
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    done = await handlers.complete_provider_request(generation, second.provider_request_id, True, payload, "")
    assert (done.row.status, done.row.charged_credits_hundredths) == ("completed", 27_00)
    assert len(await events(generation, job_id, JOB_FINISHED_SUBJECT)) == 1


async def test_a_late_webhook_is_replaced_by_polling_the_provider(generation, team_id):
    job_id, request_id = await running_job(generation, team_id)
    assert await handlers.poll_provider(generation, timedelta(0)) == 0  # still running at the provider
    generation.provider.outcomes[request_id] = ProviderOutcome(
        True, {"images": [{"url": "https://fal/1.png"}]}, ""
    )
    assert await handlers.poll_provider(generation, timedelta(0)) == 1
    assert (await handlers.get_job(generation.engine, team_id, job_id)).row.status == "completed"
    # The webhook arriving after the poll changes nothing.
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    await handlers.complete_provider_request(generation, request_id, True, payload, "")
    assert len(generation.peers.imported) == 1
    assert len(await events(generation, job_id, JOB_FINISHED_SUBJECT)) == 1


async def test_queued_jobs_know_their_place_and_lists_page_and_filter(generation, team_id):
    views = [await handlers.create_image_job(generation, team_id, request(f"j{n}")) for n in range(3)]
    assert [
        (await handlers.get_job(generation.engine, team_id, view.row.id)).queue_position for view in views
    ] == [1, 2, 3]
    await handlers.cancel_job(generation, team_id, views[0].row.id)
    assert (await handlers.get_job(generation.engine, team_id, views[2].row.id)).queue_position == 2

    no_filter = handlers.JobFilter([], [], None, None, None, None)
    first, cursor = await handlers.list_jobs(generation.engine, team_id, no_filter, 2, None)
    rest, last = await handlers.list_jobs(generation.engine, team_id, no_filter, 2, cursor)
    assert [v.row.id for v in first + rest] == [view.row.id for view in reversed(views)]
    assert last is None
    cancelled, _ = await handlers.list_jobs(
        generation.engine,
        team_id,
        handlers.JobFilter([JobStatus.CANCELLED], [], 1, None, None, None),
        20,
        None,
    )
    assert [v.row.id for v in cancelled] == [views[0].row.id]


async def test_a_job_claimed_by_a_worker_that_died_is_submitted_once_its_claim_times_out(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request(f"dress {team_id}"))
    # A worker claimed the job and died before submitting it (no provider request id).
    assert await handlers.dispatch_next(generation) is not None
    assert await handlers.resubmit_due(generation) == 0  # a live worker may still be submitting
    assert generation.provider.submitted == []
    async with generation.engine.begin() as connection:
        await connection.execute(
            update(job).where(job.c.id == view.row.id).values(claimed_at=func.now() - timedelta(minutes=5))
        )
    assert await handlers.resubmit_due(generation) == 1
    assert await handlers.resubmit_due(generation) == 0
    resumed = (await handlers.get_job(generation.engine, team_id, view.row.id)).row
    assert (resumed.attempts, len(generation.provider.submitted)) == (2, 1)
    assert resumed.provider_request_id is not None


def training(version: int = 1) -> ModelTrainingRequest:
    return ModelTrainingRequest(
        custom_model_id=7,
        model_version=version,
        reference_model_id=1,
        trigger_word="zxq",
        training_steps=1000,
        num_training_images=10,
        training_zip_file_id=f"zip-7-{version}",
        starting_weights_file_id="weights-7-1" if version > 1 else "",
        iteration=version - 1,
        files_owner_id="model-7",
    )


async def create_training(generation, team_id: str, request: ModelTrainingRequest, parameter: str = ""):
    return await handlers.create_training_job(
        generation,
        team_id,
        request,
        complexity_hundredths=150,
        training_endpoint="fal-ai/flux-lora-fast-training",
        starting_weights_parameter=parameter,
        idempotency_key=f"model-7/v{request.model_version}",
    )


async def test_a_training_job_reads_its_zip_by_a_fresh_url_and_keeps_its_own_copy_of_the_weights(
    generation, team_id
):
    view = await create_training(generation, team_id, training())
    assert (view.row.type, view.row.estimated_credits_hundredths) == ("model_creation", 115_00)
    [queued] = await events(generation, view.row.id, JOB_QUEUED_SUBJECT)
    assert queued.type == generation_pb2.JOB_TYPE_MODEL_CREATION
    await start(generation, view.row.id)
    [submitted] = generation.provider.submitted
    # The zip is signed when the job is submitted, not when it was queued.
    assert submitted["images_data_url"] == "https://s3.local/zip-7-1?signature"
    assert view.row.provider_input["images_data_url"] == ""
    [started] = await events(generation, view.row.id, JOB_STARTED_SUBJECT)
    assert (started.model_training.custom_model_id, started.model_training.model_version) == (7, 1)
    running = (await handlers.get_job(generation.engine, team_id, view.row.id)).row
    payload = json.dumps(
        {
            "diffusers_lora_file": {"url": "https://fal/w.safetensors"},
            "config_file": {"url": "https://fal/config.json"},
        }
    ).encode()
    for _ in range(2):  # webhook and poll both report it
        done = await handlers.complete_provider_request(
            generation, running.provider_request_id, True, payload, ""
        )
    assert done.row.status == "completed"
    assert done.row.output == {
        "weights_file_id": f"model-7/{view.row.id}/weights",
        "config_file_id": f"model-7/{view.row.id}/config",
    }
    assert generation.peers.imported == ["https://fal/w.safetensors", "https://fal/config.json"]
    [finished] = await events(generation, view.row.id, JOB_FINISHED_SUBJECT)
    assert finished.charge_hundredths == 115_00
    assert finished.training_output.weights_file_id == done.row.output["weights_file_id"]
    assert finished.model_training.files_owner_id == "model-7"


async def test_a_refinement_is_priced_by_its_iteration_and_starts_from_the_parent_weights_if_the_trainer_can(
    generation, team_id
):
    second = await create_training(generation, team_id, training(2), parameter="resume_from_checkpoint")
    assert (second.row.type, second.row.estimated_credits_hundredths) == ("model_refinement", 59_40)
    await start(generation, second.row.id)
    assert (
        generation.provider.submitted[-1]["resume_from_checkpoint"]
        == "https://s3.local/weights-7-1?signature"
    )
    third = await create_training(generation, team_id, training(3))
    assert third.row.estimated_credits_hundredths == 71_28
    await start(generation, third.row.id)
    assert "resume_from_checkpoint" not in generation.provider.submitted[-1]
    again = await create_training(generation, team_id, training(3))
    assert again.row.id == third.row.id  # the models service's retry queues nothing twice


async def test_a_failed_training_is_refunded_and_says_why(generation, team_id):
    view = await create_training(generation, team_id, training())
    await start(generation, view.row.id)
    running = (await handlers.get_job(generation.engine, team_id, view.row.id)).row
    body = json.dumps({"detail": [{"msg": "the zip archive contains no readable images"}]}).encode()
    failed = await handlers.complete_provider_request(
        generation, running.provider_request_id, False, body, "Invalid status code: 422"
    )
    assert (failed.row.status, failed.row.refunded_credits_hundredths) == ("failed", 115_00)
    [finished] = await events(generation, view.row.id, JOB_FINISHED_SUBJECT)
    assert finished.status == generation_pb2.JOB_STATUS_FAILED
    assert "no readable images" in finished.error.message
    assert finished.model_training.model_version == 1


async def test_generating_with_a_custom_model_uses_its_ready_weights_and_trigger_word(generation, team_id):
    custom = ImageGenerationRequest(0, "woman in red dress", "1024x1024", "hd", 1, 42, custom_model_id=7)
    view = await handlers.create_image_job(generation, team_id, custom)
    # The job records what it resolved: the reference model and the version.
    assert (view.row.input["reference_model_id"], view.row.input["model_version"]) == (3, 2)
    await start(generation, view.row.id)
    submitted = generation.provider.submitted[-1]
    assert submitted["loras"] == [{"path": "https://s3.local/weights-7-2?signature", "scale": 1.0}]
    assert submitted["prompt"] == "zxq woman in red dress"
    not_ready = ImageGenerationRequest(0, "dress", "1024x1024", "hd", 1, None, custom_model_id=8)
    with pytest.raises(FailedPrecondition, match="still training"):
        await handlers.create_image_job(generation, team_id, not_ready)
    assert len(generation.peers.reserved) == 1  # nothing reserved for the refused one


async def test_progress_reported_by_polls_only_moves_forward(generation, team_id):
    job_id, request_id = await running_job(generation, team_id)
    for progress in (0.25, 0.1, 0.75):
        generation.provider.outcomes[request_id] = ProviderRunning(progress)
        assert await handlers.poll_provider(generation, timedelta(0)) == 0
    assert (await handlers.get_job(generation.engine, team_id, job_id)).row.progress == 0.75


async def test_dispatch_serves_higher_tiers_first_then_the_team_served_longest_ago_then_priority(generation):
    teams = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in ("busy", "newcomer", "enterprise", "basic")}
    generation.peers.limit = 10
    generation.peers.ranks = {teams["enterprise"]: 3, teams["basic"]: 1}
    busy = [
        await handlers.create_image_job(generation, teams["busy"], request(f"busy {n}"), priority=priority)
        for n, priority in enumerate([0, 0, 5, -1, 0])
    ]
    await start(generation, busy[2].row.id)  # the busy team's urgent job has been served
    newcomer = await handlers.create_image_job(generation, teams["newcomer"], request("first"))
    basic = await handlers.create_image_job(generation, teams["basic"], request("basic"))
    enterprise = await handlers.create_image_job(generation, teams["enterprise"], request("enterprise"))

    order = []
    while job_id := await handlers.dispatch_once(generation):
        order.append(job_id)
    # Enterprise first; then the newcomer's first job ahead of the busy team's backlog, which runs
    # by its own priority and age; basic last.
    assert order == [
        enterprise.row.id,
        newcomer.row.id,
        busy[0].row.id,
        busy[1].row.id,
        busy[4].row.id,
        busy[3].row.id,
        basic.row.id,
    ]
    with pytest.raises(InvalidArgument):
        await handlers.create_image_job(generation, teams["busy"], request("too urgent"), priority=11)


async def test_a_queued_job_knows_when_it_should_start_from_its_place_and_recent_run_times(
    generation, team_id
):
    generation.peers.limit = 1
    job_id, request_id = await running_job(generation, team_id)
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    await handlers.complete_provider_request(generation, request_id, True, payload, "")
    async with generation.engine.begin() as connection:  # it ran for ten seconds
        await connection.execute(
            update(job).where(job.c.id == job_id).values(started_at=job.c.finished_at - timedelta(seconds=10))
        )
    await running_job(generation, team_id, "second")
    waiting = [await handlers.create_image_job(generation, team_id, request(f"w{n}")) for n in range(2)]
    first, second = [await handlers.get_job(generation.engine, team_id, view.row.id) for view in waiting]
    assert (first.queue_position, second.queue_position) == (1, 2)
    now = datetime.now(UTC)
    # One slot, taken: the first waits one run (about ten seconds), the second two.
    assert timedelta(seconds=8) < first.estimated_start_at - now <= timedelta(seconds=10)
    assert timedelta(seconds=18) < second.estimated_start_at - now <= timedelta(seconds=20)


# Provider deliveries: stored once, recorded after the answer, retried, parked when poison.


async def test_a_stored_delivery_is_recorded_once_however_often_the_provider_sends_it(generation, team_id):
    job_id, request_id = await running_job(generation, team_id)
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    delivery = await deliveries.store(generation, request_id, True, payload, "")
    assert delivery is not None
    assert await deliveries.store(generation, request_id, True, payload, "") is None  # a retry
    await deliveries.record(generation, delivery)
    assert (await handlers.get_job(generation.engine, team_id, job_id)).row.status == "completed"
    assert await delivery_status(generation, request_id) == ("processed", 1)
    assert await deliveries.record_due(generation) == 0
    assert len(generation.peers.imported) == 1


async def test_an_interrupted_delivery_is_taken_again_once_its_lease_runs_out(generation, team_id):
    job_id, request_id = await running_job(generation, team_id)
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    await deliveries.store(generation, request_id, True, payload, "")  # and the process died
    assert await deliveries.record_due(generation) == 0  # its lease still runs
    await expire_lease(generation, request_id)
    taken = await asyncio.gather(deliveries.record_due(generation), deliveries.record_due(generation))
    assert sorted(taken) == [0, 1]
    assert (await handlers.get_job(generation.engine, team_id, job_id)).row.status == "completed"
    assert await delivery_status(generation, request_id) == ("processed", 2)


async def test_a_delivery_that_keeps_failing_is_parked_not_retried_forever(generation, team_id):
    request_id = f"never-submitted-{team_id}"
    delivery = await deliveries.store(generation, request_id, True, b"{}", "")
    await deliveries.record(generation, delivery)
    assert await delivery_status(generation, request_id) == ("received", 1)
    for _ in range(deliveries.MAX_ATTEMPTS - 1):
        await expire_lease(generation, request_id)
        assert await deliveries.record_due(generation) == 1
    status, attempts = await delivery_status(generation, request_id)
    assert (status, attempts) == ("parked", deliveries.MAX_ATTEMPTS)
    await expire_lease(generation, request_id)
    assert await deliveries.record_due(generation) == 0


async def delivery_status(generation, request_id: str) -> tuple[str, int]:
    async with generation.engine.connect() as connection:
        row = (
            await connection.execute(
                select(provider_delivery.c.status, provider_delivery.c.attempts).where(
                    provider_delivery.c.provider_request_id == request_id
                )
            )
        ).one()
    return row.status, row.attempts


async def expire_lease(generation, request_id: str) -> None:
    async with generation.engine.begin() as connection:
        await connection.execute(
            update(provider_delivery)
            .where(provider_delivery.c.provider_request_id == request_id)
            .values(next_attempt_at=func.now() - timedelta(seconds=1))
        )


# API keys: monthly spend caps and usage.


async def test_a_keys_monthly_spend_cap_stops_new_jobs_even_when_they_race(generation, team_id):
    capped = KeySpend(f"key-{team_id}", monthly_cap_hundredths=54_00)
    racing = await asyncio.gather(
        *(
            handlers.create_image_job(generation, team_id, request(f"r{n}"), key_spend=capped)
            for n in range(5)
        ),
        return_exceptions=True,
    )
    created = [view for view in racing if isinstance(view, handlers.JobView)]
    refused = [error for error in racing if isinstance(error, FailedPrecondition)]
    assert (len(created), len(refused)) == (2, 3)
    assert {error.reason for error in refused} == {"spend_cap_reached"}
    assert refused[0].details["spentThisMonth"] == "54.00"
    # Nothing was reserved for the refused ones.
    assert len(generation.peers.reserved) == 2

    # A job that ends without a charge no longer counts against the cap.
    await handlers.cancel_job(generation, team_id, created[0].row.id)
    await handlers.create_image_job(generation, team_id, request("again"), key_spend=capped)
    # Other keys, and requests without a key, are not held by this key's cap.
    await handlers.create_image_job(
        generation, team_id, request("other"), key_spend=KeySpend("other-key", 27_00)
    )
    await handlers.create_image_job(generation, team_id, request("session"))


async def test_usage_is_summed_by_key_day_and_model(generation, team_id):
    first, second = KeySpend(f"a-{team_id}"), KeySpend(f"b-{team_id}")
    for key, count in ((first, 2), (second, 1)):
        for n in range(count):
            await handlers.create_image_job(
                generation, team_id, request(f"{key.api_key_id} {n}"), key_spend=key
            )
    await handlers.create_image_job(generation, team_id, request("no key"))
    now = datetime.now(UTC)
    rows = await handlers.key_usage(
        generation.engine, team_id, None, now - timedelta(days=1), now + timedelta(minutes=1)
    )
    today = now.strftime("%Y-%m-%d")
    assert [
        (row.api_key_id, row.day, row.reference_model_id, row.jobs, row.reserved_hundredths) for row in rows
    ] == [
        (first.api_key_id, today, 1, 2, 54_00),
        (second.api_key_id, today, 1, 1, 27_00),
    ]
    assert all(isinstance(row.charged_hundredths, int) for row in rows)
    only_second = await handlers.key_usage(
        generation.engine, team_id, second.api_key_id, now - timedelta(days=1), now + timedelta(minutes=1)
    )
    assert [row.api_key_id for row in only_second] == [second.api_key_id]


async def test_a_webhook_that_beats_the_workers_write_is_recorded_in_the_same_attempt(generation, team_id):
    view = await handlers.create_image_job(generation, team_id, request(f"early {team_id}"))
    claimed = await handlers.dispatch_next(generation)
    request_id = f"fal-early-{team_id}"
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}]}).encode()
    delivery = await deliveries.store(generation, request_id, True, payload, "")

    async def worker_records_the_request_a_moment_later():
        await asyncio.sleep(0.03)
        async with generation.engine.begin() as connection:
            await connection.execute(
                insert(provider_request).values(id=request_id, job_id=claimed.id, attempt=1)
            )
            await connection.execute(
                update(job).where(job.c.id == claimed.id).values(provider_request_id=request_id)
            )

    await asyncio.gather(deliveries.record(generation, delivery), worker_records_the_request_a_moment_later())
    assert await delivery_status(generation, request_id) == ("processed", 1)
    assert (await handlers.get_job(generation.engine, team_id, view.row.id)).row.status == "completed"


async def test_each_step_answers_with_the_job_as_it_wrote_it(generation, team_id):
    """Creating, completing and cancelling answer with the rows they wrote, not a read after: the
    same job get_job reads back."""

    async def same_as_read_back(view: handlers.JobView) -> None:
        read = await handlers.get_job(generation.engine, team_id, view.row.id)
        answered, stored = job_message(view), job_message(read)
        for message in (answered, stored):
            message.ClearField("estimated_start_at")  # the time of each call
        assert answered == stored
        assert (view.estimated_start_at is None) == (read.estimated_start_at is None)

    generation.peers.limit = 1
    first = await handlers.create_image_job(generation, team_id, request(f"first {team_id}", num_images=2))
    second = await handlers.create_image_job(generation, team_id, request(f"second {team_id}"))
    assert (first.queue_position, second.queue_position) == (1, 2)
    for view in (first, second):
        await same_as_read_back(view)
    await start(generation, first.row.id)
    request_id = (await handlers.get_job(generation.engine, team_id, first.row.id)).row.provider_request_id
    payload = json.dumps({"images": [{"url": "https://fal/1.png"}, {"url": "https://fal/2.png"}]}).encode()
    done = await handlers.complete_provider_request(generation, request_id, True, payload, "")
    assert [image.position for image in done.images] == [0, 1]
    await same_as_read_back(done)
    await same_as_read_back(await handlers.cancel_job(generation, team_id, second.row.id))

"""Custom models over gRPC on a real Postgres, with storage and generation faked at their ports.

These pin the money rules (a rejected training set or a refused job leaves nothing behind and
charges nothing; a retried create charges once), the refinement rules, and versions following
their training events however often and in whatever order those come.
"""

import grpc
import pytest
from imagegen.generation.v1 import generation_pb2
from imagegen.models.v1 import models_pb2, models_service_pb2
from imagegen.storage.v1 import storage_pb2
from imagegen_models.adapters import repository
from imagegen_models.adapters.tables import custom_model, model_version
from imagegen_models.domain import catalog
from imagegen_models.domain.custom_models import (
    NewCustomModel,
    TrainingFinished,
    TrainingSetProblem,
    TrainingStarted,
    VersionStatus,
)
from imagegen_models.service_layer import training_events
from imagegen_platform.errors import FailedPrecondition
from imagegen_platform.grpc_client import error_reason
from sqlalchemy import func, select

READY = models_pb2.MODEL_VERSION_STATUS_READY


def sources(
    count: int, prefix: str = "https://images.example.com/photo"
) -> list[storage_pb2.TrainingImageSource]:
    return [storage_pb2.TrainingImageSource(url=f"{prefix}-{n}.jpg") for n in range(count)]


async def create(service, team_id: str, **fields) -> models_service_pb2.CreateCustomModelResponse:
    request = {
        "team_id": team_id,
        "reference_model_id": 1,
        "name": "My Custom Model",
        "description": "Fashion model for e-commerce",
        "training_images": sources(3),
        "trigger_word": "my_model",
        "training_steps": 1000,
    }
    return await service.stub.CreateCustomModel(
        models_service_pb2.CreateCustomModelRequest(**{**request, **fields})
    )


async def get(service, team_id: str, model_id: int) -> models_pb2.CustomModel:
    request = models_service_pb2.GetCustomModelRequest(team_id=team_id, custom_model_id=model_id)
    return (await service.stub.GetCustomModel(request)).custom_model


async def refine(
    service, team_id: str, model_id: int, **fields
) -> models_service_pb2.RefineCustomModelResponse:
    request = models_service_pb2.RefineCustomModelRequest(team_id=team_id, custom_model_id=model_id, **fields)
    return await service.stub.RefineCustomModel(request)


async def finish(
    service, team_id: str, model_id: int, version: int, status=VersionStatus.READY, **fields
) -> None:
    """Generation's JobFinished for the version, as the consumer hands it over."""
    job_id = (await get(service, team_id, model_id)).versions[version - 1].job_id
    if status is VersionStatus.READY:
        fields = {"weights_file_id": f"weights-{version}", "charged_credits_hundredths": 114_75, **fields}
    event = TrainingFinished(job_id, team_id, model_id, version, status, **fields)
    await training_events.training_finished(service.models, event)


async def ready_model(service, team_id: str) -> int:
    model_id = (await create(service, team_id)).custom_model.id
    await finish(service, team_id, model_id, 1)
    return model_id


async def failure(call) -> tuple[grpc.StatusCode, str | None, dict[str, str], str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    reason, details = error_reason(caught.value)
    return caught.value.code(), reason, details, caught.value.details()


async def rows_of(service, team_id: str) -> tuple[int, int]:
    """How many model and version rows the team has."""
    async with service.engine.connect() as connection:
        models = await connection.scalar(
            select(func.count()).select_from(custom_model).where(custom_model.c.team_id == team_id)
        )
        versions = await connection.scalar(
            select(func.count())
            .select_from(
                model_version.join(custom_model, custom_model.c.id == model_version.c.custom_model_id)
            )
            .where(custom_model.c.team_id == team_id)
        )
    return models, versions


# --- create ----------------------------------------------------------------------------------


async def test_creating_a_model_prepares_its_training_set_and_queues_version_1(service, team_id):
    response = await create(service, team_id)
    model, job = response.custom_model, response.job
    assert (model.team_id, model.name, model.trigger_word) == (team_id, "My Custom Model", "my_model")
    assert (model.status, model.current_version, model.complexity_hundredths) == (
        models_pb2.CUSTOM_MODEL_STATUS_PENDING,
        0,
        150,
    )
    (version,) = model.versions
    key = f"model-{model.id}/v1"
    assert (version.version, version.status, version.parent_version) == (
        1,
        models_pb2.MODEL_VERSION_STATUS_PENDING,
        0,
    )
    assert (version.job_id, version.estimated_credits_hundredths) == (job.id, 114_75)
    assert list(version.training_image_file_ids) == [f"{key}/image-{n}" for n in range(3)]
    assert version.training_zip_file_id == f"{key}/zip"

    ((prepared_for, plan, prepared_sources),) = service.peers.prepared
    assert (prepared_for, plan.files_owner_id, plan.idempotency_key) == (team_id, f"model-{model.id}", key)
    assert prepared_sources == [source.url for source in sources(3)]
    (call,) = service.peers.training_jobs
    assert (call.plan.version, call.plan.iteration, call.plan.training_steps, call.trigger_word) == (
        1,
        0,
        1000,
        "my_model",
    )
    assert (call.reference.id, call.reference.training_endpoint) == (1, "fal-ai/flux-lora-fast-training")


async def test_invalid_fields_are_listed_together_and_nothing_is_called(service, team_id):
    code, reason, details, _ = await failure(
        create(
            service,
            team_id,
            name="",
            description="d" * 1001,
            trigger_word="new\nline",
            training_steps=5,
            training_images=[],
        )
    )
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_request")
    assert set(details) == {"name", "description", "triggerWord", "trainingSteps", "trainingImages"}
    assert service.peers.prepared == [] and await rows_of(service, team_id) == (0, 0)


async def test_a_create_without_a_step_count_trains_the_trainers_default(service, team_id):
    response = await create(service, team_id, training_steps=0)
    assert response.custom_model.versions[0].training_steps == 1000


async def test_an_unknown_reference_model_is_not_found(service, team_id):
    code, reason, _, _ = await failure(create(service, team_id, reference_model_id=9999))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "reference_model_not_found")


async def test_training_set_problems_reject_the_request_leaving_nothing_and_charging_nothing(
    service, team_id
):
    service.peers.problems = [
        TrainingSetProblem(1, "too_small", "300x300; the shorter side needs 512 pixels"),
        TrainingSetProblem(2, "unreachable", "the URL answered 404"),
        TrainingSetProblem(-1, "too_few_images", "at least 3 usable images"),
    ]
    code, reason, details, _ = await failure(create(service, team_id))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_training_set")
    assert details == {
        "trainingImages[1]": "too_small: 300x300; the shorter side needs 512 pixels",
        "trainingImages[2]": "unreachable: the URL answered 404",
        "trainingImages": "too_few_images: at least 3 usable images",
    }
    assert await rows_of(service, team_id) == (0, 0)
    assert service.peers.training_jobs == []


async def test_a_refused_training_job_removes_the_model_and_its_files(service, team_id, failed_call):
    service.peers.job_refusal = failed_call(
        FailedPrecondition("insufficient_credits", "114.75 credits needed")
    )
    code, reason, _, message = await failure(create(service, team_id))
    assert (code, reason, message) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "insufficient_credits",
        "114.75 credits needed",
    )
    assert await rows_of(service, team_id) == (0, 0)
    ((_, plan, _),) = service.peers.prepared
    assert service.peers.deleted_owners == [(team_id, plan.files_owner_id)]


async def test_a_retried_create_returns_the_first_model_and_job(service, team_id):
    first = await create(service, team_id, idempotency_key="order-42")
    again = await create(service, team_id, idempotency_key="order-42")
    assert (again.custom_model.id, again.job.id) == (first.custom_model.id, first.job.id)
    assert len(service.peers.training_jobs) == 1
    assert await rows_of(service, team_id) == (1, 1)
    other = await create(service, team_id, idempotency_key="order-43")
    assert other.custom_model.id > first.custom_model.id


async def test_a_retry_while_the_first_create_is_still_running_is_aborted(service, team_id):
    new = NewCustomModel(1, "Racing", "", "race", 1000)
    async with service.engine.begin() as connection:
        model_id = await repository.insert_model(connection, team_id, new, "order-7")
        await repository.insert_version(connection, new.first_training(model_id), None)
    code, reason, _, _ = await failure(create(service, team_id, idempotency_key="order-7"))
    assert (code, reason) == (grpc.StatusCode.ABORTED, "request_in_progress")


# --- refine ----------------------------------------------------------------------------------


async def test_a_model_still_training_cannot_be_refined(service, team_id):
    model_id = (await create(service, team_id)).custom_model.id
    code, reason, details, message = await failure(
        refine(service, team_id, model_id, training_images=sources(1))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "model_not_ready")
    assert (
        message
        == f"custom model {model_id} has no ready version to refine yet: version 1 is still waiting to train"
    )
    assert details == {"version": "1", "status": "pending"}


async def test_a_refinement_trains_version_2_from_version_1(service, team_id):
    model_id = await ready_model(service, team_id)
    response = await refine(service, team_id, model_id, training_images=sources(2, "https://new"))
    model = response.custom_model
    assert (model.status, model.current_version) == (models_pb2.CUSTOM_MODEL_STATUS_READY, 1)
    version = model.versions[1]
    assert (version.version, version.parent_version, version.status) == (
        2,
        1,
        models_pb2.MODEL_VERSION_STATUS_PENDING,
    )
    assert (version.job_id, version.training_steps, version.starting_weights_file_id) == (
        response.job.id,
        1000,
        "",
    )

    parent_images = list(model.versions[0].training_image_file_ids)
    _, plan, prepared_sources = service.peers.prepared[-1]
    assert prepared_sources == [*parent_images, "https://new-0.jpg", "https://new-1.jpg"]
    assert (plan.idempotency_key, plan.iteration) == (f"model-{model_id}/v2", 1)
    assert service.peers.training_jobs[-1].plan.iteration == 1


async def test_a_trainer_that_takes_starting_weights_gets_the_parents(service, team_id, monkeypatch):
    monkeypatch.setitem(
        catalog.STARTING_WEIGHTS_PARAMETERS, catalog.FLUX_LORA_FAST_TRAINING, "starting_lora_url"
    )
    model_id = await ready_model(service, team_id)
    response = await refine(service, team_id, model_id, training_steps=2000)
    assert response.custom_model.versions[1].starting_weights_file_id == "weights-1"
    assert service.peers.training_jobs[-1].plan.starting_weights_file_id == "weights-1"


async def test_one_refinement_at_a_time_and_the_next_one_builds_on_the_current_version(service, team_id):
    model_id = await ready_model(service, team_id)
    await refine(service, team_id, model_id, training_images=sources(1))
    code, reason, _, message = await failure(refine(service, team_id, model_id, training_images=sources(1)))
    assert (code, reason, message) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "refinement_in_progress",
        "version 2 is still waiting to train; refine again once it has finished",
    )
    await finish(service, team_id, model_id, 2, VersionStatus.FAILED, failure_reason="trainer crashed")
    third = await refine(service, team_id, model_id, training_steps=1500)
    version = third.custom_model.versions[2]
    assert (version.version, version.parent_version, version.training_steps) == (3, 1, 1500)
    assert service.peers.training_jobs[-1].plan.iteration == 2


async def test_a_refinement_that_changes_nothing_is_invalid(service, team_id):
    model_id = await ready_model(service, team_id)
    code, reason, details, _ = await failure(refine(service, team_id, model_id, training_steps=1000))
    assert (code, reason, list(details)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_request",
        ["trainingImages"],
    )


async def test_a_refused_refinement_removes_only_its_version(service, team_id, failed_call):
    model_id = await ready_model(service, team_id)
    service.peers.job_refusal = failed_call(FailedPrecondition("insufficient_credits", "not enough"))
    code, reason, _, _ = await failure(refine(service, team_id, model_id, training_images=sources(1)))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "insufficient_credits")
    model = await get(service, team_id, model_id)
    assert [version.version for version in model.versions] == [1]
    assert service.peers.deleted_owners == []


async def test_a_retried_refinement_returns_the_first_one(service, team_id):
    model_id = await ready_model(service, team_id)
    first = await refine(service, team_id, model_id, training_images=sources(1), idempotency_key="more-1")
    again = await refine(service, team_id, model_id, training_images=sources(1), idempotency_key="more-1")
    assert again.job.id == first.job.id
    assert len(again.custom_model.versions) == 2


# --- training events -------------------------------------------------------------------------


async def test_versions_follow_their_training_events_once_in_any_order(service, team_id):
    response = await create(service, team_id)
    model_id, job_id = response.custom_model.id, response.job.id
    started = TrainingStarted(job_id, team_id, model_id, 1)
    await training_events.training_started(service.models, started)
    await training_events.training_started(service.models, started)  # redelivered
    model = await get(service, team_id, model_id)
    assert (model.status, model.versions[0].status) == (
        models_pb2.CUSTOM_MODEL_STATUS_TRAINING,
        models_pb2.MODEL_VERSION_STATUS_TRAINING,
    )

    done = TrainingFinished(
        job_id, team_id, model_id, 1, VersionStatus.READY, "weights-1", "config-1", 114_75
    )
    await training_events.training_finished(service.models, done)
    await training_events.training_finished(service.models, done)  # redelivered
    late_failure = TrainingFinished(job_id, team_id, model_id, 1, VersionStatus.FAILED, failure_reason="late")
    await training_events.training_finished(service.models, late_failure)
    await training_events.training_started(service.models, started)  # a JobStarted after the JobFinished

    model = await get(service, team_id, model_id)
    version = model.versions[0]
    assert (model.status, model.current_version) == (models_pb2.CUSTOM_MODEL_STATUS_READY, 1)
    assert (version.status, version.weights_file_id, version.config_file_id) == (
        READY,
        "weights-1",
        "config-1",
    )
    assert (version.charged_credits_hundredths, version.failure_reason) == (114_75, "")
    assert version.HasField("finished_at")
    assert service.peers.cancelled == [] and service.peers.deleted_owners == []


async def test_a_finished_event_may_overtake_the_started_one(service, team_id):
    response = await create(service, team_id)
    model_id, job_id = response.custom_model.id, response.job.id
    await training_events.training_finished(
        service.models,
        TrainingFinished(job_id, team_id, model_id, 1, VersionStatus.FAILED, failure_reason="no faces found"),
    )
    await training_events.training_started(service.models, TrainingStarted(job_id, team_id, model_id, 1))
    model = await get(service, team_id, model_id)
    assert (model.status, model.versions[0].status) == (
        models_pb2.CUSTOM_MODEL_STATUS_FAILED,
        models_pb2.MODEL_VERSION_STATUS_FAILED,
    )
    assert (model.versions[0].failure_reason, model.versions[0].charged_credits_hundredths) == (
        "no faces found",
        0,
    )


async def test_a_cancelled_training_leaves_the_model_failed(service, team_id):
    model_id = (await create(service, team_id)).custom_model.id
    await finish(service, team_id, model_id, 1, VersionStatus.CANCELLED)
    model = await get(service, team_id, model_id)
    assert (model.status, model.versions[0].status) == (
        models_pb2.CUSTOM_MODEL_STATUS_FAILED,
        models_pb2.MODEL_VERSION_STATUS_CANCELLED,
    )


async def test_trainings_of_a_deleted_model_are_stopped_and_their_files_removed(service, team_id):
    response = await create(service, team_id)
    model_id, job_id = response.custom_model.id, response.job.id
    service.peers.finished_jobs.add(job_id)  # too late for the deletion to cancel it
    await service.stub.DeleteCustomModel(
        models_service_pb2.DeleteCustomModelRequest(team_id=team_id, custom_model_id=model_id)
    )
    owner = (team_id, f"model-{model_id}")
    assert service.peers.deleted_owners == [owner]

    service.peers.finished_jobs.clear()
    await training_events.training_started(service.models, TrainingStarted(job_id, team_id, model_id, 1))
    assert service.peers.cancelled == [job_id]
    done = TrainingFinished(job_id, team_id, model_id, 1, VersionStatus.READY, "late-weights", "", 114_75)
    await training_events.training_finished(service.models, done)
    assert service.peers.deleted_owners == [owner, owner]


# --- resolve ---------------------------------------------------------------------------------


async def resolve(service, team_id: str, model_id: int, version: int = 0):
    request = models_service_pb2.ResolveModelVersionRequest(
        team_id=team_id, custom_model_id=model_id, version=version
    )
    return await service.stub.ResolveModelVersion(request)


async def test_resolving_a_ready_model_gives_what_generation_needs(service, team_id):
    model_id = await ready_model(service, team_id)
    resolved = await resolve(service, team_id, model_id)
    reference = resolved.reference_model
    assert (resolved.version, resolved.weights_file_id, resolved.trigger_word) == (1, "weights-1", "my_model")
    assert (reference.id, reference.complexity_hundredths, reference.provider_endpoint) == (
        1,
        150,
        "fal-ai/flux-lora",
    )
    assert dict(reference.default_parameters) == {"guidance_scale": 3.5}


async def test_resolving_says_why_a_version_cannot_generate(service, team_id):
    model_id = (await create(service, team_id)).custom_model.id
    code, reason, _, message = await failure(resolve(service, team_id, model_id))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "model_not_ready")
    assert message == f"custom model {model_id} has no ready version yet: version 1 is still waiting to train"

    await finish(service, team_id, model_id, 1, VersionStatus.FAILED, failure_reason="no faces found")
    _, _, _, message = await failure(resolve(service, team_id, model_id, 1))
    assert message == "version 1 failed: no faces found"

    code, reason, _, _ = await failure(resolve(service, team_id, model_id, 2))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "model_version_not_found")
    code, reason, _, _ = await failure(resolve(service, team_id, 987654321))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "custom_model_not_found")


# --- update, list, delete ------------------------------------------------------------------------


async def update(service, team_id: str, model_id: int, **fields):
    request = models_service_pb2.UpdateCustomModelRequest(team_id=team_id, custom_model_id=model_id, **fields)
    return (await service.stub.UpdateCustomModel(request)).custom_model


async def test_an_update_changes_only_the_given_fields_and_the_current_version_must_be_ready(
    service, team_id
):
    model_id = await ready_model(service, team_id)
    await refine(service, team_id, model_id, training_images=sources(1))
    renamed = await update(service, team_id, model_id, name="Renamed")
    assert (renamed.name, renamed.description) == ("Renamed", "Fashion model for e-commerce")

    code, reason, _, message = await failure(update(service, team_id, model_id, current_version=2))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "model_version_not_ready")
    assert message == "version 2 is still waiting to train; only a ready version can be the current one"
    code, reason, _, _ = await failure(update(service, team_id, model_id, current_version=7))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "model_version_not_found")
    code, reason, details, _ = await failure(
        update(service, team_id, model_id, name="", description="d" * 1001)
    )
    assert (code, reason, set(details)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_request",
        {"name", "description"},
    )

    await finish(service, team_id, model_id, 2)
    assert (await get(service, team_id, model_id)).current_version == 2
    assert (await update(service, team_id, model_id, current_version=1, description="")).current_version == 1
    assert (await resolve(service, team_id, model_id)).weights_file_id == "weights-1"


async def test_a_team_lists_its_models_newest_first_by_status_and_page(service, team_id):
    ready_id = await ready_model(service, team_id)
    pending_id = (await create(service, team_id)).custom_model.id
    deleted_id = (await create(service, team_id)).custom_model.id
    await service.stub.DeleteCustomModel(
        models_service_pb2.DeleteCustomModelRequest(team_id=team_id, custom_model_id=deleted_id)
    )

    async def listing(**fields):
        request = models_service_pb2.ListCustomModelsRequest(team_id=team_id, **fields)
        return await service.stub.ListCustomModels(request)

    assert [model.id for model in (await listing()).custom_models] == [pending_id, ready_id]
    ready = await listing(statuses=[models_pb2.CUSTOM_MODEL_STATUS_READY])
    assert [model.id for model in ready.custom_models] == [ready_id]
    first = await listing(page_size=1)
    second = await listing(page_size=1, page_token=first.next_page_token)
    assert [first.custom_models[0].id, second.custom_models[0].id] == [pending_id, ready_id]
    assert second.next_page_token == ""
    code, reason, _, _ = await failure(listing(page_size=101))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_page_size")
    code, reason, _, _ = await failure(listing(page_token="abc"))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_cursor")


async def test_deleting_cancels_trainings_in_flight_removes_files_and_hides_the_model(service, team_id):
    model_id = await ready_model(service, team_id)
    job_id = (await refine(service, team_id, model_id, training_images=sources(1))).job.id
    request = models_service_pb2.DeleteCustomModelRequest(team_id=team_id, custom_model_id=model_id)
    response = await service.stub.DeleteCustomModel(request)
    assert list(response.cancelled_job_ids) == [job_id]
    assert service.peers.cancelled == [job_id]
    assert service.peers.deleted_owners == [(team_id, f"model-{model_id}")]
    code, reason, _, _ = await failure(service.stub.DeleteCustomModel(request))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "custom_model_not_found")
    assert service.peers.cancelled == [job_id]  # nothing left in flight to cancel again
    code, reason, _, _ = await failure(get(service, team_id, model_id))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "custom_model_not_found")
    async with service.engine.connect() as connection:
        statuses = (
            await connection.execute(
                select(model_version.c.status, model_version.c.failure_reason)
                .where(model_version.c.custom_model_id == model_id)
                .order_by(model_version.c.version)
            )
        ).all()
    assert [tuple(row) for row in statuses] == [("ready", None), ("cancelled", "the model was deleted")]


async def test_deleting_again_finishes_what_a_failed_deletion_left_and_answers_not_found(
    service, team_id, storage_down
):
    model_id = (await create(service, team_id)).custom_model.id
    request = models_service_pb2.DeleteCustomModelRequest(team_id=team_id, custom_model_id=model_id)
    service.peers.storage_failure = storage_down
    code, _, _, _ = await failure(service.stub.DeleteCustomModel(request))
    assert code == grpc.StatusCode.UNAVAILABLE
    code, _, _, _ = await failure(get(service, team_id, model_id))
    assert code == grpc.StatusCode.NOT_FOUND

    service.peers.storage_failure = None
    code, reason, _, _ = await failure(service.stub.DeleteCustomModel(request))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "custom_model_not_found")
    assert service.peers.deleted_owners == [(team_id, f"model-{model_id}")]


async def test_another_teams_model_is_not_found(service, team_id):
    model_id = await ready_model(service, team_id)
    other = f"{team_id}-other"
    calls = [
        get(service, other, model_id),
        refine(service, other, model_id, training_images=sources(1)),
        update(service, other, model_id, name="Mine now"),
        resolve(service, other, model_id),
        service.stub.DeleteCustomModel(
            models_service_pb2.DeleteCustomModelRequest(team_id=other, custom_model_id=model_id)
        ),
    ]
    for call in calls:
        code, reason, _, _ = await failure(call)
        assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "custom_model_not_found")
    assert (await get(service, team_id, model_id)).name == "My Custom Model"


async def test_the_creating_key_and_its_cap_reach_the_training_job(service, team_id):
    spend = generation_pb2.KeySpend(api_key_id="key-1", monthly_cap_hundredths=500_00)
    await create(service, team_id, key_spend=spend)
    assert service.peers.training_jobs[-1].key_spend == spend
    await create(service, team_id, name="no key")
    assert service.peers.training_jobs[-1].key_spend is None

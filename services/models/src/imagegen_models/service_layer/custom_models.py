"""Custom model use cases: create and refine (one training per version), read, edit, delete, resolve.

Money: generation reserves a training's quote when it creates the job, and charges it once the
version is trained. A version's row is written before storage and generation are called, so both
calls are keyed by the version (`model-<id>/v<n>`) and a retried call prepares and charges once.
When storage rejects the training set or generation refuses the job (insufficient credits, say),
the rows are removed again and the error goes back to the caller: nothing is left and nothing is
charged.
"""

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from imagegen.generation.v1 import generation_pb2
from imagegen.storage.v1 import storage_pb2
from imagegen_platform.errors import NotFound

from imagegen_models.adapters import repository
from imagegen_models.domain.catalog import ReferenceModel, starting_weights_parameter
from imagegen_models.domain.custom_models import (
    Aborted,
    CustomModel,
    ModelStatus,
    ModelVersion,
    NewCustomModel,
    TrainingPlan,
    check_fields,
    files_owner_id,
    training_set_error,
)
from imagegen_models.service_layer.handlers import (
    Models,
    cursor_id,
    get_reference_model,
    page_size_or_default,
)

log = logging.getLogger(__name__)

TrainingImageSources = Sequence[storage_pb2.TrainingImageSource]


@dataclass(frozen=True)
class Training:
    """A model with the training job of its newest (or replayed) version."""

    model: CustomModel
    job: generation_pb2.Job


@dataclass(frozen=True)
class ResolvedVersion:
    reference_model: ReferenceModel
    version: ModelVersion
    trigger_word: str


def _not_found(model_id: int) -> NotFound:
    return NotFound("custom_model_not_found", f"custom model {model_id} does not exist")


async def _load(models: Models, team_id: str, model_id: int) -> CustomModel:
    async with models.engine.connect() as connection:
        model = await repository.load_model(connection, team_id, model_id)
    if model is None:
        raise _not_found(model_id)
    return model


async def _replay(models: Models, team_id: str, model: CustomModel, version: int) -> Training:
    """What the first request with the same idempotency key answered: the model and the version's job."""
    trained = model.version(version)
    if trained is None or not trained.job_id:
        raise Aborted(
            "request_in_progress",
            "the first request with this idempotency key is still being processed; retry shortly",
        )
    return Training(model, await models.peers.get_job(team_id, trained.job_id))


async def _start_training(
    models: Models,
    team_id: str,
    plan: TrainingPlan,
    reference: ReferenceModel,
    trigger_word: str,
    new_sources: TrainingImageSources,
    roll_back: Callable[[], Awaitable[None]],
    key_spend: generation_pb2.KeySpend | None,
) -> generation_pb2.Job:
    """Prepare the version's training set, queue its job and record both. On any failure (problems in
    the set, a refused or failed call) `roll_back` removes what was written, and the error goes on:
    a peer's status reaches the caller unchanged."""
    try:
        training_set = await models.peers.prepare_training_set(team_id, plan, new_sources)
        if training_set.problems:
            raise training_set_error(training_set.problems, len(plan.parent_image_file_ids))
        job = await models.peers.create_training_job(
            team_id,
            plan,
            reference=reference,
            trigger_word=trigger_word,
            training_set=training_set,
            key_spend=key_spend,
        )
    except BaseException:
        await roll_back()
        raise
    async with models.engine.begin() as connection:
        await repository.record_training(
            connection, plan, job.id, job.estimated_credits_hundredths, training_set
        )
    return job


async def create_custom_model(
    models: Models,
    team_id: str,
    new: NewCustomModel,
    sources: TrainingImageSources,
    idempotency_key: str = "",
    key_spend: generation_pb2.KeySpend | None = None,
) -> Training:
    """Check the request and the training set, then create the model and queue version 1's training.
    `key_spend` names the API key whose monthly cap the training counts against."""
    new.check(len(sources))
    if idempotency_key:
        replayed = await _replay_creation(models, team_id, idempotency_key)
        if replayed is not None:
            return replayed
    reference = await get_reference_model(models.engine, new.reference_model_id)
    async with models.engine.begin() as connection:
        model_id = await repository.insert_model(connection, team_id, new, idempotency_key or None)
        if model_id is not None:
            await repository.insert_version(connection, new.first_training(model_id), idempotency_key=None)
    if model_id is None:
        # A concurrent request with the same key created the model first: answer what it answers.
        replayed = await _replay_creation(models, team_id, idempotency_key)
        if replayed is None:
            raise Aborted("request_in_progress", "a request with this idempotency key just failed; retry")
        return replayed
    plan = new.first_training(model_id)

    async def roll_back() -> None:
        async with models.engine.begin() as connection:
            await repository.delete_model(connection, model_id)
        await _delete_files_quietly(models, team_id, plan.files_owner_id)

    job = await _start_training(
        models, team_id, plan, reference, new.trigger_word, sources, roll_back, key_spend
    )
    return Training(await _load(models, team_id, model_id), job)


async def _replay_creation(models: Models, team_id: str, idempotency_key: str) -> Training | None:
    """The answer to the team's first create with this key; None when there was none."""
    async with models.engine.connect() as connection:
        model = await repository.model_by_idempotency_key(connection, team_id, idempotency_key)
    if model is None:
        return None
    if model.deleted_at is not None:
        raise NotFound(
            "custom_model_not_found", f"custom model {model.id}, created with this key, was deleted"
        )
    return await _replay(models, team_id, model, version=1)


async def _delete_files_quietly(models: Models, team_id: str, owner_id: str) -> None:
    """Remove files a rolled-back creation may have stored. Its caller's error matters more than this
    cleanup's, and an owner without a model is never read, so a failure is only logged."""
    try:
        await models.peers.delete_owner_files(team_id, owner_id)
    except Exception:
        log.warning("removing a rolled-back model's files failed", extra={"ownerId": owner_id}, exc_info=True)


async def refine_custom_model(
    models: Models,
    team_id: str,
    model_id: int,
    sources: TrainingImageSources,
    training_steps: int = 0,
    idempotency_key: str = "",
    key_spend: generation_pb2.KeySpend | None = None,
) -> Training:
    """Queue the training of the model's next version from its current (ready) one."""
    if training_steps:
        check_fields(training_steps=training_steps)
    # The model's row stays locked while the version is planned and written, so two refinements
    # (or a refinement and a deletion) never act on the same versions.
    async with models.engine.begin() as connection:
        model = await repository.load_model(connection, team_id, model_id, lock=True)
        if model is None:
            raise _not_found(model_id)
        replayed = (
            await repository.refinement_by_idempotency_key(connection, model_id, idempotency_key)
            if idempotency_key
            else None
        )
        if replayed is None:
            reference = await get_reference_model(models.engine, model.reference_model_id)
            plan = model.plan_refinement(
                num_new_images=len(sources),
                training_steps=training_steps,
                trainer_takes_weights=bool(starting_weights_parameter(reference.training_endpoint)),
            )
            await repository.insert_version(connection, plan, idempotency_key or None)
    if replayed is not None:
        return await _replay(models, team_id, model, replayed)

    async def roll_back() -> None:
        # Only this version's row: the model's files include its earlier versions', which stay.
        async with models.engine.begin() as connection:
            await repository.delete_version(connection, model_id, plan.version)

    job = await _start_training(
        models, team_id, plan, reference, model.trigger_word, sources, roll_back, key_spend
    )
    return Training(await _load(models, team_id, model_id), job)


async def get_custom_model(models: Models, team_id: str, model_id: int) -> CustomModel:
    return await _load(models, team_id, model_id)


async def list_custom_models(
    models: Models, team_id: str, *, statuses: Collection[ModelStatus], page_size: int, page_token: str
) -> tuple[list[CustomModel], str]:
    """One page of the team's models, newest first, and the token of the next page ("" on the last)."""
    limit = page_size_or_default(page_size)
    async with models.engine.connect() as connection:
        found = await repository.list_models(
            connection, team_id, statuses=statuses, before_id=cursor_id(page_token), limit=limit + 1
        )
    page = found[:limit]
    return page, (str(page[-1].id) if len(found) > limit else "")


async def update_custom_model(
    models: Models,
    team_id: str,
    model_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    current_version: int | None = None,
) -> CustomModel:
    """Change the given fields; a new current version must be a ready one."""
    check_fields(name=name, description=description, current_version=current_version)
    changes = {"name": name, "description": description, "current_version": current_version}
    async with models.engine.begin() as connection:
        model = await repository.load_model(connection, team_id, model_id, lock=True)
        if model is None:
            raise _not_found(model_id)
        if current_version is not None:
            model.check_current_version(current_version)
        await repository.update_model(
            connection, model_id, **{field: value for field, value in changes.items() if value is not None}
        )
    return await _load(models, team_id, model_id)


async def delete_custom_model(models: Models, team_id: str, model_id: int) -> list[str]:
    """Mark the model deleted, cancel its trainings in flight (generation refunds them), then have
    storage remove its files; returns the jobs cancelled.

    The mark comes first and every later step is idempotent, so deleting a deleted model again
    finishes what a partial failure (generation or storage down) left undone, and then answers that
    the model does not exist, as any read of it does.
    """
    async with models.engine.begin() as connection:
        model = await repository.load_model(connection, team_id, model_id, lock=True, include_deleted=True)
        if model is None:
            raise _not_found(model_id)
        await repository.mark_deleted(connection, model_id)
    cancelled = []
    for version in model.versions:
        if (
            version.status.in_flight
            and version.job_id
            and await models.peers.cancel_job(team_id, version.job_id)
        ):
            cancelled.append(version.job_id)
    async with models.engine.begin() as connection:
        await repository.cancel_in_flight_versions(connection, model_id, "the model was deleted")
    await models.peers.delete_owner_files(team_id, files_owner_id(model_id))
    if model.deleted_at is not None:
        raise _not_found(model_id)
    return cancelled


async def resolve_model_version(models: Models, team_id: str, model_id: int, version: int) -> ResolvedVersion:
    """What generating with the version (0: the current one) needs; not ready says why."""
    model = await _load(models, team_id, model_id)
    resolved = model.resolve(version)
    reference = await get_reference_model(models.engine, model.reference_model_id)
    return ResolvedVersion(reference, resolved, model.trigger_word)

"""Custom models and their versions in Postgres, loaded as domain objects, and the writes the use
cases make. Version status changes are conditional on the current status, so a repeated or late
training event changes nothing twice."""

from collections.abc import Collection

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from imagegen_models.adapters.tables import custom_model, model_version, reference_model
from imagegen_models.domain.custom_models import (
    CustomModel,
    ModelStatus,
    ModelVersion,
    NewCustomModel,
    TrainingFinished,
    TrainingPlan,
    TrainingSet,
    TrainingStarted,
    VersionStatus,
    status_filter,
)

_IN_FLIGHT = [status.value for status in VersionStatus if status.in_flight]

_MODELS = select(custom_model, reference_model.c.complexity_hundredths).join(
    reference_model, reference_model.c.id == custom_model.c.reference_model_id
)


def _version_key(model_id: int, version: int):
    return and_(model_version.c.custom_model_id == model_id, model_version.c.version == version)


def _version(row: Row) -> ModelVersion:
    return ModelVersion(
        version=row.version,
        status=VersionStatus(row.status),
        parent_version=row.parent_version or 0,
        job_id=row.job_id or "",
        training_steps=row.training_steps,
        training_image_file_ids=tuple(row.training_image_file_ids),
        training_zip_file_id=row.training_zip_file_id or "",
        weights_file_id=row.weights_file_id or "",
        config_file_id=row.config_file_id or "",
        starting_weights_file_id=row.starting_weights_file_id or "",
        estimated_credits_hundredths=row.estimated_credits_hundredths,
        charged_credits_hundredths=row.charged_credits_hundredths,
        failure_reason=row.failure_reason or "",
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


async def _with_versions(connection: AsyncConnection, rows: list[Row]) -> list[CustomModel]:
    versions: dict[int, list[ModelVersion]] = {row.id: [] for row in rows}
    if rows:
        found = await connection.execute(
            select(model_version)
            .where(model_version.c.custom_model_id.in_(list(versions)))
            .order_by(model_version.c.custom_model_id, model_version.c.version)
        )
        for version_row in found:
            versions[version_row.custom_model_id].append(_version(version_row))
    return [
        CustomModel(
            id=row.id,
            team_id=row.team_id,
            reference_model_id=row.reference_model_id,
            name=row.name,
            description=row.description,
            trigger_word=row.trigger_word,
            current_version=row.current_version,
            versions=tuple(versions[row.id]),
            complexity_hundredths=row.complexity_hundredths,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
        )
        for row in rows
    ]


async def load_model(
    connection: AsyncConnection,
    team_id: str,
    model_id: int,
    *,
    lock: bool = False,
    include_deleted: bool = False,
) -> CustomModel | None:
    """One of the team's models; `lock` holds its row until commit, serialising its writers."""
    query = _MODELS.where(custom_model.c.id == model_id, custom_model.c.team_id == team_id)
    if not include_deleted:
        query = query.where(custom_model.c.deleted_at.is_(None))
    if lock:
        query = query.with_for_update(of=custom_model)
    row = (await connection.execute(query)).one_or_none()
    return None if row is None else (await _with_versions(connection, [row]))[0]


async def model_by_idempotency_key(connection: AsyncConnection, team_id: str, key: str) -> CustomModel | None:
    """The model a create with this key made, deleted or not."""
    row = (
        await connection.execute(
            _MODELS.where(custom_model.c.team_id == team_id, custom_model.c.idempotency_key == key)
        )
    ).one_or_none()
    return None if row is None else (await _with_versions(connection, [row]))[0]


async def list_models(
    connection: AsyncConnection,
    team_id: str,
    *,
    statuses: Collection[ModelStatus],
    before_id: int | None,
    limit: int,
) -> list[CustomModel]:
    """The team's models newest first (by id), optionally only those in `statuses`."""
    first = model_version.alias("first_version")
    query = _MODELS.join(
        first, and_(first.c.custom_model_id == custom_model.c.id, first.c.version == 1)
    ).where(custom_model.c.team_id == team_id, custom_model.c.deleted_at.is_(None))
    if statuses:
        query = query.where(
            or_(
                *(
                    and_(
                        custom_model.c.current_version > 0
                        if has_current
                        else custom_model.c.current_version == 0,
                        first.c.status == first_status.value,
                    )
                    for has_current, first_status in status_filter(statuses)
                )
            )
        )
    if before_id is not None:
        query = query.where(custom_model.c.id < before_id)
    rows = (await connection.execute(query.order_by(custom_model.c.id.desc()).limit(limit))).all()
    return await _with_versions(connection, list(rows))


async def insert_model(
    connection: AsyncConnection, team_id: str, new: NewCustomModel, idempotency_key: str | None
) -> int | None:
    """The new model's id; None when the team already created one with this idempotency key."""
    statement = (
        pg_insert(custom_model)
        .values(
            team_id=team_id,
            reference_model_id=new.reference_model_id,
            name=new.name,
            description=new.description,
            trigger_word=new.trigger_word,
            idempotency_key=idempotency_key,
        )
        .on_conflict_do_nothing(index_elements=[custom_model.c.team_id, custom_model.c.idempotency_key])
        .returning(custom_model.c.id)
    )
    return (await connection.execute(statement)).scalar_one_or_none()


async def insert_version(
    connection: AsyncConnection, plan: TrainingPlan, idempotency_key: str | None
) -> None:
    await connection.execute(
        insert(model_version).values(
            custom_model_id=plan.custom_model_id,
            version=plan.version,
            status=VersionStatus.PENDING.value,
            parent_version=plan.parent_version or None,
            training_steps=plan.training_steps,
            starting_weights_file_id=plan.starting_weights_file_id or None,
            idempotency_key=idempotency_key,
        )
    )


async def refinement_by_idempotency_key(connection: AsyncConnection, model_id: int, key: str) -> int | None:
    """The version a refinement with this key made."""
    return (
        await connection.execute(
            select(model_version.c.version).where(
                model_version.c.custom_model_id == model_id, model_version.c.idempotency_key == key
            )
        )
    ).scalar_one_or_none()


async def record_training(
    connection: AsyncConnection, plan: TrainingPlan, job_id: str, estimate: int, training_set: TrainingSet
) -> None:
    # job_id may already be set, by a JobStarted that overtook generation's answer.
    await connection.execute(
        update(model_version)
        .where(_version_key(plan.custom_model_id, plan.version))
        .values(
            job_id=job_id,
            estimated_credits_hundredths=estimate,
            training_image_file_ids=training_set.image_file_ids,
            training_zip_file_id=training_set.zip_file_id,
        )
    )


async def delete_model(connection: AsyncConnection, model_id: int) -> None:
    """Remove a model and (by cascade) its versions: the roll-back of a creation that did not go through."""
    await connection.execute(delete(custom_model).where(custom_model.c.id == model_id))


async def delete_version(connection: AsyncConnection, model_id: int, version: int) -> None:
    await connection.execute(delete(model_version).where(_version_key(model_id, version)))


async def update_model(connection: AsyncConnection, model_id: int, **values: object) -> None:
    await connection.execute(
        update(custom_model).where(custom_model.c.id == model_id).values(**values, updated_at=func.now())
    )


async def mark_deleted(connection: AsyncConnection, model_id: int) -> None:
    """Set the deletion time once; a repeated deletion keeps the first."""
    await connection.execute(
        update(custom_model)
        .where(custom_model.c.id == model_id, custom_model.c.deleted_at.is_(None))
        .values(deleted_at=func.now(), updated_at=func.now())
    )


async def cancel_in_flight_versions(connection: AsyncConnection, model_id: int, reason: str) -> None:
    await connection.execute(
        update(model_version)
        .where(model_version.c.custom_model_id == model_id, model_version.c.status.in_(_IN_FLIGHT))
        .values(status=VersionStatus.CANCELLED.value, failure_reason=reason, finished_at=func.now())
    )


async def start_version(connection: AsyncConnection, event: TrainingStarted) -> bool:
    """pending -> training; False when the version was not pending (a repeat, or it already finished)."""
    result = await connection.execute(
        update(model_version)
        .where(
            _version_key(event.custom_model_id, event.version),
            model_version.c.status == VersionStatus.PENDING.value,
        )
        .values(
            status=VersionStatus.TRAINING.value,
            job_id=func.coalesce(model_version.c.job_id, event.job_id),
        )
    )
    return result.rowcount == 1


async def finish_version(connection: AsyncConnection, event: TrainingFinished) -> bool:
    """pending or training -> the event's terminal status, and a ready version becomes its model's
    current one; False when the version had already finished."""
    result = await connection.execute(
        update(model_version)
        .where(_version_key(event.custom_model_id, event.version), model_version.c.status.in_(_IN_FLIGHT))
        .values(
            status=event.status.value,
            job_id=func.coalesce(model_version.c.job_id, event.job_id),
            weights_file_id=event.weights_file_id or None,
            config_file_id=event.config_file_id or None,
            charged_credits_hundredths=event.charged_credits_hundredths,
            failure_reason=event.failure_reason or None,
            finished_at=func.now(),
        )
    )
    if result.rowcount != 1:
        return False
    if event.status is VersionStatus.READY:
        await update_model(connection, event.custom_model_id, current_version=event.version)
    return True


async def version_is_live(connection: AsyncConnection, model_id: int, version: int) -> bool:
    """Whether the version exists and its model has not been deleted."""
    live = exists().where(
        _version_key(model_id, version),
        custom_model.c.id == model_version.c.custom_model_id,
        custom_model.c.deleted_at.is_(None),
    )
    return bool(await connection.scalar(select(live)))

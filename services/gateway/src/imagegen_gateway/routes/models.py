"""A team's custom models: create from training images, refine into new versions, manage, delete."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from imagegen.generation.v1 import generation_service_pb2
from imagegen.models.v1 import models_pb2, models_service_pb2
from imagegen.storage.v1 import storage_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.adapters import api_keys, audit
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.deps import ReadTeamIdDep, ServicesDep, TrainCallerDep, TrainTeamIdDep
from imagegen_gateway.errors import ApiError

router = APIRouter(prefix="/api/models", tags=["custom models"])

# Checking a training set fetches every image; give it longer than an ordinary call.
TRAINING_SET_TIMEOUT_SECONDS = 180.0
ModelIdPath = Annotated[int, Path(gt=0, le=schemas.MAX_ID)]


def training_sources(images: list[str]) -> list[storage_pb2.TrainingImageSource]:
    """URLs are fetched by storage; anything else names a file uploaded through POST /api/uploads."""
    return [
        storage_pb2.TrainingImageSource(url=image)
        if image.startswith(("http://", "https://"))
        else storage_pb2.TrainingImageSource(upload_id=image)
        for image in images
    ]


async def model_public(
    services: Services, team_id: str, model: models_pb2.CustomModel
) -> schemas.CustomModelPublic:
    """The model, with the live progress of the versions still training."""
    progress = {}
    for version in model.versions:
        if version.status in translate.VERSIONS_IN_FLIGHT and version.job_id:
            job = await services.generation.GetJob(
                generation_service_pb2.GetJobRequest(team_id=team_id, job_id=version.job_id)
            )
            progress[version.job_id] = job.job.progress
    return translate.custom_model_public(model, progress)


@router.post("", status_code=202, response_model=schemas.CustomModelCreated, response_model_by_alias=True)
async def create_model(
    body: schemas.CustomModelCreate,
    caller: TrainCallerDep,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> schemas.CustomModelCreated:
    """Check the training set (every problem is listed, and a bad set costs nothing), then create the
    model and queue the training of its version 1 with its binding quote."""
    team_id = caller.team_id
    created = await services.models.CreateCustomModel(
        models_service_pb2.CreateCustomModelRequest(
            team_id=team_id,
            reference_model_id=body.reference_model_id,
            name=body.name,
            description=body.description,
            training_images=training_sources(body.training_images),
            trigger_word=body.trigger_word,
            training_steps=body.training_steps,
            idempotency_key=idempotency_key or "",
            key_spend=api_keys.key_spend(caller),
        ),
        timeout=TRAINING_SET_TIMEOUT_SECONDS,
    )
    return schemas.CustomModelCreated(
        custom_model=await model_public(services, team_id, created.custom_model),
        job=translate.job_public(created.job, {}),
    )


@router.get("", response_model=schemas.CustomModelPage, response_model_by_alias=True)
async def list_models(
    team_id: ReadTeamIdDep,
    services: ServicesDep,
    status: Annotated[list[str] | None, Query(description="pending, training, ready, failed")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.CustomModelPage:
    """The team's custom models, newest first."""
    names = [name for value in status or [] for name in value.split(",") if name]
    unknown = [name for name in names if name not in translate.MODEL_STATUS_FILTER]
    if unknown:
        choices = ", ".join(translate.MODEL_STATUS_FILTER)
        raise ApiError(400, "invalid_request", "unknown status", {"status": f"one of {choices}"})
    response = await services.models.ListCustomModels(
        models_service_pb2.ListCustomModelsRequest(
            team_id=team_id,
            statuses=[translate.MODEL_STATUS_FILTER[name] for name in names],
            page_size=limit,
            page_token=cursor or "",
        )
    )
    return schemas.CustomModelPage(
        items=[await model_public(services, team_id, model) for model in response.custom_models],
        next_cursor=response.next_page_token or None,
    )


@router.get("/{custom_model_id}", response_model=schemas.CustomModelPublic, response_model_by_alias=True)
async def get_model(
    custom_model_id: ModelIdPath, team_id: ReadTeamIdDep, services: ServicesDep
) -> schemas.CustomModelPublic:
    """One custom model with every version, which one is current, and live training progress."""
    response = await services.models.GetCustomModel(
        models_service_pb2.GetCustomModelRequest(team_id=team_id, custom_model_id=custom_model_id)
    )
    return await model_public(services, team_id, response.custom_model)


@router.patch("/{custom_model_id}", response_model=schemas.CustomModelPublic, response_model_by_alias=True)
async def update_model(
    custom_model_id: ModelIdPath,
    body: schemas.CustomModelUpdate,
    team_id: TrainTeamIdDep,
    services: ServicesDep,
) -> schemas.CustomModelPublic:
    """Rename, describe, or choose the (ready) version generation uses by default."""
    response = await services.models.UpdateCustomModel(
        models_service_pb2.UpdateCustomModelRequest(
            team_id=team_id,
            custom_model_id=custom_model_id,
            name=body.name,
            description=body.description,
            current_version=body.current_version,
        )
    )
    return await model_public(services, team_id, response.custom_model)


@router.delete("/{custom_model_id}", status_code=204, response_class=Response)
async def delete_model(
    custom_model_id: ModelIdPath, caller: TrainCallerDep, services: ServicesDep, request: Request
) -> Response:
    """Delete the model: its trainings still in flight are cancelled and refunded, and its files
    (training images, zips, weights) are removed by the retention cleanup."""
    deleted = await services.models.DeleteCustomModel(
        models_service_pb2.DeleteCustomModelRequest(team_id=caller.team_id, custom_model_id=custom_model_id)
    )
    await audit.record(
        request.app.state.engine,
        caller,
        "custom_model.deleted",
        "custom_model",
        str(custom_model_id),
        {"cancelledJobIds": list(deleted.cancelled_job_ids)},
    )
    return Response(status_code=204)


@router.post(
    "/{custom_model_id}/refine",
    status_code=202,
    response_model=schemas.CustomModelCreated,
    response_model_by_alias=True,
)
async def refine_model(
    custom_model_id: ModelIdPath,
    body: schemas.CustomModelRefine,
    caller: TrainCallerDep,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> schemas.CustomModelCreated:
    """Train the next version from the current one's images plus new ones and/or a different number
    of steps, priced by the refinement formula with its iteration."""
    team_id = caller.team_id
    refined = await services.models.RefineCustomModel(
        models_service_pb2.RefineCustomModelRequest(
            team_id=team_id,
            custom_model_id=custom_model_id,
            training_images=training_sources(body.training_images),
            training_steps=body.training_steps or 0,
            idempotency_key=idempotency_key or "",
            key_spend=api_keys.key_spend(caller),
        ),
        timeout=TRAINING_SET_TIMEOUT_SECONDS,
    )
    return schemas.CustomModelCreated(
        custom_model=await model_public(services, team_id, refined.custom_model),
        job=translate.job_public(refined.job, {}),
    )

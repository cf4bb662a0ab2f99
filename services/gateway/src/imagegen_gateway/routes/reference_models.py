"""The reference catalog."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from imagegen.models.v1 import models_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.deps import ReadTeamIdDep, ServicesDep

router = APIRouter(prefix="/api/reference-models", tags=["reference models"])


@router.get("", response_model=schemas.ReferenceModelPage, response_model_by_alias=True)
async def list_reference_models(
    team_id: ReadTeamIdDep,
    services: ServicesDep,
    category: Annotated[str | None, Query(examples=["fashion"])] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="words to find in name, description or tags")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.ReferenceModelPage:
    """Catalog models in id order, optionally of one category or matching a text search."""
    response = await services.models.ListReferenceModels(
        models_service_pb2.ListReferenceModelsRequest(
            category=category or "", page_size=limit, page_token=cursor or "", query=q or ""
        )
    )
    return schemas.ReferenceModelPage(
        items=[translate.reference_model_public(model) for model in response.reference_models],
        next_cursor=response.next_page_token or None,
    )


@router.get("/{model_id}", response_model=schemas.ReferenceModelPublic, response_model_by_alias=True)
async def get_reference_model(
    model_id: Annotated[int, Path(gt=0, le=schemas.MAX_ID)], team_id: ReadTeamIdDep, services: ServicesDep
) -> schemas.ReferenceModelPublic:
    """One catalog model."""
    response = await services.models.GetReferenceModel(
        models_service_pb2.GetReferenceModelRequest(id=model_id, with_preview_url=True)
    )
    return translate.reference_model_public(response.reference_model)

"""Images by id: metadata with a fresh signed URL, and a stable link that redirects to one."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from imagegen.storage.v1 import storage_pb2, storage_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.deps import ReadTeamIdDep, ServicesDep
from imagegen_gateway.errors import ApiError

router = APIRouter(prefix="/api/images", tags=["images"])

# Stored files that are images; weights and training zips are not served here.
_IMAGE_KINDS = {
    storage_pb2.FILE_KIND_GENERATED_IMAGE,
    storage_pb2.FILE_KIND_TRAINING_IMAGE,
    storage_pb2.FILE_KIND_PREVIEW,
}


async def _image(services: ServicesDep, team_id: str, image_id: str) -> schemas.ImagePublic:
    response = await services.storage.GetFile(
        storage_service_pb2.GetFileRequest(team_id=team_id, file_id=image_id)
    )
    if response.file.kind not in _IMAGE_KINDS:
        raise ApiError(404, "image_not_found", "no such image")
    return translate.image_public(response.file, response.signed_url)


@router.get("/{image_id}", response_model=schemas.ImagePublic, response_model_by_alias=True)
async def get_image(image_id: str, team_id: ReadTeamIdDep, services: ServicesDep) -> schemas.ImagePublic:
    """An image: size and type, and a freshly signed URL while available (else its status and date)."""
    return await _image(services, team_id, image_id)


@router.get(
    "/{image_id}/content",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "redirects to a freshly signed URL of the image"},
        410: {"description": "the image expired (retention) or was deleted with its job"},
    },
)
async def get_image_content(image_id: str, team_id: ReadTeamIdDep, services: ServicesDep) -> RedirectResponse:
    """Redirect to a freshly signed URL: a saved link keeps working for as long as the image lives."""
    image = await _image(services, team_id, image_id)
    if image.status != "available" or image.url is None:
        until = image.available_until.isoformat().replace("+00:00", "Z") if image.available_until else None
        raise ApiError(
            410,
            f"image_{image.status}",
            f"the image is {image.status} and can no longer be read",
            {"status": image.status, "availableUntil": until},
        )
    # The redirect must not outlive the URL it points to: never cache it.
    return RedirectResponse(image.url, status_code=302, headers={"Cache-Control": "no-store"})

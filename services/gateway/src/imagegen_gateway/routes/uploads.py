"""Presigned uploads of training images, so large files go straight to the bucket."""

from fastapi import APIRouter
from imagegen.storage.v1 import storage_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.deps import ServicesDep, TrainTeamIdDep

router = APIRouter(prefix="/api/uploads", tags=["custom models"])


@router.post("", status_code=201, response_model=schemas.UploadPublic, response_model_by_alias=True)
async def create_upload(
    body: schemas.UploadCreate, team_id: TrainTeamIdDep, services: ServicesDep
) -> schemas.UploadPublic:
    """A URL to PUT one training image to; name the returned `id` in a model's `trainingImages`."""
    response = await services.storage.CreateUpload(
        storage_service_pb2.CreateUploadRequest(
            team_id=team_id,
            content_type=body.content_type,
            size_bytes=body.size_bytes,
            filename=body.filename or "",
        )
    )
    return schemas.UploadPublic(
        id=response.file.id,
        upload_url=response.upload_url,
        headers=dict(response.upload_headers),
        expires_at=translate.utc(response.upload_expires_at),
    )

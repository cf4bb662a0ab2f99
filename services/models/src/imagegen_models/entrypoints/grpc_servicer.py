"""ModelsService over gRPC: translates between wire messages and the handlers."""

import grpc
from google.protobuf import json_format, struct_pb2
from imagegen.models.v1 import models_pb2, models_service_pb2, models_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_models.domain.catalog import ReferenceModel
from imagegen_models.service_layer import handlers


def reference_model_message(model: ReferenceModel) -> models_pb2.ReferenceModel:
    parameters = struct_pb2.Struct()
    json_format.ParseDict(model.default_parameters, parameters)
    return models_pb2.ReferenceModel(
        id=model.id,
        name=model.name,
        category=model.category,
        description=model.description,
        tags=list(model.tags),
        complexity_hundredths=model.complexity_hundredths,
        provider_endpoint=model.provider_endpoint,
        default_parameters=parameters,
    )


def _after_id(page_token: str) -> int:
    if not page_token:
        return 0
    if not page_token.isdigit():
        raise InvalidArgument("invalid_cursor", "the cursor is not one this API handed out")
    return int(page_token)


class ModelsServicer(models_service_pb2_grpc.ModelsServiceServicer):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def GetReferenceModel(self, request, context: grpc.aio.ServicerContext):
        """Return one catalog model."""
        model = await handlers.get_reference_model(self.engine, request.id)
        return models_service_pb2.GetReferenceModelResponse(reference_model=reference_model_message(model))

    async def ListReferenceModels(self, request, context: grpc.aio.ServicerContext):
        """Page through the catalog in id order."""
        models, last_id = await handlers.list_reference_models(
            self.engine,
            category=request.category,
            page_size=request.page_size,
            after_id=_after_id(request.page_token),
            query_text=request.query,
        )
        return models_service_pb2.ListReferenceModelsResponse(
            reference_models=[reference_model_message(m) for m in models],
            next_page_token="" if last_id is None else str(last_id),
        )

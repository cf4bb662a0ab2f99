"""ModelsService over gRPC: translates between wire messages and the handlers."""

from datetime import datetime

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.models.v1 import models_pb2, models_service_pb2, models_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument

from imagegen_models.adapters.peers import SignedUrl
from imagegen_models.domain.catalog import ReferenceModel
from imagegen_models.domain.custom_models import (
    DEFAULT_TRAINING_STEPS,
    CustomModel,
    ModelStatus,
    ModelVersion,
    NewCustomModel,
    VersionStatus,
)
from imagegen_models.service_layer import custom_models, handlers
from imagegen_models.service_layer.handlers import Models

_MODEL_STATUS_TO_WIRE = {
    ModelStatus.PENDING: models_pb2.CUSTOM_MODEL_STATUS_PENDING,
    ModelStatus.TRAINING: models_pb2.CUSTOM_MODEL_STATUS_TRAINING,
    ModelStatus.READY: models_pb2.CUSTOM_MODEL_STATUS_READY,
    ModelStatus.FAILED: models_pb2.CUSTOM_MODEL_STATUS_FAILED,
}
_MODEL_STATUS_FROM_WIRE = {wire: status for status, wire in _MODEL_STATUS_TO_WIRE.items()}
_VERSION_STATUS_TO_WIRE = {
    VersionStatus.PENDING: models_pb2.MODEL_VERSION_STATUS_PENDING,
    VersionStatus.TRAINING: models_pb2.MODEL_VERSION_STATUS_TRAINING,
    VersionStatus.READY: models_pb2.MODEL_VERSION_STATUS_READY,
    VersionStatus.FAILED: models_pb2.MODEL_VERSION_STATUS_FAILED,
    VersionStatus.CANCELLED: models_pb2.MODEL_VERSION_STATUS_CANCELLED,
}


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def reference_model_message(
    model: ReferenceModel, preview: SignedUrl | None = None
) -> models_pb2.ReferenceModel:
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
        preview_url=preview.url if preview else "",
        preview_url_expires_at=_timestamp(preview.expires_at if preview else None),
        training_endpoint=model.training_endpoint,
    )


def _version_message(version: ModelVersion) -> models_pb2.ModelVersion:
    return models_pb2.ModelVersion(
        version=version.version,
        status=_VERSION_STATUS_TO_WIRE[version.status],
        parent_version=version.parent_version,
        job_id=version.job_id,
        training_steps=version.training_steps,
        training_image_file_ids=list(version.training_image_file_ids),
        training_zip_file_id=version.training_zip_file_id,
        weights_file_id=version.weights_file_id,
        config_file_id=version.config_file_id,
        starting_weights_file_id=version.starting_weights_file_id,
        estimated_credits_hundredths=version.estimated_credits_hundredths,
        charged_credits_hundredths=version.charged_credits_hundredths,
        failure_reason=version.failure_reason,
        created_at=_timestamp(version.created_at),
        finished_at=_timestamp(version.finished_at),
    )


def custom_model_message(model: CustomModel) -> models_pb2.CustomModel:
    return models_pb2.CustomModel(
        id=model.id,
        team_id=model.team_id,
        reference_model_id=model.reference_model_id,
        name=model.name,
        description=model.description,
        trigger_word=model.trigger_word,
        status=_MODEL_STATUS_TO_WIRE[model.status],
        current_version=model.current_version,
        versions=[_version_message(version) for version in model.versions],
        created_at=_timestamp(model.created_at),
        updated_at=_timestamp(model.updated_at),
        complexity_hundredths=model.complexity_hundredths,
    )


def _statuses(wire_statuses) -> set[ModelStatus]:
    unknown = [status for status in wire_statuses if status not in _MODEL_STATUS_FROM_WIRE]
    if unknown:
        raise InvalidArgument(
            "invalid_status",
            "unknown custom model status",
            {"status": "one of pending, training, ready, failed"},
        )
    return {_MODEL_STATUS_FROM_WIRE[status] for status in wire_statuses}


def _optional(request, field: str):
    return getattr(request, field) if request.HasField(field) else None


class ModelsServicer(models_service_pb2_grpc.ModelsServiceServicer):
    def __init__(self, models: Models) -> None:
        self.models = models

    async def GetReferenceModel(self, request, context: grpc.aio.ServicerContext):
        """Return one catalog model."""
        if not request.with_preview_url:
            model = await handlers.get_reference_model(self.models.engine, request.id)
            return models_service_pb2.GetReferenceModelResponse(
                reference_model=reference_model_message(model)
            )
        entry = await handlers.get_catalog_entry(self.models, request.id)
        return models_service_pb2.GetReferenceModelResponse(
            reference_model=reference_model_message(entry.model, entry.preview)
        )

    async def ListReferenceModels(self, request, context: grpc.aio.ServicerContext):
        """Page through the catalog in id order."""
        entries, last_id = await handlers.list_reference_models(
            self.models,
            category=request.category,
            page_size=request.page_size,
            after_id=handlers.cursor_id(request.page_token) or 0,
            query_text=request.query,
        )
        return models_service_pb2.ListReferenceModelsResponse(
            reference_models=[reference_model_message(entry.model, entry.preview) for entry in entries],
            next_page_token="" if last_id is None else str(last_id),
        )

    async def CreateCustomModel(self, request, context: grpc.aio.ServicerContext):
        """Check the training set, then create the model and queue version 1's training."""
        new = NewCustomModel(
            reference_model_id=request.reference_model_id,
            name=request.name,
            description=request.description,
            trigger_word=request.trigger_word,
            # 0 is proto3's "not set".
            training_steps=request.training_steps or DEFAULT_TRAINING_STEPS,
        )
        training = await custom_models.create_custom_model(
            self.models,
            request.team_id,
            new,
            list(request.training_images),
            request.idempotency_key,
            request.key_spend if request.HasField("key_spend") else None,
        )
        return models_service_pb2.CreateCustomModelResponse(
            custom_model=custom_model_message(training.model), job=training.job
        )

    async def RefineCustomModel(self, request, context: grpc.aio.ServicerContext):
        """Queue the training of the model's next version."""
        training = await custom_models.refine_custom_model(
            self.models,
            request.team_id,
            request.custom_model_id,
            list(request.training_images),
            request.training_steps,
            request.idempotency_key,
            request.key_spend if request.HasField("key_spend") else None,
        )
        return models_service_pb2.RefineCustomModelResponse(
            custom_model=custom_model_message(training.model), job=training.job
        )

    async def GetCustomModel(self, request, context: grpc.aio.ServicerContext):
        """Return one of the team's models with its versions."""
        model = await custom_models.get_custom_model(self.models, request.team_id, request.custom_model_id)
        return models_service_pb2.GetCustomModelResponse(custom_model=custom_model_message(model))

    async def ListCustomModels(self, request, context: grpc.aio.ServicerContext):
        """Page through the team's models, newest first."""
        page, next_token = await custom_models.list_custom_models(
            self.models,
            request.team_id,
            statuses=_statuses(request.statuses),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return models_service_pb2.ListCustomModelsResponse(
            custom_models=[custom_model_message(model) for model in page], next_page_token=next_token
        )

    async def UpdateCustomModel(self, request, context: grpc.aio.ServicerContext):
        """Change a model's name, description or current version."""
        model = await custom_models.update_custom_model(
            self.models,
            request.team_id,
            request.custom_model_id,
            name=_optional(request, "name"),
            description=_optional(request, "description"),
            current_version=_optional(request, "current_version"),
        )
        return models_service_pb2.UpdateCustomModelResponse(custom_model=custom_model_message(model))

    async def DeleteCustomModel(self, request, context: grpc.aio.ServicerContext):
        """Cancel the model's trainings in flight (refunded) and remove it and its files."""
        cancelled = await custom_models.delete_custom_model(
            self.models, request.team_id, request.custom_model_id
        )
        return models_service_pb2.DeleteCustomModelResponse(cancelled_job_ids=cancelled)

    async def ResolveModelVersion(self, request, context: grpc.aio.ServicerContext):
        """Say what generating with a ready version needs; a version that is not ready says why."""
        resolved = await custom_models.resolve_model_version(
            self.models, request.team_id, request.custom_model_id, request.version
        )
        return models_service_pb2.ResolveModelVersionResponse(
            reference_model=reference_model_message(resolved.reference_model),
            version=resolved.version.version,
            weights_file_id=resolved.version.weights_file_id,
            trigger_word=resolved.trigger_word,
        )

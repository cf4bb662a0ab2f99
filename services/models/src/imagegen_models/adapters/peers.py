"""Clients of the services models calls: storage (training sets, previews, file removal) and
generation (training jobs). Failed calls raise grpc.aio.AioRpcError, whose status the gRPC server
passes on to our own caller unchanged."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from imagegen.generation.v1 import generation_pb2, generation_service_pb2, generation_service_pb2_grpc
from imagegen.storage.v1 import storage_pb2, storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform.grpc_client import open_channel

from imagegen_models.domain.catalog import ReferenceModel, starting_weights_parameter
from imagegen_models.domain.custom_models import (
    TRAINING_SET_RULES,
    TrainingPlan,
    TrainingSet,
    TrainingSetProblem,
)

# The team that owns the catalog's previews in storage.
CATALOG_TEAM_ID = "catalog"
# Signing previews decorates a catalog read; it must not hold one up for long.
PREVIEW_SIGN_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime


class Peers:
    def __init__(self, storage_addr: str, generation_addr: str) -> None:
        self._channels: list[grpc.aio.Channel] = [
            # Preparing a training set fetches and checks every image; give it longer than the default.
            open_channel(storage_addr, timeout_seconds=120.0),
            open_channel(generation_addr),
        ]
        self.storage = storage_service_pb2_grpc.StorageServiceStub(self._channels[0])
        self.generation = generation_service_pb2_grpc.GenerationServiceStub(self._channels[1])

    async def prepare_training_set(
        self, team_id: str, plan: TrainingPlan, new_sources: Sequence[storage_pb2.TrainingImageSource]
    ) -> TrainingSet:
        """The parent version's images (if any) then the new ones, checked and stored once per version."""
        sources = [storage_pb2.TrainingImageSource(file_id=file_id) for file_id in plan.parent_image_file_ids]
        rules = TRAINING_SET_RULES
        response = await self.storage.PrepareTrainingSet(
            storage_service_pb2.PrepareTrainingSetRequest(
                team_id=team_id,
                owner_id=plan.files_owner_id,
                sources=[*sources, *new_sources],
                rules=storage_pb2.TrainingSetRules(
                    min_images=rules.min_images,
                    max_images=rules.max_images,
                    min_short_side_pixels=rules.min_short_side_pixels,
                ),
                idempotency_key=plan.idempotency_key,
            )
        )
        return TrainingSet(
            problems=[TrainingSetProblem(p.index, p.code, p.message) for p in response.problems],
            image_file_ids=[image.id for image in response.images],
            zip_file_id=response.zip.id,
        )

    async def create_training_job(
        self,
        team_id: str,
        plan: TrainingPlan,
        *,
        reference: ReferenceModel,
        trigger_word: str,
        training_set: TrainingSet,
        key_spend: generation_pb2.KeySpend | None = None,
    ) -> generation_pb2.Job:
        """Quote, reserve and queue the version's training; a refusal (insufficient credits) raises."""
        response = await self.generation.CreateModelTrainingJob(
            generation_service_pb2.CreateModelTrainingJobRequest(
                team_id=team_id,
                input=generation_pb2.ModelTrainingInput(
                    custom_model_id=plan.custom_model_id,
                    model_version=plan.version,
                    reference_model_id=reference.id,
                    trigger_word=trigger_word,
                    training_steps=plan.training_steps,
                    num_training_images=len(training_set.image_file_ids),
                    training_zip_file_id=training_set.zip_file_id,
                    starting_weights_file_id=plan.starting_weights_file_id,
                    iteration=plan.iteration,
                    files_owner_id=plan.files_owner_id,
                ),
                complexity_hundredths=reference.complexity_hundredths,
                training_endpoint=reference.training_endpoint,
                starting_weights_parameter=starting_weights_parameter(reference.training_endpoint),
                idempotency_key=plan.idempotency_key,
                key_spend=key_spend,
            )
        )
        return response.job

    async def get_job(self, team_id: str, job_id: str) -> generation_pb2.Job:
        response = await self.generation.GetJob(
            generation_service_pb2.GetJobRequest(team_id=team_id, job_id=job_id)
        )
        return response.job

    async def cancel_job(self, team_id: str, job_id: str) -> bool:
        """Cancel (and refund) a job; False when it had already finished, so there was nothing to stop."""
        try:
            await self.generation.CancelJob(
                generation_service_pb2.CancelJobRequest(team_id=team_id, job_id=job_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                return False
            raise
        return True

    async def delete_owner_files(self, team_id: str, owner_id: str) -> None:
        """Mark every file of the owner for removal; repeating it is harmless."""
        await self.storage.DeleteOwnerFiles(
            storage_service_pb2.DeleteOwnerFilesRequest(team_id=team_id, owner_id=owner_id)
        )

    async def put_preview(self, owner_id: str, content: bytes, idempotency_key: str) -> str:
        """Store a catalog preview once (by key); returns its file id."""
        response = await self.storage.PutFile(
            storage_service_pb2.PutFileRequest(
                team_id=CATALOG_TEAM_ID,
                kind=storage_pb2.FILE_KIND_PREVIEW,
                owner_id=owner_id,
                content=content,
                idempotency_key=idempotency_key,
            )
        )
        return response.file.id

    async def sign_previews(self, file_ids: list[str]) -> dict[str, SignedUrl]:
        """Fresh read URLs of catalog previews by file id; a file that cannot be read has none."""
        response = await self.storage.SignFileUrls(
            storage_service_pb2.SignFileUrlsRequest(team_id=CATALOG_TEAM_ID, file_ids=file_ids),
            timeout=PREVIEW_SIGN_TIMEOUT_SECONDS,
        )
        return {
            signed.file_id: SignedUrl(signed.url, signed.expires_at.ToDatetime(tzinfo=UTC))
            for signed in response.signed_urls
            if signed.url
        }

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

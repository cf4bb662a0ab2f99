"""Clients of the services generation calls: models, credits and storage."""

import time
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format
from imagegen.credits.v1 import credits_pb2, credits_service_pb2, credits_service_pb2_grpc
from imagegen.models.v1 import models_service_pb2, models_service_pb2_grpc
from imagegen.storage.v1 import storage_pb2, storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform.errors import FailedPrecondition
from imagegen_platform.grpc_client import open_channel

from imagegen_generation.domain.jobs import LoraWeights


@dataclass(frozen=True)
class CatalogModel:
    complexity_hundredths: int
    provider_endpoint: str
    default_parameters: dict[str, Any]
    id: int = 0


@dataclass(frozen=True)
class ResolvedVersion:
    """A ready custom model version: its reference model, resolved number and weights."""

    reference_model: CatalogModel
    version: int
    lora: LoraWeights


@dataclass(frozen=True)
class NextRefinement:
    """What prices a custom model's next refinement."""

    complexity_hundredths: int
    iteration: int


@dataclass(frozen=True)
class PlanLimits:
    # Higher tiers are dispatched first: 3 enterprise, 2 pro, 1 basic, 0 free.
    rank: int
    max_concurrent: int


_PLAN_RANK = {
    credits_pb2.PLAN_FREE: 0,
    credits_pb2.PLAN_BASIC: 1,
    credits_pb2.PLAN_PRO: 2,
    credits_pb2.PLAN_ENTERPRISE: 3,
}


# A plan's name by rank (free, basic, pro, enterprise): its images' retention.
PLAN_NAMES = {
    rank: credits_pb2.Plan.Name(plan).removeprefix("PLAN_").lower() for plan, rank in _PLAN_RANK.items()
}


def _plan_limits(balance: credits_pb2.Balance) -> PlanLimits:
    return PlanLimits(_PLAN_RANK.get(balance.plan, 0), balance.max_concurrent_jobs)


@dataclass(frozen=True)
class Quote:
    amount_hundredths: int
    pricing_version: int
    breakdown: dict[str, str]


@dataclass(frozen=True)
class StoredImage:
    file_id: str
    width: int
    height: int
    content_type: str


def _catalog_model(model) -> CatalogModel:
    return CatalogModel(
        complexity_hundredths=model.complexity_hundredths,
        provider_endpoint=model.provider_endpoint,
        default_parameters=json_format.MessageToDict(model.default_parameters),
        id=model.id,
    )


def _quote(quote) -> Quote:
    return Quote(quote.amount_hundredths, quote.pricing_version, dict(quote.breakdown))


# The reference catalog is seeded reference data; a process re-reads a model after this long.
CATALOG_CACHE_SECONDS = 60.0


class Peers:
    def __init__(self, models_addr: str, credits_addr: str, storage_addr: str) -> None:
        # Reference models by id, with the monotonic time each was read: every image job of a
        # reference model needs it, and asking the models service each time is a round trip per job.
        self._catalog: dict[int, tuple[float, CatalogModel]] = {}
        self._channels: list[grpc.aio.Channel] = [
            open_channel(models_addr),
            open_channel(credits_addr),
            # Importing copies whole images; give it longer than the default deadline.
            open_channel(storage_addr, timeout_seconds=120.0),
        ]
        self.models = models_service_pb2_grpc.ModelsServiceStub(self._channels[0])
        self.credits = credits_service_pb2_grpc.CreditsServiceStub(self._channels[1])
        self.storage = storage_service_pb2_grpc.StorageServiceStub(self._channels[2])

    async def reference_model(self, model_id: int) -> CatalogModel:
        cached = self._catalog.get(model_id)
        if cached is not None and time.monotonic() - cached[0] < CATALOG_CACHE_SECONDS:
            return cached[1]
        response = await self.models.GetReferenceModel(
            models_service_pb2.GetReferenceModelRequest(id=model_id)
        )
        model = _catalog_model(response.reference_model)
        self._catalog[model_id] = (time.monotonic(), model)
        return model

    async def resolve_model_version(
        self, team_id: str, custom_model_id: int, version: int
    ) -> ResolvedVersion:
        """The custom model's pinned (or current) version; one that is not ready is a failed precondition."""
        response = await self.models.ResolveModelVersion(
            models_service_pb2.ResolveModelVersionRequest(
                team_id=team_id, custom_model_id=custom_model_id, version=version
            )
        )
        return ResolvedVersion(
            _catalog_model(response.reference_model),
            response.version,
            LoraWeights(response.weights_file_id, response.trigger_word),
        )

    async def next_refinement(self, team_id: str, custom_model_id: int) -> NextRefinement:
        response = await self.models.GetCustomModel(
            models_service_pb2.GetCustomModelRequest(team_id=team_id, custom_model_id=custom_model_id)
        )
        model = response.custom_model
        # Version n+1 is the n-th refinement.
        latest = max((version.version for version in model.versions), default=1)
        return NextRefinement(model.complexity_hundredths, latest)

    async def quote_image_generation(
        self, resolution: str, quality: str, complexity_hundredths: int, num_images: int
    ) -> Quote:
        response = await self.credits.QuoteImageGeneration(
            credits_service_pb2.QuoteImageGenerationRequest(
                resolution=resolution,
                quality=quality,
                model_complexity_hundredths=complexity_hundredths,
                num_images=num_images,
            )
        )
        return _quote(response.quote)

    async def quote_model_creation(self, complexity_hundredths: int, num_training_images: int) -> Quote:
        response = await self.credits.QuoteModelCreation(
            credits_service_pb2.QuoteModelCreationRequest(
                reference_complexity_hundredths=complexity_hundredths, num_training_images=num_training_images
            )
        )
        return _quote(response.quote)

    async def quote_model_refinement(self, complexity_hundredths: int, iteration: int) -> Quote:
        response = await self.credits.QuoteModelRefinement(
            credits_service_pb2.QuoteModelRefinementRequest(
                model_complexity_hundredths=complexity_hundredths, iteration=iteration
            )
        )
        return _quote(response.quote)

    async def reserve(self, team_id: str, amount_hundredths: int, key: str) -> PlanLimits:
        """Hold the amount for the job keyed `key`; answers the team's plan in effect."""
        response = await self.credits.ReserveCredits(
            credits_service_pb2.ReserveCreditsRequest(
                team_id=team_id, amount_hundredths=amount_hundredths, idempotency_key=key
            )
        )
        return _plan_limits(response.balance)

    async def plan_limits(self, team_id: str) -> PlanLimits:
        """The team's plan in effect: its tier and how many jobs it may run at once."""
        response = await self.credits.GetBalance(credits_service_pb2.GetBalanceRequest(team_id=team_id))
        return _plan_limits(response.balance)

    async def release(self, key: str) -> None:
        await self.credits.ReleaseCredits(credits_service_pb2.ReleaseCreditsRequest(idempotency_key=key))

    async def import_image(
        self, team_id: str, plan: str, job_id: str, position: int, url: str
    ) -> StoredImage:
        response = await self.storage.ImportFile(
            storage_service_pb2.ImportFileRequest(
                team_id=team_id,
                kind=storage_pb2.FILE_KIND_GENERATED_IMAGE,
                owner_id=job_id,
                source_url=url,
                idempotency_key=f"{job_id}/{position}",
                plan=plan,
            )
        )
        stored = response.file
        return StoredImage(stored.id, stored.width, stored.height, stored.content_type)

    async def import_file(
        self, team_id: str, kind: "storage_pb2.FileKind", owner_id: str, url: str, key: str
    ) -> str:
        """Copy a provider's output file into our bucket once (by key); returns its file id."""
        response = await self.storage.ImportFile(
            storage_service_pb2.ImportFileRequest(
                team_id=team_id, kind=kind, owner_id=owner_id, source_url=url, idempotency_key=key
            )
        )
        return response.file.id

    async def sign_files(self, team_id: str, file_ids: list[str]) -> dict[str, str]:
        """Fresh read URLs by file id; a file that can no longer be read is a failed precondition."""
        response = await self.storage.SignFileUrls(
            storage_service_pb2.SignFileUrlsRequest(team_id=team_id, file_ids=file_ids)
        )
        unreadable = [signed.file_id for signed in response.signed_urls if not signed.url]
        if unreadable:
            raise FailedPrecondition(
                "file_unavailable", "a file the job needs was removed", {"fileIds": ",".join(unreadable)}
            )
        return {signed.file_id: signed.url for signed in response.signed_urls}

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

"""Composition root: builds the generation use cases' dependencies from settings."""

from datetime import timedelta

from imagegen_platform import db

from imagegen_generation.adapters.peers import Peers
from imagegen_generation.adapters.provider import FalProvider
from imagegen_generation.config import GenerationSettings
from imagegen_generation.service_layer.handlers import Generation


def build_generation(settings: GenerationSettings) -> Generation:
    return Generation(
        engine=db.create_engine(settings.database_url),
        peers=Peers(settings.models_addr, settings.credits_addr, settings.storage_addr),
        provider=FalProvider(settings.fal_key.get_secret_value()),
        webhook_url=settings.webhook_base_url.rstrip("/") + "/api/webhooks/fal",
        provider_max_attempts=settings.provider_max_attempts,
        claim_timeout=timedelta(seconds=settings.worker_ack_wait_seconds),
    )

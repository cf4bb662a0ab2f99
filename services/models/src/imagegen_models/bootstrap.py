"""Composition root: builds the models use cases' dependencies from settings."""

from imagegen_platform import db

from imagegen_models.adapters.peers import Peers
from imagegen_models.config import ModelsSettings
from imagegen_models.service_layer.handlers import Models


def build_models(settings: ModelsSettings) -> Models:
    return Models(
        engine=db.create_engine(settings.database_url),
        peers=Peers(settings.storage_addr, settings.generation_addr),
    )

"""`imagegen-models migrate` upgrades the schema and seeds the catalog; `imagegen-models serve` runs
gRPC, the consumer of training events, and (in the background) the storing of catalog previews."""

import asyncio
from pathlib import Path

from imagegen.models.v1 import models_service_pb2, models_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main
from imagegen_platform.events import GENERATION_STREAM_CONFIG, create_broker, ensure_stream

from imagegen_models.adapters.tables import SCHEMA
from imagegen_models.bootstrap import build_models
from imagegen_models.config import ModelsSettings
from imagegen_models.entrypoints.events import register_training_consumers
from imagegen_models.entrypoints.grpc_servicer import ModelsServicer
from imagegen_models.service_layer.handlers import seed_catalog
from imagegen_models.service_layer.previews import keep_storing_previews

MIGRATIONS = Path(__file__).parent / "migrations"


async def _seed(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    try:
        await seed_catalog(engine)
    finally:
        await engine.dispose()


def migrate(database_url: str) -> None:
    """Upgrade the schema, then upsert the reference catalog."""
    db.migrate(database_url, MIGRATIONS, SCHEMA)
    asyncio.run(_seed(database_url))


async def serve(settings: ModelsSettings) -> None:
    models = build_models(settings)
    broker = create_broker(settings.nats_url)
    register_training_consumers(broker, models)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG, settings.stream_replicas)
    await broker.start()
    previews = asyncio.create_task(keep_storing_previews(models))

    def register(server):
        models_service_pb2_grpc.add_ModelsServiceServicer_to_server(ModelsServicer(models), server)
        return [models_service_pb2.DESCRIPTOR.services_by_name["ModelsService"].full_name]

    try:
        await grpc_server.serve(
            host=settings.grpc_host,
            port=settings.grpc_port,
            register=register,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        previews.cancel()
        await broker.stop()
        await models.peers.close()
        await models.engine.dispose()


def main() -> None:
    service_main("models", ModelsSettings, migrate, {"serve": serve})


if __name__ == "__main__":
    main()

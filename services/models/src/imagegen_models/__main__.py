"""`imagegen-models migrate` upgrades the schema and seeds the catalog; `imagegen-models serve` runs gRPC."""

import asyncio
from pathlib import Path

from imagegen.models.v1 import models_service_pb2, models_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main

from imagegen_models.adapters.tables import SCHEMA
from imagegen_models.config import ModelsSettings
from imagegen_models.entrypoints.grpc_servicer import ModelsServicer
from imagegen_models.service_layer.handlers import seed_catalog

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
    engine = db.create_engine(settings.database_url)

    def register(server):
        models_service_pb2_grpc.add_ModelsServiceServicer_to_server(ModelsServicer(engine), server)
        return [models_service_pb2.DESCRIPTOR.services_by_name["ModelsService"].full_name]

    try:
        await grpc_server.serve(
            host=settings.grpc_host,
            port=settings.grpc_port,
            register=register,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        await engine.dispose()


def main() -> None:
    service_main("models", ModelsSettings, migrate, {"serve": serve})


if __name__ == "__main__":
    main()

"""`imagegen-storage migrate` upgrades the schema; `imagegen-storage serve` runs gRPC."""

from pathlib import Path

from imagegen.storage.v1 import storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main

from imagegen_storage.adapters.tables import SCHEMA
from imagegen_storage.bootstrap import build_storage
from imagegen_storage.config import StorageSettings
from imagegen_storage.entrypoints.grpc_servicer import StorageServicer

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


async def serve(settings: StorageSettings) -> None:
    storage = build_storage(settings)
    await storage.blobs.ensure_bucket()

    def register(server):
        storage_service_pb2_grpc.add_StorageServiceServicer_to_server(StorageServicer(storage), server)
        return [storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name]

    try:
        await grpc_server.serve(
            host=settings.grpc_host,
            port=settings.grpc_port,
            register=register,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        await storage.fetcher.close()
        await storage.engine.dispose()


def main() -> None:
    service_main("storage", StorageSettings, migrate, {"serve": serve})


if __name__ == "__main__":
    main()

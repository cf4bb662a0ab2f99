"""`imagegen-storage migrate` upgrades the schema; `serve` runs gRPC; `cleanup` removes due files."""

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import grpc
from imagegen.storage.v1 import storage_service_pb2, storage_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main

from imagegen_storage.adapters.tables import SCHEMA
from imagegen_storage.bootstrap import build_storage
from imagegen_storage.config import StorageSettings
from imagegen_storage.entrypoints.grpc_servicer import StorageServicer
from imagegen_storage.service_layer import handlers

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


def storage_service(storage: handlers.Storage) -> Callable[[grpc.aio.Server], list[str]]:
    """Registers the StorageService on a server and names it for the health service."""

    def register(server: grpc.aio.Server) -> list[str]:
        storage_service_pb2_grpc.add_StorageServiceServicer_to_server(StorageServicer(storage), server)
        return [storage_service_pb2.DESCRIPTOR.services_by_name["StorageService"].full_name]

    return register


async def serve(settings: StorageSettings) -> None:
    storage = build_storage(settings)
    await storage.blobs.ensure_bucket()
    # The bucket expires objects by their retention tag even if the cleanup never runs.
    if await storage.blobs.apply_lifecycle(storage.retention.all_days()):
        log.info("applied the bucket's lifecycle rules")
    if settings.cors_allowed_origins:
        await storage.blobs.apply_cors(settings.cors_allowed_origins)
    try:
        await grpc_server.serve(
            host=settings.grpc_host,
            port=settings.grpc_port,
            register=storage_service(storage),
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        await storage.fetcher.close()
        await storage.engine.dispose()


async def cleanup(settings: StorageSettings) -> None:
    """Remove expired and deleted files once, or every STORAGE_CLEANUP_EVERY_SECONDS until stopped."""
    storage = build_storage(settings)
    try:
        if settings.cleanup_every_seconds <= 0:
            # One run; a failure exits non-zero so the CronJob records it and retries.
            await handlers.cleanup(storage, settings.cleanup_batch_size)
            return
        while True:
            try:
                await handlers.cleanup(storage, settings.cleanup_batch_size)
            except Exception:
                # The next run retries whatever this one left: rows are marked only after deletion.
                log.exception("cleanup failed; retrying at the next run")
            await asyncio.sleep(settings.cleanup_every_seconds)
    finally:
        await storage.fetcher.close()
        await storage.engine.dispose()


def main() -> None:
    service_main("storage", StorageSettings, migrate, {"serve": serve, "cleanup": cleanup})


if __name__ == "__main__":
    main()

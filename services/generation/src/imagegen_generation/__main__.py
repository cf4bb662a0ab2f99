"""`imagegen-generation migrate | serve | worker`: the schema, the gRPC service, the queue worker.

Both `serve` and `worker` relay the outbox; rows are claimed with SKIP LOCKED, so any number of
processes can relay at once.
"""

import asyncio
from datetime import timedelta
from pathlib import Path

from imagegen.generation.v1 import generation_service_pb2, generation_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main
from imagegen_platform.events import GENERATION_STREAM_CONFIG, create_broker, ensure_stream
from imagegen_platform.outbox import OutboxRelay

from imagegen_generation.adapters.tables import SCHEMA, outbox
from imagegen_generation.bootstrap import build_generation
from imagegen_generation.config import GenerationSettings
from imagegen_generation.entrypoints.grpc_servicer import GenerationServicer
from imagegen_generation.entrypoints.worker import (
    StartedJobs,
    dispatch_loop,
    provider_loop,
    register_worker,
)
from imagegen_generation.metrics import queue_metrics_loop

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


async def run(settings: GenerationSettings, *, worker: bool) -> None:
    generation = build_generation(settings)
    broker = create_broker(settings.nats_url)
    wakeup = asyncio.Event()
    started_jobs = StartedJobs()
    if worker:
        register_worker(broker, generation, wakeup, started_jobs, settings.worker_ack_wait_seconds)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG, settings.stream_replicas)
    await broker.start()
    tasks = [
        asyncio.create_task(
            OutboxRelay(generation.engine, outbox, broker, GENERATION_STREAM_CONFIG.name).run()
        )
    ]
    if worker:
        tasks.append(
            asyncio.create_task(
                dispatch_loop(
                    generation,
                    wakeup,
                    settings.worker_idle_dispatch_seconds,
                    settings.worker_submissions,
                    started_jobs,
                )
            )
        )
        poll_after = timedelta(seconds=settings.provider_poll_after_seconds)
        tasks.append(
            asyncio.create_task(
                provider_loop(generation, poll_after, settings.provider_poll_interval_seconds)
            )
        )
        tasks.append(
            asyncio.create_task(
                queue_metrics_loop(
                    generation.engine,
                    broker,
                    GENERATION_STREAM_CONFIG.name,
                    settings.queue_metrics_interval_seconds,
                )
            )
        )

    def register(server):
        if worker:
            return []
        generation_service_pb2_grpc.add_GenerationServiceServicer_to_server(
            GenerationServicer(generation), server
        )
        return [generation_service_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name]

    try:
        # The worker serves only gRPC health, so orchestrators probe it like every other process.
        await grpc_server.serve(
            host=settings.grpc_host,
            port=settings.worker_health_port if worker else settings.grpc_port,
            register=register,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        for task in tasks:
            task.cancel()
        await broker.stop()
        await generation.peers.close()
        await generation.engine.dispose()


async def serve(settings: GenerationSettings) -> None:
    await run(settings, worker=False)


async def work(settings: GenerationSettings) -> None:
    await run(settings, worker=True)


def main() -> None:
    service_main("generation", GenerationSettings, migrate, {"serve": serve, "worker": work})


if __name__ == "__main__":
    main()

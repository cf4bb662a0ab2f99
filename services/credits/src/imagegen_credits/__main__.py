"""`imagegen-credits migrate | serve | check-ledger`.

`serve` runs the gRPC service, the settlement consumer, the outbox relay, billing-period roll-over
and Stripe event processing. `check-ledger` recomputes every balance from the ledger and exits
non-zero on any difference.
"""

import asyncio
import json
import sys
from pathlib import Path

from imagegen.credits.v1 import credits_service_pb2, credits_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main
from imagegen_platform.events import (
    CREDITS_STREAM_CONFIG,
    GENERATION_STREAM_CONFIG,
    create_broker,
    ensure_stream,
)
from imagegen_platform.outbox import OutboxRelay

from imagegen_credits.adapters.tables import SCHEMA, outbox
from imagegen_credits.config import CreditsSettings
from imagegen_credits.entrypoints.background import renewal_loop, stripe_loop
from imagegen_credits.entrypoints.events import register_settlement_consumer
from imagegen_credits.entrypoints.grpc_servicer import CreditsServicer
from imagegen_credits.service_layer.ledger import check_ledger
from imagegen_credits.service_layer.stripe_events import StripeBilling

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


async def serve(settings: CreditsSettings) -> None:
    engine = db.create_engine(settings.database_url)
    broker = create_broker(settings.nats_url)
    register_settlement_consumer(broker, engine)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG, settings.stream_replicas)
    await ensure_stream(broker, CREDITS_STREAM_CONFIG, settings.stream_replicas)
    await broker.start()
    billing = StripeBilling(engine, settings.plans_by_price())
    tasks = [
        asyncio.create_task(OutboxRelay(engine, outbox, broker, CREDITS_STREAM_CONFIG.name).run()),
        asyncio.create_task(renewal_loop(engine, settings.renewal_interval_seconds)),
        asyncio.create_task(stripe_loop(billing, settings.stripe_poll_interval_seconds)),
    ]

    def register(server):
        credits_service_pb2_grpc.add_CreditsServiceServicer_to_server(CreditsServicer(engine), server)
        return [credits_service_pb2.DESCRIPTOR.services_by_name["CreditsService"].full_name]

    try:
        await grpc_server.serve(
            host=settings.grpc_host,
            port=settings.grpc_port,
            register=register,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    finally:
        for task in tasks:
            task.cancel()
        await broker.stop()
        await engine.dispose()


async def check(settings: CreditsSettings) -> None:
    engine = db.create_engine(settings.database_url, pool_size=1)
    try:
        mismatches = await check_ledger(engine)
    finally:
        await engine.dispose()
    for mismatch in mismatches:
        print(json.dumps(mismatch.__dict__))
    print(f"ledger check: {len(mismatches)} mismatches", file=sys.stderr)
    if mismatches:
        sys.exit(1)


def main() -> None:
    service_main("credits", CreditsSettings, migrate, {"serve": serve, "check-ledger": check})


if __name__ == "__main__":
    main()

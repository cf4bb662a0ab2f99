"""`imagegen-credits migrate` upgrades the schema; `serve` runs gRPC and the settlement consumer."""

from pathlib import Path

from imagegen.credits.v1 import credits_service_pb2, credits_service_pb2_grpc
from imagegen_platform import db, grpc_server
from imagegen_platform.cli import service_main
from imagegen_platform.events import GENERATION_STREAM_CONFIG, create_broker, ensure_stream

from imagegen_credits.adapters.tables import SCHEMA
from imagegen_credits.config import CreditsSettings
from imagegen_credits.entrypoints.events import register_settlement_consumer
from imagegen_credits.entrypoints.grpc_servicer import CreditsServicer

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


async def serve(settings: CreditsSettings) -> None:
    engine = db.create_engine(settings.database_url)
    broker = create_broker(settings.nats_url)
    register_settlement_consumer(broker, engine)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG)
    await broker.start()

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
        await broker.stop()
        await engine.dispose()


def main() -> None:
    service_main("credits", CreditsSettings, migrate, {"serve": serve})


if __name__ == "__main__":
    main()

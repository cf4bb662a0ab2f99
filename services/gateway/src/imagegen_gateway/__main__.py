"""`imagegen-gateway migrate` upgrades the identity schema; `imagegen-gateway serve` runs the HTTP API."""

import argparse
from pathlib import Path

import uvicorn
from imagegen_platform import db
from imagegen_platform.logging import configure_logging
from imagegen_platform.tracing import configure_tracing

from imagegen_gateway.adapters.tables import SCHEMA
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(prog="imagegen-gateway")
    parser.add_argument("command", choices=["migrate", "serve"])
    args = parser.parse_args()
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    if args.command == "migrate":
        migrate(settings.database_url)
    else:
        configure_tracing("gateway")
        uvicorn.run(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )


if __name__ == "__main__":
    main()

"""`imagegen-gateway migrate` upgrades the gateway's schema; `serve` runs the HTTP API;
`deliver-webhooks` posts events to teams' webhook endpoints (entrypoints/webhook_delivery.py)."""

import argparse
import asyncio
from pathlib import Path

import uvicorn
from imagegen_platform import db
from imagegen_platform.logging import configure_logging
from imagegen_platform.metrics import start_metrics_server
from imagegen_platform.tracing import configure_tracing

from imagegen_gateway.adapters.tables import SCHEMA
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.entrypoints import webhook_delivery

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    db.migrate(database_url, MIGRATIONS, SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(prog="imagegen-gateway")
    parser.add_argument("command", choices=["migrate", "serve", "deliver-webhooks"])
    args = parser.parse_args()
    settings = GatewaySettings()
    # As every service names its processes: the service, or the service and its extra role.
    process = "gateway" if args.command in ("migrate", "serve") else f"gateway-{args.command}"
    configure_logging(process, settings.log_level)
    if args.command == "migrate":
        migrate(settings.database_url)
    elif args.command == "deliver-webhooks":
        configure_tracing(process)
        start_metrics_server(settings.webhook_delivery_metrics_port, settings.http_host)
        asyncio.run(webhook_delivery.run(settings))
    else:
        configure_tracing("gateway")
        uvicorn.run(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            # httptools parses HTTP in C; uvicorn's default, h11, was a third of the gateway's CPU.
            http="httptools",
            timeout_graceful_shutdown=10,
        )


if __name__ == "__main__":
    main()

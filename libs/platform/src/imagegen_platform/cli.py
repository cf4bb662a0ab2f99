"""The command line every service shares: `migrate`, `serve`, and any extra long-running roles."""

import argparse
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import uvloop

from imagegen_platform.logging import configure_logging
from imagegen_platform.metrics import start_metrics_server
from imagegen_platform.tracing import configure_tracing


class _Settings(Protocol):
    database_url: str
    log_level: str
    grpc_host: str
    metrics_port: int


S = TypeVar("S", bound=_Settings)


def service_main(
    service: str,
    settings_factory: Callable[[], S],
    migrate: Callable[[str], None],
    roles: dict[str, Callable[[S], Awaitable[None]]],
) -> None:
    """`imagegen-<service> migrate` upgrades its schema; each role (`serve`, ...) runs until SIGTERM.

    `serve` exposes Prometheus metrics on `metrics_port`, another role on `<role>_metrics_port` if the
    settings have one (the generation worker's `worker_metrics_port`); 0 exposes none.
    """
    parser = argparse.ArgumentParser(prog=f"imagegen-{service}")
    parser.add_argument("command", choices=["migrate", *roles])
    command = parser.parse_args().command
    settings = settings_factory()
    configure_logging(
        service if command in ("migrate", "serve") else f"{service}-{command}", settings.log_level
    )
    if command == "migrate":
        migrate(settings.database_url)
        return
    configure_tracing(service if command == "serve" else f"{service}-{command}")
    port_setting = "metrics_port" if command == "serve" else f"{command.replace('-', '_')}_metrics_port"
    start_metrics_server(getattr(settings, port_setting, 0), settings.grpc_host)
    uvloop.run(roles[command](settings))

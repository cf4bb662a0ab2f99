"""The command line every service shares: `migrate`, `serve`, and any extra long-running roles."""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from imagegen_platform.logging import configure_logging


class _Settings(Protocol):
    database_url: str
    log_level: str


S = TypeVar("S", bound=_Settings)


def service_main(
    service: str,
    settings_factory: Callable[[], S],
    migrate: Callable[[str], None],
    roles: dict[str, Callable[[S], Awaitable[None]]],
) -> None:
    """`imagegen-<service> migrate` upgrades its schema; each role (`serve`, ...) runs until SIGTERM."""
    parser = argparse.ArgumentParser(prog=f"imagegen-{service}")
    parser.add_argument("command", choices=["migrate", *roles])
    command = parser.parse_args().command
    settings = settings_factory()
    configure_logging(
        service if command in ("migrate", "serve") else f"{service}-{command}", settings.log_level
    )
    if command == "migrate":
        migrate(settings.database_url)
    else:
        asyncio.run(roles[command](settings))

"""Loops the credits service runs beside its gRPC server: period roll-over and Stripe processing.

Both are safe to run in every replica at once: roll-over is keyed per period and Stripe events are
claimed with SKIP LOCKED.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.service_layer import handlers, stripe_events

log = logging.getLogger(__name__)


async def every(seconds: float, name: str, step: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Postgres may be restarting; the next round retries.
            log.exception("background step failed", extra={"loop": name})
        await asyncio.sleep(seconds)


def renewal_loop(engine: AsyncEngine, seconds: float) -> Awaitable[None]:
    return every(seconds, "renewal", lambda: handlers.renew_due_accounts(engine, datetime.now(UTC)))


def stripe_loop(billing: stripe_events.StripeBilling, seconds: float) -> Awaitable[None]:
    return every(seconds, "stripe", lambda: stripe_events.process_due_events(billing))

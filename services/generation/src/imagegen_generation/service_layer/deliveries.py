"""Provider deliveries: a verified webhook is stored once, answered, then recorded for its job.

Storing first means the provider's retries find a duplicate (no second effect) and a crash after the
answer loses nothing: a delivery not yet recorded is taken again once its lease runs out. One that
keeps failing (e.g. about a request no job ever had) is parked after MAX_ATTEMPTS, not retried forever.
"""

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from imagegen_platform.errors import NotFound
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from imagegen_generation.adapters.tables import provider_delivery
from imagegen_generation.service_layer import handlers

log = logging.getLogger(__name__)

# How long one attempt may take before another process may take the delivery over.
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 8
# A fast provider's webhook can beat the worker's write of the request id by milliseconds: wait
# this long (in steps) for it within the attempt, before falling back to the scheduled retries.
EARLY_DELIVERY_WAITS = (0.02, 0.05, 0.1, 0.2)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off with jitter: about 1, 2, 4 ... seconds, at most five minutes."""
    return timedelta(seconds=min(300.0, 2.0 ** (attempts - 1)) * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class Delivery:
    """A stored provider report, claimed for one attempt to record it."""

    provider_request_id: str
    ok: bool
    payload: bytes
    error: str
    attempts: int


async def store(
    gen: handlers.Generation, provider_request_id: str, ok: bool, payload: bytes, error: str
) -> Delivery | None:
    """Store the delivery, claimed for an attempt right away; None when one was already stored."""
    async with gen.autocommit.connect() as connection:
        stored = await connection.execute(
            pg_insert(provider_delivery)
            .values(
                provider_request_id=provider_request_id,
                ok=ok,
                payload=payload,
                error=error,
                status="received",
                attempts=1,
                next_attempt_at=func.now() + LEASE,
            )
            .on_conflict_do_nothing(index_elements=[provider_delivery.c.provider_request_id])
            .returning(provider_delivery.c.provider_request_id)
        )
        if stored.first() is None:
            return None
    return Delivery(provider_request_id, ok, payload, error, attempts=1)


async def record(gen: handlers.Generation, delivery: Delivery) -> None:
    """One attempt to record a claimed delivery for its job; on failure, schedule the next or park it."""
    provider_request_id = delivery.provider_request_id
    try:
        await _complete(gen, delivery)
    except Exception as failure:  # any failure is retried; the job's own transitions are idempotent
        parked = delivery.attempts >= MAX_ATTEMPTS
        async with gen.autocommit.connect() as connection:
            await connection.execute(
                update(provider_delivery)
                .where(provider_delivery.c.provider_request_id == provider_request_id)
                .values(
                    status="parked" if parked else "received",
                    last_error=f"{type(failure).__name__}: {failure}"[:1000],
                    next_attempt_at=func.now() + retry_delay(delivery.attempts),
                )
            )
        level = logging.ERROR if parked else logging.WARNING
        log.log(
            level,
            "provider delivery parked" if parked else "recording a provider delivery failed; retrying",
            extra={"providerRequestId": provider_request_id, "attempts": delivery.attempts},
            exc_info=parked,
        )
        return
    async with gen.autocommit.connect() as connection:
        await connection.execute(
            update(provider_delivery)
            .where(provider_delivery.c.provider_request_id == provider_request_id)
            .values(status="processed", processed_at=func.now(), last_error=None)
        )


async def _complete(gen: handlers.Generation, delivery) -> None:
    for wait in (*EARLY_DELIVERY_WAITS, None):
        try:
            await handlers.complete_provider_request(
                gen, delivery.provider_request_id, delivery.ok, delivery.payload, delivery.error
            )
            return
        except NotFound as missing:
            if missing.reason != "provider_request_not_found" or wait is None:
                raise
            await asyncio.sleep(wait)


async def record_due(gen: handlers.Generation, batch_size: int = 20) -> int:
    """Take deliveries whose retry is due (or whose attempt's lease ran out) and record them."""
    async with gen.engine.begin() as connection:
        due = (
            await connection.execute(
                update(provider_delivery)
                .where(
                    provider_delivery.c.provider_request_id.in_(
                        select(provider_delivery.c.provider_request_id)
                        .where(
                            provider_delivery.c.status == "received",
                            provider_delivery.c.next_attempt_at <= func.now(),
                        )
                        .limit(batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .values(attempts=provider_delivery.c.attempts + 1, next_attempt_at=func.now() + LEASE)
                .returning(
                    provider_delivery.c.provider_request_id,
                    provider_delivery.c.ok,
                    provider_delivery.c.payload,
                    provider_delivery.c.error,
                    provider_delivery.c.attempts,
                )
            )
        ).all()
    for row in due:
        await record(gen, Delivery(*row))
    return len(due)

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

from imagegen_platform import db
from imagegen_platform.errors import NotFound

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


# Each statement here commits on its own, run straight on the pooled connection's asyncpg driver
# (see handlers): one round trip each.
_STORE = (
    "INSERT INTO generation.provider_delivery (provider_request_id, ok, payload, error, status,"
    " attempts, next_attempt_at) VALUES ($1, $2, $3, $4, 'received', 1, now() + $5::interval)"
    " ON CONFLICT (provider_request_id) DO NOTHING RETURNING provider_request_id"
)
_RETRY_LATER = (
    "UPDATE generation.provider_delivery SET status = $2, last_error = $3,"
    " next_attempt_at = now() + $4::interval WHERE provider_request_id = $1"
)
_PROCESSED = (
    "UPDATE generation.provider_delivery SET status = 'processed', processed_at = now(), last_error = NULL"
    " WHERE provider_request_id = $1"
)
# Claims the due deliveries; SKIP LOCKED lets several processes share them.
_TAKE_DUE = """
UPDATE generation.provider_delivery SET attempts = attempts + 1, next_attempt_at = now() + $2::interval
WHERE provider_request_id IN (
    SELECT provider_request_id FROM generation.provider_delivery
    WHERE status = 'received' AND next_attempt_at <= now()
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING provider_request_id, ok, payload, error, attempts
"""


async def store(
    gen: handlers.Generation, provider_request_id: str, ok: bool, payload: bytes, error: str
) -> Delivery | None:
    """Store the delivery, claimed for an attempt right away; None when one was already stored."""
    async with db.connection(gen.engine) as driver:
        stored = await driver.fetchval(_STORE, provider_request_id, ok, payload, error, LEASE)
    if stored is None:
        return None
    return Delivery(provider_request_id, ok, payload, error, attempts=1)


async def record(gen: handlers.Generation, delivery: Delivery) -> None:
    """One attempt to record a claimed delivery for its job; on failure, schedule the next or park it."""
    provider_request_id = delivery.provider_request_id
    try:
        await _complete(gen, delivery)
    except Exception as failure:  # any failure is retried; the job's own transitions are idempotent
        parked = delivery.attempts >= MAX_ATTEMPTS
        async with db.connection(gen.engine) as driver:
            await driver.execute(
                _RETRY_LATER,
                provider_request_id,
                "parked" if parked else "received",
                f"{type(failure).__name__}: {failure}"[:1000],
                retry_delay(delivery.attempts),
            )
        level = logging.ERROR if parked else logging.WARNING
        log.log(
            level,
            "provider delivery parked" if parked else "recording a provider delivery failed; retrying",
            extra={"providerRequestId": provider_request_id, "attempts": delivery.attempts},
            exc_info=parked,
        )
        return
    async with db.connection(gen.engine) as driver:
        await driver.execute(_PROCESSED, provider_request_id)


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
    async with db.connection(gen.engine) as driver:
        due = await driver.fetch(_TAKE_DUE, batch_size, LEASE)
    for row in due:
        await record(gen, Delivery(*row))
    return len(due)

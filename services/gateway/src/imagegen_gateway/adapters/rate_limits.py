"""Per-key and per-team rate limits: token buckets in Postgres, so every gateway replica shares them.

One statement per request refills and takes from both buckets; the answer is the tighter of the two,
which the RateLimit-* headers report and a 429's Retry-After is taken from. For API keys that
statement is also the key's lookup (api_keys.authenticate).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters import database


@dataclass(frozen=True)
class RateLimit:
    """`requests` per `per_seconds`, allowed in a burst too."""

    requests: int
    per_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class Quota:
    """What a request left of its tightest bucket."""

    limit: int
    remaining: int
    # Seconds until the bucket is full again.
    reset_seconds: int
    allowed: bool
    # Seconds until the next request would be allowed (0 when it is now).
    retry_after_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


def take_from(buckets: str) -> str:
    """An upsert that refills each bucket of `buckets` (a query of `bucket, capacity, rate` rows, in
    the order their rows are locked) and takes one request from it; it returns `capacity, rate,
    tokens, allowed` per bucket, for `tightest`."""
    # statement_timestamp() is one instant for the whole statement, so each bucket's refill is exact.
    return f"""
    INSERT INTO gateway.rate_limit_bucket AS b (bucket, capacity, rate, tokens, allowed, updated_at)
    SELECT bucket, capacity, rate, capacity - 1, true, statement_timestamp()
    FROM ({buckets}) AS wanted (bucket, capacity, rate)
    ON CONFLICT (bucket) DO UPDATE SET
        capacity = EXCLUDED.capacity,
        rate = EXCLUDED.rate,
        allowed = LEAST(EXCLUDED.capacity,
                        b.tokens + EXTRACT(EPOCH FROM statement_timestamp() - b.updated_at)
                        * EXCLUDED.rate) >= 1,
        tokens = LEAST(EXCLUDED.capacity,
                       b.tokens + EXTRACT(EPOCH FROM statement_timestamp() - b.updated_at)
                       * EXCLUDED.rate)
                 - CASE WHEN LEAST(EXCLUDED.capacity,
                                   b.tokens + EXTRACT(EPOCH FROM statement_timestamp() - b.updated_at)
                                   * EXCLUDED.rate) >= 1 THEN 1 ELSE 0 END,
        updated_at = statement_timestamp()
    RETURNING b.capacity, b.rate, b.tokens, b.allowed
    """


_TAKE = take_from("VALUES ($1, $2::float8, $3::float8), ($4, $5::float8, $6::float8)")


async def take(
    engine: AsyncEngine, principal: str, principal_limit: RateLimit, team_id: str, team_limit: RateLimit
) -> Quota:
    """Take one request from the principal's bucket (`user:<id>` for a signed-in user) and the
    team's; the tighter decides."""
    rows = await database.fetch(
        engine,
        _TAKE,
        principal,
        float(principal_limit.requests),
        principal_limit.rate,
        f"team:{team_id}",
        float(team_limit.requests),
        team_limit.rate,
    )
    return tightest(rows)


def tightest(buckets: Iterable[Sequence[Any]]) -> Quota:
    """The quota of the bucket that decides: the refusing one that frees up last, else the one with
    the fewest requests left."""
    quotas = [_quota(capacity, rate, tokens, allowed) for capacity, rate, tokens, allowed in buckets]
    refused = [quota for quota in quotas if not quota.allowed]
    if refused:
        return max(refused, key=lambda quota: quota.retry_after_seconds)
    return min(quotas, key=lambda quota: quota.remaining)


def _quota(capacity: float, rate: float, tokens: float, allowed: bool) -> Quota:
    return Quota(
        limit=int(capacity),
        remaining=max(0, math.floor(tokens)),
        reset_seconds=math.ceil((capacity - tokens) / rate),
        allowed=allowed,
        retry_after_seconds=0 if allowed else max(1, math.ceil((1 - tokens) / rate)),
    )

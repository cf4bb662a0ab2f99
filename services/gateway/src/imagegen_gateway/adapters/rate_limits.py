"""Per-key and per-team rate limits: token buckets in Postgres, so every gateway replica shares them.

One statement per request refills and takes from both buckets; the answer is the tighter of the two,
which the RateLimit-* headers report and a 429's Retry-After is taken from.
"""

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


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


# statement_timestamp() is one instant for the whole statement, so each bucket's refill is exact.
_TAKE = text(
    """
    INSERT INTO gateway.rate_limit_bucket AS b (bucket, capacity, rate, tokens, allowed, updated_at)
    VALUES (:key_bucket, CAST(:key_capacity AS float8), CAST(:key_rate AS float8),
            CAST(:key_capacity AS float8) - 1, true, statement_timestamp()),
           (:team_bucket, CAST(:team_capacity AS float8), CAST(:team_rate AS float8),
            CAST(:team_capacity AS float8) - 1, true, statement_timestamp())
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
    RETURNING capacity, rate, tokens, allowed
    """
)


async def take(
    engine: AsyncEngine, key_id: str, key_limit: RateLimit, team_id: str, team_limit: RateLimit
) -> Quota:
    """Take one request from the key's (or signed-in user's) and the team's buckets; the tighter decides."""
    async with engine.begin() as connection:
        rows = (
            await connection.execute(
                _TAKE,
                {
                    "key_bucket": f"key:{key_id}",
                    "key_capacity": float(key_limit.requests),
                    "key_rate": key_limit.rate,
                    "team_bucket": f"team:{team_id}",
                    "team_capacity": float(team_limit.requests),
                    "team_rate": team_limit.rate,
                },
            )
        ).all()
    quotas = [_quota(row.capacity, row.rate, row.tokens, row.allowed) for row in rows]
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

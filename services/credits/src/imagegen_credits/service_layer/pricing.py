"""Quotes from the current version of each operation's pricing config.

A version is never rewritten (new prices are a new version), so each is read once and kept. Which
version is current is still asked on every quote, one single-row read of the primary key on the
pooled asyncpg connection instead of the whole row through SQLAlchemy: a new version prices the
very next quote, in every replica.
"""

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.adapters import repository
from imagegen_credits.domain.pricing import Operation, PricingConfig
from imagegen_credits.service_layer.unit_of_work import connection, retried_once_on_lost_connection


@dataclass
class PricingConfigs:
    engine: AsyncEngine
    # Every config read so far, by operation and version.
    read: dict[tuple[Operation, int], PricingConfig] = field(default_factory=dict)


@retried_once_on_lost_connection
async def current_pricing(configs: PricingConfigs, operation: Operation) -> PricingConfig:
    async with connection(configs.engine) as conn:
        version = await repository.current_pricing_version(conn, operation)
        if version is None:
            raise LookupError(f"no pricing config for {operation.value}")
        config = configs.read.get((operation, version))
        if config is None:
            factors = await repository.pricing_factors(conn, operation, version)
            config = configs.read[operation, version] = PricingConfig(operation, version, factors)
    return config

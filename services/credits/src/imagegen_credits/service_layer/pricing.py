"""Quotes from the current version of each operation's pricing config."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.adapters.tables import credit_pricing_config
from imagegen_credits.domain.pricing import Operation, PricingConfig


async def current_pricing(engine: AsyncEngine, operation: Operation) -> PricingConfig:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(credit_pricing_config)
                .where(credit_pricing_config.c.operation == operation.value)
                .order_by(credit_pricing_config.c.version.desc())
                .limit(1)
            )
        ).one()
    return PricingConfig(operation, row.version, row.config)

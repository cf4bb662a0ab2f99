"""The statements every request runs, straight on a pooled connection's asyncpg driver.

Authentication and rate limits run on every request (api_keys.authenticate, rate_limits.take):
each is one statement, run outside any transaction (a single statement commits on its own) and
prepared once per pooled connection by asyncpg. Through SQLAlchemy the same work took three round
trips each (BEGIN, the statement, COMMIT or ROLLBACK) and several times the client CPU.

The engine (imagegen_platform.db.create_engine) has no pre-ping, so a statement whose connection
dies under it (a Postgres restart) is run once more on a fresh connection here.
"""

from asyncpg import Record
from imagegen_platform.db import ConnectionLost, connection
from sqlalchemy.ext.asyncio import AsyncEngine


async def fetch(engine: AsyncEngine, statement: str, *args: object) -> list[Record]:
    """The rows of one statement, run once more on a fresh connection if its connection died.

    Only for statements whose repetition is harmless: at worst a retried rate-limit statement that
    had committed takes a second token.
    """
    try:
        async with connection(engine) as driver:
            return await driver.fetch(statement, *args)
    except ConnectionLost:
        async with connection(engine) as driver:
            return await driver.fetch(statement, *args)

"""The statements every request runs, straight on a pooled connection's asyncpg driver.

Authentication and rate limits run on every request (api_keys.authenticate, rate_limits.take):
each is one statement, run outside any transaction (a single statement commits on its own) and
prepared once per pooled connection by asyncpg. Through SQLAlchemy the same work took three round
trips each (BEGIN, the statement, COMMIT or ROLLBACK) and several times the client CPU.

The engine (imagegen_platform.db.create_engine) has no pre-ping, so a statement whose connection
dies under it (a Postgres restart) is run once more on a fresh connection here.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asyncpg import Connection, Record
from sqlalchemy.ext.asyncio import AsyncEngine


class ConnectionLost(Exception):
    """The connection died while a statement ran, which may or may not have committed."""


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[Connection]:
    """A pooled connection's asyncpg connection, outside any transaction."""
    # Not `async with engine.connect()`: its exit closes in a task of its own, which costs CPU on
    # every request; here the close never waits (SQLAlchemy has no transaction to roll back).
    pooled = await engine.connect().start()
    try:
        driver = (await pooled.get_raw_connection()).driver_connection
        try:
            yield driver
        except BaseException as error:
            lost = driver.is_closed()
            if lost or driver.is_in_transaction():
                # SQLAlchemy does not see what runs on the driver, so it would pool this connection
                # as it is; throw it away instead.
                await pooled.invalidate(error)
            if lost:
                raise ConnectionLost(str(error)) from error
            raise
    finally:
        await pooled.close()


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

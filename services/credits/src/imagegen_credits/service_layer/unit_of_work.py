"""The credits engine, and one Postgres transaction per use case on its asyncpg connection.

Every handler that reads or moves credits runs its statements (adapters/repository.py) straight on
the pooled connection's asyncpg driver: SQLAlchemy's pool still owns the connections, but not the
statements, which cost several times more client CPU through SQLAlchemy than through asyncpg.

Reconnecting without pool_pre_ping (see imagegen_platform.db.create_engine):
- a checkout drops a connection the driver already knows is closed;
- a transaction whose connection dies under it (a restart mid-call, or a close asyncpg has not
  noticed yet) discards that connection and is run once more on a fresh one. Retrying is safe
  because every handler is idempotent on its key: if the lost transaction did commit, the retry
  replays it and moves nothing. When the retry cannot reach Postgres either, the call fails with
  UNAVAILABLE, which tells callers to retry later.
"""

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from asyncpg import Connection
from imagegen_platform.errors import Unavailable
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class ConnectionLost(Exception):
    """The connection died during a transaction, which may or may not have committed."""


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[Connection]:
    """A pooled connection's asyncpg connection, outside any transaction."""
    # Not `async with engine.connect()`: its exit closes in a task of its own, so that a
    # cancellation cannot cut the close short. Here the close never waits (SQLAlchemy has no
    # transaction to roll back on this connection), and the extra task per call cost ~5% CPU.
    pooled = await engine.connect().start()
    try:
        driver = (await pooled.get_raw_connection()).driver_connection
        try:
            yield driver
        except BaseException as error:
            lost = driver.is_closed()
            if lost or driver.is_in_transaction():
                # SQLAlchemy does not see transactions begun on the driver, so it would pool this
                # connection as it is: a dead one, or one still inside a transaction (a rollback
                # cut short by cancellation). Throw it away instead.
                await pooled.invalidate(error)
            if lost:
                raise ConnectionLost(str(error)) from error
            raise
    finally:
        await pooled.close()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[Connection]:
    """One transaction, committed when the block ends and rolled back if it raises."""
    async with connection(engine) as driver, driver.transaction():
        yield driver


def retried_once_on_lost_connection(handler: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run the handler again on a fresh connection if its connection died (see the module doc)."""

    @functools.wraps(handler)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            try:
                return await handler(*args, **kwargs)
            except ConnectionLost as error:
                log.warning("Postgres connection lost; retrying once", extra={"error": str(error)})
            return await handler(*args, **kwargs)
        except (ConnectionLost, OSError, exc.DBAPIError) as error:
            # Lost twice, or Postgres refuses connections (down or starting up).
            raise Unavailable("database_unavailable", "the credits database is unavailable") from error

    return run

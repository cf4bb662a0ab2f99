"""The credits engine, and one Postgres transaction per use case on its asyncpg connection.

Every handler that reads or moves credits runs its statements (adapters/repository.py) straight on
the pooled connection's asyncpg driver (imagegen_platform.db.connection and transaction):
SQLAlchemy's pool still owns the connections, but not the statements, which cost several times
more client CPU through SQLAlchemy than through asyncpg.

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
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from imagegen_platform.db import ConnectionLost, connection, transaction
from imagegen_platform.errors import Unavailable
from sqlalchemy import exc

# The handlers take their connections and transactions from here.
__all__ = ["ConnectionLost", "connection", "retried_once_on_lost_connection", "transaction"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


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

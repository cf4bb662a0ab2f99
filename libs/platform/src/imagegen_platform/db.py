"""One async engine per process, its asyncpg connections for hot statements, and Alembic migrations
per service schema."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(database_url: str, *, pool_size: int = 16, max_overflow: int = 8) -> AsyncEngine:
    """A pooled engine that survives Postgres restarts without pool_pre_ping.

    On asyncpg a pre-ping is three more round trips per checkout (BEGIN, a ping, ROLLBACK). Instead a
    checkout drops a connection the driver already knows is closed: when Postgres restarts or ends a
    backend, the server closes the socket and asyncpg marks the connection closed at no cost. A
    statement on a connection that dies under it fails, SQLAlchemy discards that connection, and
    the caller's retry (gRPC clients, consumers' redelivery, the workers' loops) gets a fresh one.
    The pool is sized for a busy process's concurrent transactions: a checkout beyond the pool opens
    a connection and closes it again on return, costing a connect (and a TLS probe) per call.
    """
    engine = create_async_engine(database_url, pool_size=pool_size, max_overflow=max_overflow)
    event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine running each statement on its own (same pool): a lone read or write is one round
    trip, where a transaction adds a BEGIN and a COMMIT or ROLLBACK."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _drop_closed_connection(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
    if dbapi_connection.driver_connection.is_closed():
        # The pool replaces the connection with a new one.
        raise exc.DisconnectionError("Postgres closed this connection")


class ConnectionLost(Exception):
    """The connection died while a statement ran, which may or may not have committed."""


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg connection, outside any transaction.

    For hot statements: SQLAlchemy's pool still owns the connection, but statements run straight
    on the driver (prepared once per connection by asyncpg) cost several times less client CPU
    than through SQLAlchemy Core. Outside a transaction each statement commits on its own.
    """
    # Not `async with engine.connect()`: its exit closes in a task of its own, which costs CPU on
    # every call; here the close never waits (SQLAlchemy has no transaction to roll back).
    pooled = await engine.connect().start()
    try:
        driver = (await pooled.get_raw_connection()).driver_connection
        try:
            yield driver
        except BaseException as error:
            lost = driver.is_closed()
            if lost or driver.is_in_transaction():
                # SQLAlchemy does not see what runs on the driver, so it would pool this connection
                # as it is: a dead one, or one still inside a transaction (a rollback cut short by
                # cancellation). Throw it away instead.
                await pooled.invalidate(error)
            if lost:
                raise ConnectionLost(str(error)) from error
            raise
    finally:
        await pooled.close()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """One transaction on a pooled asyncpg connection, committed when the block ends and rolled
    back if it raises."""
    async with connection(engine) as driver, driver.transaction():
        yield driver


class Record:
    """A row read by attribute (row.id), as SQLAlchemy's Row reads, over an asyncpg record or a dict."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"Record({dict(self._values)!r})"


def migrate(database_url: str, migrations_dir: Path, schema: str) -> None:
    """Upgrade a service's schema to every head (revisions written side by side may branch from one
    parent until a merge revision joins them); safe to run from several processes at once."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["schema"] = schema
    command.upgrade(config, "heads")


def run_migrations_online(config: Config) -> None:
    """Body of every service's migrations/env.py: runs its revisions inside its own schema."""
    from alembic import context

    schema: str = config.attributes["schema"]

    def run(connection: Connection) -> None:
        # A transaction-level advisory lock serialises concurrent migrators of the same schema.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:schema))"), {"schema": schema})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            version_table_schema=schema,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
        async with engine.begin() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    asyncio.run(main())


def execute_ddl(script: str) -> None:
    """Run a migration's SQL script one statement at a time (asyncpg prepares single statements).

    Statements are split on semicolons at line ends, so keep literals free of ";\\n".
    """
    from alembic import op

    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)

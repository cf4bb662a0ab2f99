"""One async engine per process, and Alembic migrations per service schema."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(database_url, pool_size=pool_size, pool_pre_ping=True)


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

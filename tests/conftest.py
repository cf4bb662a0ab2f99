"""Fixtures that start real infrastructure on free ports, once per test session.

Nothing here is optional: if a server cannot start, the tests that need it error out (in CI and
locally alike) instead of being skipped.
"""

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from imagegen_devstack.infra import NatsServer, PostgresServer, S3Server, free_port
from imagegen_devstack.stack import LocalStack, StackOptions, StackPorts, migrate_all


@dataclass(frozen=True)
class Infrastructure:
    database_url: str
    nats_url: str
    s3_endpoint_url: str


@contextmanager
def state_dir(name: str) -> Iterator[Path]:
    """A temporary folder outside pytest's own tree: Postgres runs as its own OS user, and any
    pytest session starting meanwhile resets its tree to owner-only access."""
    path = Path(tempfile.mkdtemp(prefix=f"imagegen-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    """Postgres (migrated for every service), NATS with JetStream and an S3 server."""
    with state_dir("infra") as root:
        yield from _infrastructure(root)


def _infrastructure(root: Path) -> Iterator[Infrastructure]:
    postgres = PostgresServer(root / "postgres", free_port(), fast=True)
    nats = NatsServer(root / "nats", free_port(), free_port(), log_path=root / "nats.log")
    s3 = S3Server(free_port(), log_path=root / "s3.log")
    with postgres, nats, s3:
        postgres.create_database("imagegen")
        database_url = postgres.dsn("imagegen")
        migrate_all(database_url)
        yield Infrastructure(database_url, nats.url, s3.endpoint_url)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The whole system as processes, exactly as `make run` starts it, on free ports."""
    with state_dir("stack") as root:
        # Polling the provider one second after submission makes webhooks and polls race for jobs.
        options = StackOptions(
            fal_latency=0.3,
            fast_postgres=True,
            extra_env={
                "GENERATION_PROVIDER_POLL_AFTER_SECONDS": "1",
                "GENERATION_PROVIDER_POLL_INTERVAL_SECONDS": "0.5",
            },
        )
        local = LocalStack(root, StackPorts.free(), options)
        local.start()
        try:
            yield local
        finally:
            local.stop()


@pytest.fixture
def team_id() -> str:
    """A team id unique per test, so tests sharing a database never see each other's rows."""
    return f"team-{uuid.uuid4().hex[:12]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests under integration/ and e2e/ are marked by folder, so `-m` selects layers.
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)

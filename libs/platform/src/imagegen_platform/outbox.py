"""Transactional outbox: events are written with the state change and relayed to JetStream.

A crash between commit and publish cannot lose an event (the row stays unsent and is relayed
later), and a crash after publish but before marking the row sent cannot duplicate it for
consumers: the row id is the JetStream message id, which the stream deduplicates.

Each row keeps the W3C traceparent of the span that wrote it; the relay publishes under that
context, so a consumer's spans join the trace of the request that caused the event.
"""

import asyncio
import logging
import uuid
import weakref

from faststream.nats import NatsBroker
from google.protobuf.message import Message
from opentelemetry import context as otel_context
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    String,
    Table,
    any_,
    cast,
    func,
    select,
    update,
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool

from imagegen_platform import tracing
from imagegen_platform.context import REQUEST_ID_HEADER
from imagegen_platform.metrics import OUTBOX_FAILURES, OUTBOX_PUBLISHED

log = logging.getLogger(__name__)

# Set on a connection whose transaction wrote outbox rows, so its commit can wake the relay.
_ROWS_ADDED = "imagegen.outbox_rows_added"
# The relays of each engine's pool, for commits SQLAlchemy does not see (see rows_committed).
_RELAYS: weakref.WeakKeyDictionary[Pool, weakref.WeakSet["OutboxRelay"]] = weakref.WeakKeyDictionary()

# The columns an event row is written with on an asyncpg connection, in the order of event_row.
EVENT_COLUMNS = "id, subject, payload, request_id, traceparent"


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", String, primary_key=True),
        # Insertion order, which created_at cannot give: rows of one transaction share its now().
        Column("sequence", BigInteger, Identity(always=True), nullable=False, unique=True),
        Column("subject", String, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("request_id", String),
        Column("traceparent", String),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
    )


async def add_event(
    connection: AsyncConnection, table: Table, subject: str, event: Message, request_id: str | None
) -> None:
    """Write an event inside the caller's transaction."""
    await connection.execute(
        table.insert().values(
            id=str(uuid.uuid4()),
            subject=subject,
            payload=event.SerializeToString(),
            request_id=request_id,
            traceparent=tracing.current_traceparent(),
        )
    )
    connection.info[_ROWS_ADDED] = True


def event_row(
    subject: str, event: Message, request_id: str | None
) -> tuple[str, str, bytes, str | None, str | None]:
    """The values of an event row (EVENT_COLUMNS), as add_event writes them, for a statement run on
    the engine's asyncpg connection (imagegen_platform.db.connection). Once the transaction that
    wrote it has committed, call rows_committed."""
    return str(uuid.uuid4()), subject, event.SerializeToString(), request_id, tracing.current_traceparent()


def rows_committed(engine: AsyncEngine) -> None:
    """Wake this process's relays of `engine` (or of an engine sharing its pool) at once: outbox rows
    were committed on its asyncpg connection, where the commit listener cannot see them."""
    for relay in _RELAYS.get(engine.sync_engine.pool, ()):
        relay._rows_committed.set()


class OutboxRelay:
    """Publishes unsent rows in insertion order; several relays may run, rows are claimed with SKIP LOCKED."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        broker: NatsBroker,
        stream: str,
        *,
        batch_size: int = 100,
        idle_seconds: float = 0.1,
    ) -> None:
        self.engine = engine
        self.table = table
        self.broker = broker
        self.stream = stream
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        # A commit in this process that wrote rows wakes the relay at once (a SQLAlchemy commit by
        # itself, one on the asyncpg driver by rows_committed); rows other processes write are
        # found by the idle poll.
        self._rows_committed = asyncio.Event()
        sqlalchemy_event.listen(engine.sync_engine, "commit", self._on_commit)
        sqlalchemy_event.listen(engine.sync_engine, "rollback", self._on_rollback)
        _RELAYS.setdefault(engine.sync_engine.pool, weakref.WeakSet()).add(self)

    def _on_commit(self, connection) -> None:
        if connection.info.pop(_ROWS_ADDED, False):
            self._rows_committed.set()

    def _on_rollback(self, connection) -> None:
        connection.info.pop(_ROWS_ADDED, None)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(self.table)
                    .where(self.table.c.published_at.is_(None))
                    .order_by(self.table.c.sequence)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                headers = {"Nats-Msg-Id": row.id}
                if row.request_id:
                    headers[REQUEST_ID_HEADER] = row.request_id
                # The broker's telemetry middleware injects the publish span's context into headers.
                token = otel_context.attach(tracing.context_from_traceparent(row.traceparent))
                try:
                    await self.broker.publish(row.payload, row.subject, headers=headers, stream=self.stream)
                finally:
                    otel_context.detach(token)
                OUTBOX_PUBLISHED.labels(row.subject).inc()
            if rows:
                # = ANY(array), not IN (...): one statement text (prepared once) for any batch size.
                await connection.execute(
                    update(self.table)
                    .where(self.table.c.id == any_(cast([row.id for row in rows], ARRAY(String))))
                    .values(published_at=func.now())
                )
            return len(rows)

    async def run(self) -> None:
        while True:
            self._rows_committed.clear()
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # NATS or Postgres may be restarting; rows stay unsent and are retried.
                log.exception("outbox relay failed; retrying")
                OUTBOX_FAILURES.inc()
                sent = 0
                await asyncio.sleep(1.0)
            if sent < self.batch_size:
                try:
                    await asyncio.wait_for(self._rows_committed.wait(), self.idle_seconds)
                except TimeoutError:
                    pass

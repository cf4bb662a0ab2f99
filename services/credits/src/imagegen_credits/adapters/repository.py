"""Accounts, reservations, ledger rows and outbox rows, on the engine's asyncpg connection.

Every statement that moves credits is here, as plain SQL that asyncpg prepares once per pooled
connection. Through SQLAlchemy Core (execution context, greenlet hops, result wrapping) the same
statements cost about six times the client CPU, and the service is bound by that CPU when many
teams spend at once (bench/credits_bench.py). Pricing reads, once per quote, are here too.
tables.py still describes the schema and serves the other queries (history, the ledger check,
Stripe events, the outbox relay).

The functions run on the caller's connection and in its transaction
(service_layer/unit_of_work.py); locking and idempotency are the handlers' business.
"""

import uuid
from datetime import datetime
from typing import Any

from asyncpg import Connection, Record

from imagegen_credits.domain.model import (
    Account,
    Billing,
    LedgerKind,
    Movement,
    Plan,
    Reservation,
    ReservationState,
)
from imagegen_credits.domain.pricing import Operation

# The columns of the Account aggregate, in the order of _to_account.
_ACCOUNT_COLUMNS = (
    "team_id",
    "plan",
    "available_hundredths",
    "reserved_hundredths",
    "bonus_hundredths",
    "total_allocated_hundredths",
    "period_start",
    "next_replenishment_at",
    "billing",
    "subscription_status",
    "low_balance_threshold_hundredths",
    "below_low_balance",
)
GET_ACCOUNT = f"SELECT {', '.join(_ACCOUNT_COLUMNS)} FROM credits.account WHERE team_id = $1"
LOCK_ACCOUNT = GET_ACCOUNT + " FOR UPDATE"
OPEN_ACCOUNT = (
    "INSERT INTO credits.account (team_id, plan, available_hundredths, reserved_hundredths, "
    "bonus_hundredths, total_allocated_hundredths, period_start, next_replenishment_at, billing, "
    "below_low_balance, version) VALUES ($1, $2, 0, 0, 0, 0, $3, $4, $5, false, 1) "
    "ON CONFLICT (team_id) DO NOTHING RETURNING team_id"
)
# Writes back every mutable field of the aggregate, whichever the handler changed.
SAVE_ACCOUNT = (
    "UPDATE credits.account SET plan = $2, available_hundredths = $3, reserved_hundredths = $4, "
    "bonus_hundredths = $5, total_allocated_hundredths = $6, period_start = $7, "
    "next_replenishment_at = $8, billing = $9, subscription_status = $10, "
    "low_balance_threshold_hundredths = $11, below_low_balance = $12, version = version + 1, "
    "updated_at = now() WHERE team_id = $1"
)
LINK_STRIPE_CUSTOMER = (
    "UPDATE credits.account SET stripe_customer_id = $2, billing = $3, updated_at = now() WHERE team_id = $1"
)
GET_SUBSCRIPTION_EVENT_AT = "SELECT subscription_event_at FROM credits.account WHERE team_id = $1"
SET_SUBSCRIPTION = (
    "UPDATE credits.account SET stripe_subscription_id = $2, subscription_event_at = $3 WHERE team_id = $1"
)

# The columns of a Reservation after its team_id, in the order of _to_reservation.
_RESERVATION_COLUMNS = (
    "amount_hundredths",
    "bonus_hundredths",
    "state",
    "captured_hundredths",
    "released_hundredths",
)
GET_RESERVATION = (
    f"SELECT team_id, {', '.join(_RESERVATION_COLUMNS)} FROM credits.reservation WHERE idempotency_key = $1"
)
# A reservation and its account, both locked: the one statement settle() needs before it writes.
# Only this statement locks reservation rows, so whatever order Postgres locks the two rows in,
# settlements cannot deadlock with each other, nor with handlers that lock only the account.
LOCK_SETTLEMENT = (
    f"SELECT {', '.join(f'a.{name}' for name in _ACCOUNT_COLUMNS)}, "
    f"{', '.join(f'r.{name}' for name in _RESERVATION_COLUMNS)} "
    "FROM credits.account a JOIN credits.reservation r ON r.team_id = a.team_id "
    "WHERE r.idempotency_key = $1 FOR UPDATE"
)
INSERT_RESERVATION = (
    "INSERT INTO credits.reservation (idempotency_key, team_id, amount_hundredths, bonus_hundredths, "
    "state, captured_hundredths, released_hundredths) VALUES ($1, $2, $3, $4, $5, 0, 0)"
)
SETTLE_RESERVATION = (
    "UPDATE credits.reservation SET state = $2, captured_hundredths = $3, released_hundredths = $4, "
    "settled_at = now() WHERE idempotency_key = $1"
)

WRITE_LEDGER = (
    "INSERT INTO credits.ledger_entry (id, team_id, kind, amount_hundredths, bonus_hundredths, "
    "available_after_hundredths, reserved_after_hundredths, idempotency_key, description) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
ALREADY_RECORDED = "SELECT EXISTS (SELECT FROM credits.ledger_entry WHERE kind = $1 AND idempotency_key = $2)"

# The row imagegen_platform.outbox.add_event writes, for a transaction on the driver connection.
ADD_EVENT = (
    "INSERT INTO credits.outbox (id, subject, payload, request_id, traceparent) VALUES ($1, $2, $3, $4, $5)"
)

# Both read the primary key (operation, version).
CURRENT_PRICING_VERSION = "SELECT max(version) FROM credits.credit_pricing_config WHERE operation = $1"
GET_PRICING_CONFIG = "SELECT config FROM credits.credit_pricing_config WHERE operation = $1 AND version = $2"


def _to_account(row: Record) -> Account:
    return Account(
        team_id=row[0],
        plan=Plan(row[1]),
        available_hundredths=row[2],
        reserved_hundredths=row[3],
        bonus_hundredths=row[4],
        total_allocated_hundredths=row[5],
        period_start=row[6],
        next_replenishment_at=row[7],
        billing=Billing(row[8]),
        subscription_status=row[9],
        low_balance_threshold_hundredths=row[10],
        below_low_balance=row[11],
    )


async def get_account(connection: Connection, team_id: str) -> Account | None:
    row = await connection.fetchrow(GET_ACCOUNT, team_id)
    return None if row is None else _to_account(row)


async def lock_account(connection: Connection, team_id: str) -> Account | None:
    """The account, locked until the transaction ends."""
    row = await connection.fetchrow(LOCK_ACCOUNT, team_id)
    return None if row is None else _to_account(row)


async def open_account(
    connection: Connection, team_id: str, plan: Plan, period_start: datetime, period_end: datetime
) -> bool:
    """Insert an empty account unless the team has one; True when this call inserted it."""
    inserted = await connection.fetchval(
        OPEN_ACCOUNT, team_id, plan.value, period_start, period_end, Billing.MANUAL.value
    )
    return inserted is not None


async def save_account(connection: Connection, acct: Account) -> None:
    await connection.execute(
        SAVE_ACCOUNT,
        acct.team_id,
        acct.plan.value,
        acct.available_hundredths,
        acct.reserved_hundredths,
        acct.bonus_hundredths,
        acct.total_allocated_hundredths,
        acct.period_start,
        acct.next_replenishment_at,
        acct.billing.value,
        acct.subscription_status,
        acct.low_balance_threshold_hundredths,
        acct.below_low_balance,
    )


async def link_stripe_customer(connection: Connection, team_id: str, customer_id: str) -> None:
    await connection.execute(LINK_STRIPE_CUSTOMER, team_id, customer_id, Billing.STRIPE.value)


async def subscription_event_at(connection: Connection, team_id: str) -> datetime | None:
    """Stripe's creation time of the last subscription event applied to the account."""
    value: datetime | None = await connection.fetchval(GET_SUBSCRIPTION_EVENT_AT, team_id)
    return value


async def set_subscription(
    connection: Connection, team_id: str, subscription_id: str, event_created_at: datetime
) -> None:
    await connection.execute(SET_SUBSCRIPTION, team_id, subscription_id, event_created_at)


def _to_reservation(team_id: str, row: Record, first: int) -> Reservation:
    """The reservation of `team_id` in the columns of `row` from index `first` on."""
    return Reservation(
        team_id=team_id,
        amount_hundredths=row[first],
        bonus_hundredths=row[first + 1],
        state=ReservationState(row[first + 2]),
        captured_hundredths=row[first + 3],
        released_hundredths=row[first + 4],
    )


async def get_reservation(connection: Connection, key: str) -> Reservation | None:
    row = await connection.fetchrow(GET_RESERVATION, key)
    return None if row is None else _to_reservation(row[0], row, 1)


async def lock_settlement(connection: Connection, key: str) -> tuple[Account, Reservation] | None:
    """The reservation and its account, both locked until the transaction ends."""
    row = await connection.fetchrow(LOCK_SETTLEMENT, key)
    if row is None:
        return None
    acct = _to_account(row)
    return acct, _to_reservation(acct.team_id, row, len(_ACCOUNT_COLUMNS))


async def insert_reservation(connection: Connection, key: str, team_id: str, amount: int, bonus: int) -> None:
    """A new held reservation of `amount`, `bonus` of it drawn from bonus credits."""
    await connection.execute(INSERT_RESERVATION, key, team_id, amount, bonus, ReservationState.HELD.value)


async def settle_reservation(
    connection: Connection, key: str, state: ReservationState, captured: int, released: int
) -> None:
    await connection.execute(SETTLE_RESERVATION, key, state.value, captured, released)


async def write_ledger(
    connection: Connection,
    acct: Account,
    key: str,
    entries: list[tuple[LedgerKind, Movement]],
    description: str | None,
) -> None:
    """Append a ledger row per movement, with the account's balances after them, in one round trip."""
    await connection.executemany(
        WRITE_LEDGER,
        [
            (
                str(uuid.uuid4()),
                acct.team_id,
                kind.value,
                movement.amount,
                movement.bonus,
                acct.available_hundredths,
                acct.reserved_hundredths,
                key,
                description,
            )
            for kind, movement in entries
        ],
    )


async def already_recorded(connection: Connection, kind: LedgerKind, key: str) -> bool:
    recorded: bool = await connection.fetchval(ALREADY_RECORDED, kind.value, key)
    return recorded


async def add_event(
    connection: Connection, subject: str, payload: bytes, request_id: str | None, traceparent: str | None
) -> None:
    await connection.execute(ADD_EVENT, str(uuid.uuid4()), subject, payload, request_id, traceparent)


async def current_pricing_version(connection: Connection, operation: Operation) -> int | None:
    """The newest version of the operation's pricing config; None when it has none."""
    version: int | None = await connection.fetchval(CURRENT_PRICING_VERSION, operation.value)
    return version


async def pricing_factors(connection: Connection, operation: Operation, version: int) -> dict[str, Any]:
    factors: dict[str, Any] = await connection.fetchval(GET_PRICING_CONFIG, operation.value, version)
    return factors

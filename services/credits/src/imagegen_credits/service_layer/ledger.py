"""Reading the ledger: the consistency check auditors run, and a team's history."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.adapters.tables import account, ledger_entry, reservation
from imagegen_credits.domain.model import LedgerKind

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class LedgerMismatch:
    team_id: str
    balance: str
    account_value: int
    ledger_value: int


def _signed(kinds_plus: tuple[LedgerKind, ...], kinds_minus: tuple[LedgerKind, ...], column):
    """Sum of `column` over a team's rows, added for some kinds and subtracted for others."""
    return func.coalesce(
        func.sum(
            case(
                (ledger_entry.c.kind.in_([k.value for k in kinds_plus]), column),
                (ledger_entry.c.kind.in_([k.value for k in kinds_minus]), -column),
                else_=literal(0),
            )
        ),
        0,
    )


async def check_ledger(engine: AsyncEngine) -> list[LedgerMismatch]:
    """Every balance of every account recomputed from its ledger rows; returns the differences."""
    K, amount, bonus = LedgerKind, ledger_entry.c.amount_hundredths, ledger_entry.c.bonus_hundredths
    sums = (
        select(
            ledger_entry.c.team_id,
            _signed((K.ALLOCATION, K.BONUS, K.RELEASE, K.ADJUSTMENT), (K.RESERVE, K.EXPIRY), amount).label(
                "available"
            ),
            _signed((K.RESERVE,), (K.CAPTURE, K.RELEASE), amount).label("reserved"),
            _signed((K.BONUS, K.RELEASE, K.ADJUSTMENT), (K.RESERVE,), bonus).label("bonus"),
            _signed((K.ALLOCATION, K.BONUS), (), amount).label("total_allocated"),
        )
        .group_by(ledger_entry.c.team_id)
        .subquery()
    )
    held = (
        select(reservation.c.team_id, func.sum(reservation.c.amount_hundredths).label("held"))
        .where(reservation.c.state == "held")
        .group_by(reservation.c.team_id)
        .subquery()
    )
    # One statement, so the accounts and their ledger are read from the same snapshot.
    query = select(
        account,
        func.coalesce(sums.c.available, 0).label("ledger_available"),
        func.coalesce(sums.c.reserved, 0).label("ledger_reserved"),
        func.coalesce(sums.c.bonus, 0).label("ledger_bonus"),
        func.coalesce(sums.c.total_allocated, 0).label("ledger_total_allocated"),
        func.coalesce(held.c.held, 0).label("held_reservations"),
    ).select_from(
        account.outerjoin(sums, sums.c.team_id == account.c.team_id).outerjoin(
            held, held.c.team_id == account.c.team_id
        )
    )
    mismatches = []
    async with engine.connect() as connection:
        for row in await connection.execute(query):
            for balance, ledger_value in (
                ("available", row.ledger_available),
                ("reserved", row.ledger_reserved),
                ("bonus", row.ledger_bonus),
                ("total_allocated", row.ledger_total_allocated),
            ):
                account_value = getattr(row, f"{balance}_hundredths")
                if account_value != ledger_value:
                    mismatches.append(LedgerMismatch(row.team_id, balance, account_value, int(ledger_value)))
            if row.reserved_hundredths != row.held_reservations:
                mismatches.append(
                    LedgerMismatch(
                        row.team_id, "held_reservations", row.reserved_hundredths, int(row.held_reservations)
                    )
                )
    return mismatches


async def history(
    engine: AsyncEngine,
    team_id: str,
    *,
    kinds: list[LedgerKind],
    since: datetime | None,
    until: datetime | None,
    page_size: int,
    before_sequence: int | None,
) -> tuple[list[Row], int | None]:
    """A team's ledger rows, newest first, and the cursor of the next page (None on the last)."""
    query = select(ledger_entry).where(ledger_entry.c.team_id == team_id)
    if kinds:
        query = query.where(ledger_entry.c.kind.in_([kind.value for kind in kinds]))
    if since is not None:
        query = query.where(ledger_entry.c.created_at >= since)
    if until is not None:
        query = query.where(ledger_entry.c.created_at < until)
    if before_sequence is not None:
        query = query.where(ledger_entry.c.sequence < before_sequence)
    query = query.order_by(ledger_entry.c.sequence.desc()).limit(page_size + 1)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    page = rows[:page_size]
    return page, (page[-1].sequence if len(rows) > page_size else None)

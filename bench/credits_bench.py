"""`make bench`: reserve+capture throughput of the credits ledger against the raw-SQL ceiling.

One operation is the job lifecycle as the credits service sees it: `handlers.reserve(team, 10, key)`
and then `handlers.settle(key, 7)`, i.e. a capture below the reservation that releases the rest
(two transactions, each under the account's row lock). N asyncio workers run operations for a fixed
time on the engine the service runs on (`imagegen_platform.db.create_engine`)
with a pool of N connections:

- hot team: every worker hits one account row, the serialisation worst case;
- across teams: each operation picks one of 10,000 accounts at random (the first opened by
  `handlers.create_account`, the others copied from it by SQL, which is much faster).

Beside each, against the same throwaway Postgres in the same run, the ceiling drives the same SQL
transactions with plain asyncpg (a pool of N, no SQLAlchemy, no domain objects); see `Ceiling`,
which mirrors handlers.py statement for statement. Before measuring, the script records every
statement the driver sends for one operation on each side (BEGIN, COMMIT and any pool pre-ping
included) and warns when the two lists differ, i.e. when `Ceiling` needs updating.

Each side runs `--seconds` in total, split ABBA (ceiling, ours, ours, ceiling; a checkpoint before
each half) so that drift (table growth, WAL, caches) does not favour either side. Postgres runs
durably (fsync and synchronous_commit on, not the tests' fast mode): a benchmark of a ledger should
pay for durable commits. After each scenario the ledger is checked (balances equal ledger sums,
nothing left reserved or held, one capture per completed operation).

Results are printed and written to .local/bench/credits.json. The exit status is 0 whatever the
ratios (a benchmark reports, it does not gate) and non-zero on errors or a ledger mismatch.

    python bench/credits_bench.py [--seconds 10] [--workers 32] [--teams 10000] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import sqlalchemy
from imagegen_credits.adapters.tables import account, ledger_entry
from imagegen_credits.domain.model import Plan
from imagegen_credits.service_layer import handlers, ledger
from imagegen_devstack.infra import PostgresServer, free_port
from imagegen_devstack.stack import migrate_all
from imagegen_platform.db import create_engine
from sqlalchemy import event

REPO = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO / ".local" / "bench" / "credits.json"
DATABASE = "bench"
HOT_TEAM = "bench-hot"
PROBE_TEAM = "bench-probe"
# Every account is opened on the enterprise plan (10,000.00 credits); an operation costs 0.07.
PLAN = Plan.ENTERPRISE
RESERVE = 10
CHARGE = 7
TARGETS = {"hot team": 0.50, "across teams": 0.70}

Op = Callable[[str], Awaitable[None]]


# --- the ceiling: handlers.py's SQL, driven directly -----------------------------------------------


class Ceiling:
    """reserve() and settle() of handlers.py as plain asyncpg statements, in the same order.

    Keep in step with handlers.py and adapters/repository.py: the statement check at start-up
    says when they have drifted apart.
    """

    ACCOUNT_COLUMNS = (
        "team_id, plan, available_hundredths, reserved_hundredths, bonus_hundredths, "
        "total_allocated_hundredths, period_start, next_replenishment_at, billing, subscription_status, "
        "low_balance_threshold_hundredths, below_low_balance"
    )
    LOCK_ACCOUNT = f"SELECT {ACCOUNT_COLUMNS} FROM credits.account WHERE team_id = $1 FOR UPDATE"
    GET_RESERVATION = (
        "SELECT team_id, amount_hundredths, bonus_hundredths, state, captured_hundredths, "
        "released_hundredths FROM credits.reservation WHERE idempotency_key = $1"
    )
    # The reservation and its account, both locked, in one statement.
    LOCK_SETTLEMENT = (
        "SELECT a.team_id, a.plan, a.available_hundredths, a.reserved_hundredths, a.bonus_hundredths, "
        "a.total_allocated_hundredths, a.period_start, a.next_replenishment_at, a.billing, "
        "a.subscription_status, a.low_balance_threshold_hundredths, a.below_low_balance, "
        "r.amount_hundredths, r.bonus_hundredths, r.state, r.captured_hundredths, r.released_hundredths "
        "FROM credits.account a JOIN credits.reservation r ON r.team_id = a.team_id "
        "WHERE r.idempotency_key = $1 FOR UPDATE"
    )
    # The handlers write back every mutable field of the account, whether it changed or not.
    SAVE_ACCOUNT = (
        "UPDATE credits.account SET plan = $2, available_hundredths = $3, reserved_hundredths = $4, "
        "bonus_hundredths = $5, total_allocated_hundredths = $6, period_start = $7, "
        "next_replenishment_at = $8, billing = $9, subscription_status = $10, "
        "low_balance_threshold_hundredths = $11, below_low_balance = $12, version = version + 1, "
        "updated_at = now() WHERE team_id = $1"
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

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def op(self, team_id: str) -> None:
        key = str(uuid.uuid4())
        await self.reserve(team_id, RESERVE, key)
        await self.settle(key, CHARGE)

    async def _save_account(
        self, conn: asyncpg.Connection, acct: asyncpg.Record, available: int, reserved: int, bonus: int
    ) -> None:
        threshold = acct["low_balance_threshold_hundredths"]
        below = threshold is not None and available < threshold
        if below and not acct["below_low_balance"]:
            # The benchmark's accounts have no threshold: handlers.py would add an outbox row here.
            raise RuntimeError("the ceiling does not write low-balance events")
        await conn.execute(
            self.SAVE_ACCOUNT,
            acct["team_id"],
            acct["plan"],
            available,
            reserved,
            bonus,
            acct["total_allocated_hundredths"],
            acct["period_start"],
            acct["next_replenishment_at"],
            acct["billing"],
            acct["subscription_status"],
            threshold,
            below,
        )

    async def reserve(self, team_id: str, amount: int, key: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            acct = await conn.fetchrow(self.LOCK_ACCOUNT, team_id)
            if acct is None:
                raise RuntimeError(f"team {team_id} has no credit account")
            if await conn.fetchrow(self.GET_RESERVATION, key) is not None:
                return
            available, bonus = acct["available_hundredths"], acct["bonus_hundredths"]
            if amount > available:
                raise RuntimeError(f"team {team_id} has too few credits for {amount}")
            from_bonus = max(0, amount - (available - bonus))
            available, bonus = available - amount, bonus - from_bonus
            reserved = acct["reserved_hundredths"] + amount
            await self._save_account(conn, acct, available, reserved, bonus)
            await conn.execute(self.INSERT_RESERVATION, key, team_id, amount, from_bonus, "held")
            # The handlers send their ledger rows with executemany: one round trip for any number.
            await conn.executemany(
                self.WRITE_LEDGER,
                [(str(uuid.uuid4()), team_id, "reserve", amount, from_bonus, available, reserved, key, None)],
            )

    async def settle(self, key: str, charge: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchrow(self.LOCK_SETTLEMENT, key)
            if locked is None:
                raise RuntimeError(f"no reservation has the key {key}")
            if locked["state"] != "held":
                return
            team_id, amount = locked["team_id"], locked["amount_hundredths"]
            # Both tables have a bonus_hundredths: the account's is column 4, the reservation's 13.
            account_bonus, held_bonus = locked[4], locked[13]
            released = amount - charge
            released_bonus = min(held_bonus, released)
            available = locked["available_hundredths"] + released
            reserved = locked["reserved_hundredths"] - amount
            bonus = account_bonus + released_bonus
            await self._save_account(conn, locked, available, reserved, bonus)
            await conn.execute(self.SETTLE_RESERVATION, key, "captured", charge, released)
            await conn.executemany(
                self.WRITE_LEDGER,
                [
                    (str(uuid.uuid4()), team_id, kind, value, value_bonus, available, reserved, key, None)
                    for kind, value, value_bonus in (
                        ("capture", charge, held_bonus - released_bonus),
                        ("release", released, released_bonus),
                    )
                    if value != 0
                ],
            )


async def _no_reset(connection: asyncpg.Connection) -> None:
    """asyncpg's pool resets every released connection (RESET ALL, ...): one more round trip that
    SQLAlchemy does not make, so the ceiling skips it."""


# --- our code -----------------------------------------------------------------------------------


async def ours_op(engine, team_id: str) -> None:
    key = str(uuid.uuid4())
    await handlers.reserve(engine, team_id, RESERVE, key)
    await handlers.settle(engine, key, CHARGE)


# --- statements: does the ceiling still mirror the handlers? --------------------------------------


class _OneConnection:
    """Stands in for the ceiling's pool while its statements are recorded."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.connection


async def check_statements(database_url: str, dsn: str, team_id: str) -> dict:
    """Run one operation each way, recording every statement the driver sends (transaction
    control and any pre-ping included), and compare the two lists."""
    ours: list[str] = []
    ceiling: list[str] = []

    def recorder(sent: list[str]) -> Callable[[asyncpg.connection.LoggedQuery], None]:
        return lambda query: sent.append(" ".join(query.query.split()))

    # Our side: every connection checked out of a fresh engine made like the measured one logs
    # its driver's statements; statements sent through SQLAlchemy would bypass those loggers, so
    # they are recorded too (their place in the list is then approximate, but never missed).
    engine = create_engine(database_url, pool_size=1)
    await ours_op(engine, team_id)  # connect and prepare first, as the measured phases have
    log_ours = recorder(ours)

    def on_checkout(dbapi_connection, connection_record, connection_proxy) -> None:
        dbapi_connection.driver_connection.add_query_logger(log_ours)

    def on_cursor_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        ours.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "checkout", on_checkout)
    event.listen(engine.sync_engine, "before_cursor_execute", on_cursor_execute)
    try:
        await ours_op(engine, team_id)
        await asyncio.sleep(0)  # query loggers are called soon after each statement
    finally:
        await engine.dispose()

    connection = await asyncpg.connect(dsn)
    try:
        probe = Ceiling(_OneConnection(connection))
        await probe.op(team_id)
        connection.add_query_logger(recorder(ceiling))
        await probe.op(team_id)
        await asyncio.sleep(0)
    finally:
        await connection.close()
    return {"match": ours == ceiling, "ours": ours, "ceiling": ceiling}


# --- measuring ----------------------------------------------------------------------------------


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@dataclass
class Phase:
    ops: int = 0
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    machine_busy: int = 0
    machine_total: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Phase) -> None:
        self.ops += other.ops
        self.seconds += other.seconds
        self.client_cpu_seconds += other.client_cpu_seconds
        self.machine_busy += other.machine_busy
        self.machine_total += other.machine_total
        self.latencies += other.latencies

    def summary(self) -> dict:
        latencies = sorted(self.latencies)

        def percentile(p: float) -> float:
            return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

        return {
            "ops": self.ops,
            "seconds": round(self.seconds, 3),
            "ops_per_second": round(self.ops / self.seconds, 1) if self.seconds else 0.0,
            "latency_ms_p50": percentile(0.50) if latencies else None,
            "latency_ms_p99": percentile(0.99) if latencies else None,
            # CPU this (single-threaded) Python process spent per operation: the client's overhead.
            "client_cpu_ms_per_op": round(1000 * self.client_cpu_seconds / self.ops, 3) if self.ops else None,
            # Share of one core used by this Python process.
            "client_cpu_percent": round(100 * self.client_cpu_seconds / self.seconds, 1)
            if self.seconds
            else 0.0,
            # Share of all cores busy (Postgres and this process together).
            "machine_cpu_percent": round(100 * self.machine_busy / self.machine_total, 1)
            if self.machine_total
            else 0.0,
        }


async def run_phase(
    op: Op, pick_team: Callable[[], str], workers: int, seconds: float, profiler: cProfile.Profile | None
) -> Phase:
    """`workers` loops calling `op` until `seconds` have passed; counts every finished operation."""
    phase = Phase()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await op(pick_team())
            phase.latencies.append(time.perf_counter() - started)
            phase.ops += 1

    busy0, total0 = _cpu_ticks()
    cpu0 = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
    finally:
        if profiler is not None:
            profiler.disable()
    phase.seconds = time.perf_counter() - started
    phase.client_cpu_seconds = time.process_time() - cpu0
    busy1, total1 = _cpu_ticks()
    phase.machine_busy, phase.machine_total = busy1 - busy0, total1 - total0
    return phase


@dataclass
class Scenario:
    name: str
    teams: list[str]
    ours: Phase = field(default_factory=Phase)
    ceiling: Phase = field(default_factory=Phase)
    warmup_ops: int = 0
    ledger: dict = field(default_factory=dict)


async def run_scenario(
    scenario: Scenario,
    engine,
    pool: asyncpg.Pool,
    ceiling: Ceiling,
    args: argparse.Namespace,
    profiler: cProfile.Profile | None,
) -> None:
    async def ours(team_id: str) -> None:
        await ours_op(engine, team_id)

    teams = scenario.teams
    pick = (lambda: teams[0]) if len(teams) == 1 else (lambda: random.choice(teams))
    print(f"\n== {scenario.name}: {len(teams):,} team(s), {args.workers} workers", flush=True)
    for label, op in (("ceiling", ceiling.op), ("ours", ours)):
        warm = await run_phase(op, pick, args.workers, args.warmup, None)
        scenario.warmup_ops += warm.ops
        print(f"   warm-up {label:<8} {warm.ops:>7,} ops in {warm.seconds:5.1f}s", flush=True)
    # ABBA: each side gets two halves, one early and one late, so drift cancels out.
    for label, op in (("ceiling", ceiling.op), ("ours", ours), ("ours", ours), ("ceiling", ceiling.op)):
        async with pool.acquire() as conn:
            await conn.execute("CHECKPOINT")
        phase = await run_phase(
            op, pick, args.workers, args.seconds / 2, profiler if label == "ours" else None
        )
        getattr(scenario, label).add(phase)
        print(
            f"   {label:<16} {phase.ops:>7,} ops in {phase.seconds:5.1f}s = "
            f"{phase.ops / phase.seconds:8.1f} ops/s",
            flush=True,
        )
    scenario.ledger = await check_ledger(
        engine, pool, teams, scenario.ours.ops + scenario.ceiling.ops + scenario.warmup_ops
    )
    print(f"   ledger check: {scenario.ledger['verdict']}", flush=True)


# --- correctness --------------------------------------------------------------------------------

LEDGER_CHECK = """
WITH sums AS (
    SELECT team_id,
           coalesce(sum(amount_hundredths) FILTER (WHERE kind IN ('allocation', 'bonus')), 0) AS allocated,
           coalesce(sum(CASE kind WHEN 'allocation' THEN amount_hundredths
                                  WHEN 'bonus' THEN amount_hundredths
                                  WHEN 'adjustment' THEN amount_hundredths
                                  WHEN 'release' THEN amount_hundredths
                                  WHEN 'reserve' THEN -amount_hundredths
                                  WHEN 'expiry' THEN -amount_hundredths
                                  ELSE 0 END), 0) AS available,
           coalesce(sum(CASE kind WHEN 'reserve' THEN amount_hundredths
                                  WHEN 'capture' THEN -amount_hundredths
                                  WHEN 'release' THEN -amount_hundredths
                                  ELSE 0 END), 0) AS reserved,
           coalesce(sum(CASE kind WHEN 'bonus' THEN bonus_hundredths
                                  WHEN 'release' THEN bonus_hundredths
                                  WHEN 'adjustment' THEN bonus_hundredths
                                  WHEN 'reserve' THEN -bonus_hundredths
                                  ELSE 0 END), 0) AS bonus
    FROM credits.ledger_entry WHERE team_id = ANY($1::text[]) GROUP BY team_id
)
SELECT count(*) AS accounts,
       count(*) FILTER (WHERE a.available_hundredths <> coalesce(s.available, 0)
                           OR a.reserved_hundredths <> coalesce(s.reserved, 0)
                           OR a.bonus_hundredths <> coalesce(s.bonus, 0)
                           OR a.total_allocated_hundredths <> coalesce(s.allocated, 0)) AS mismatched,
       count(*) FILTER (WHERE a.reserved_hundredths <> 0) AS still_reserved
FROM credits.account a LEFT JOIN sums s USING (team_id)
WHERE a.team_id = ANY($1::text[])
"""

RESERVATION_CHECK = """
SELECT count(*) FILTER (WHERE state = 'held') AS held,
       count(*) FILTER (WHERE state = 'captured') AS captured,
       count(*) FILTER (WHERE state = 'captured' AND (captured_hundredths, released_hundredths) <> ($2, $3))
           AS wrong_amounts
FROM credits.reservation WHERE team_id = ANY($1::text[])
"""


async def check_ledger(engine, pool: asyncpg.Pool, teams: list[str], expected_ops: int) -> dict:
    """Our own check of the scenario's teams, and the service's `check-ledger` of every account."""
    async with pool.acquire() as conn:
        balances = await conn.fetchrow(LEDGER_CHECK, teams)
        reservations = await conn.fetchrow(RESERVATION_CHECK, teams, CHARGE, RESERVE - CHARGE)
    service_mismatches = await ledger.check_ledger(engine)
    result = {
        **dict(balances),
        **dict(reservations),
        "expected_captured": expected_ops,
        "service_check_mismatches": len(service_mismatches),
    }
    problems = []
    if service_mismatches:
        problems.append(f"the service's ledger check found {len(service_mismatches)} mismatches")
    if result["accounts"] != len(teams):
        problems.append(f"{len(teams) - result['accounts']} accounts missing")
    if result["mismatched"]:
        problems.append(f"{result['mismatched']} accounts differ from their ledger")
    if result["still_reserved"]:
        problems.append(f"{result['still_reserved']} accounts still have reserved credits")
    if result["held"]:
        problems.append(f"{result['held']} reservations still held")
    if result["captured"] != expected_ops:
        problems.append(f"{result['captured']} captured reservations for {expected_ops} operations")
    if result["wrong_amounts"]:
        problems.append(f"{result['wrong_amounts']} reservations settled with the wrong amounts")
    result["ok"] = not problems
    result["verdict"] = (
        "; ".join(problems)
        if problems
        else f"OK: {result['accounts']:,} account(s) equal their ledger sums, reserved = 0, "
        f"{result['captured']:,} reservations captured once each, none held; "
        "the service's check-ledger agrees for every account"
    )
    return result


# --- set-up -------------------------------------------------------------------------------------


async def create_accounts(engine, pool: asyncpg.Pool, teams: list[str]) -> float:
    """Open the first account through handlers.create_account and copy it (and its allocation
    ledger row) to the others in one SQL statement each: 10,000 durable create_account calls
    would take minutes on a small machine. The ledger checks cover the copies too."""
    started = time.perf_counter()
    template, others = teams[0], teams[1:]
    await handlers.create_account(engine, template, PLAN)

    def copied(table: sqlalchemy.Table, overrides: dict[str, str]) -> tuple[str, str]:
        names = [c.name for c in table.columns if c.name != "sequence"]  # identity, generated
        return ", ".join(names), ", ".join(overrides.get(name, f"a.{name}") for name in names)

    account_columns, account_values = copied(account, {"team_id": "t.team_id"})
    ledger_columns, ledger_values = copied(
        ledger_entry,
        {
            "id": "gen_random_uuid()::text",
            "team_id": "t.team_id",
            "idempotency_key": "replace(a.idempotency_key, $1, t.team_id)",
        },
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"INSERT INTO credits.account ({account_columns}) SELECT {account_values} "
            "FROM credits.account a, unnest($2::text[]) AS t(team_id) WHERE a.team_id = $1",
            template,
            others,
        )
        await conn.execute(
            f"INSERT INTO credits.ledger_entry ({ledger_columns}) SELECT {ledger_values} "
            "FROM credits.ledger_entry a, unnest($2::text[]) AS t(team_id) WHERE a.team_id = $1",
            template,
            others,
        )
    return time.perf_counter() - started


def _git_revision() -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "services/credits",
                "libs/platform",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{commit}{' (credits/platform modified)' if dirty else ''}"


def _filesystem_of(path: Path) -> str:
    """The mount's filesystem type (tmpfs would make fsync free and the numbers meaningless)."""
    best = ("", "?")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            mount_point, fs_type = line.split()[1:3]
            if str(path).startswith(mount_point) and len(mount_point) >= len(best[0]):
                best = (mount_point, fs_type)
    except OSError:
        pass
    return best[1]


# --- report -------------------------------------------------------------------------------------


def report(scenarios: list[Scenario], results: dict) -> None:
    header = (
        f"{'scenario':<14} {'ours ops/s':>11} {'ceiling ops/s':>14} {'ratio':>7} {'target':>7} "
        f"{'result':>6}   {'ours ops / s':>16} {'ceiling ops / s':>16}"
    )
    print("\n" + header)
    print("-" * len(header))
    for scenario in scenarios:
        row = results["scenarios"][scenario.name]
        ours, ceiling = row["ours"], row["ceiling"]
        print(
            f"{scenario.name:<14} {ours['ops_per_second']:>11,.1f} {ceiling['ops_per_second']:>14,.1f} "
            f"{row['ratio']:>7.0%} {row['target']:>6.0%}+ {row['result']:>6}   "
            f"{ours['ops']:>9,} / {ours['seconds']:4.1f} {ceiling['ops']:>9,} / {ceiling['seconds']:4.1f}"
        )
    print()
    detail = (
        f"{'scenario':<14} {'side':<8} {'p50 ms':>8} {'p99 ms':>8} {'client CPU':>11} "
        f"{'client CPU/op':>14} {'machine CPU':>12}"
    )
    print(detail)
    print("-" * len(detail))
    for scenario in scenarios:
        row = results["scenarios"][scenario.name]
        for side in ("ours", "ceiling"):
            s = row[side]
            print(
                f"{scenario.name:<14} {side:<8} {s['latency_ms_p50']:>8} {s['latency_ms_p99']:>8} "
                f"{s['client_cpu_percent']:>10}% {s['client_cpu_ms_per_op']:>11} ms "
                f"{s['machine_cpu_percent']:>11}%"
            )
    print(
        "\nclient CPU: this Python process as a share of one core, and per operation; machine CPU: all "
        f"{results['environment']['cpus']} cores busy, Postgres and any other process included "
        f"({results['environment']['background_cpu_percent_before_start']}% busy before the run)."
    )
    for scenario in scenarios:
        print(f"ledger, {scenario.name}: {scenario.ledger['verdict']}")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per side (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per side (2)")
    parser.add_argument("--workers", type=int, default=32, help="concurrent workers = pool size (32)")
    parser.add_argument("--teams", type=int, default=10_000, help="accounts in the across-teams run")
    parser.add_argument(
        "--only", choices=("hot", "teams"), help="run one scenario (hot team or across teams)"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="write cProfile stats of our measured phases to DIR"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help=f"JSON results ({RESULTS_PATH})")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.teams < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--workers and --teams must be positive, --seconds > 0, --warmup >= 0")
    return args


async def bench(postgres: PostgresServer, args: argparse.Namespace, environment: dict) -> dict:
    sqlalchemy_url = postgres.dsn(DATABASE)
    engine = create_engine(sqlalchemy_url, pool_size=args.workers)
    pool = await asyncpg.create_pool(
        postgres.dsn(DATABASE, driver="postgresql"),
        min_size=args.workers,
        max_size=args.workers,
        reset=_no_reset,
    )
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            settings = {
                name: await conn.fetchval(f"SHOW {name}")
                for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes")
            }
        environment["postgres"] = settings
        durable = settings["fsync"] == "on" and settings["synchronous_commit"] == "on"
        print(
            f"Postgres {settings['server_version']}: "
            f"{'durable, not fast mode' if durable else 'NOT durable'} (fsync={settings['fsync']}, "
            f"synchronous_commit={settings['synchronous_commit']}, "
            f"full_page_writes={settings['full_page_writes']}) on {environment['data_filesystem']}",
            flush=True,
        )

        await handlers.create_account(engine, PROBE_TEAM, PLAN)
        statements = await check_statements(
            sqlalchemy_url, postgres.dsn(DATABASE, driver="postgresql"), PROBE_TEAM
        )
        environment["statements"] = statements
        if statements["match"]:
            print(
                f"statements: the ceiling sends the handlers' SQL ({len(statements['ours'])} statements/op, "
                "BEGIN and COMMIT included)"
            )
        else:
            print("WARNING: the handlers' statements no longer match the ceiling's; update Ceiling:")
            for label in ("ours", "ceiling"):
                print(f"  {label}:")
                for statement in statements[label]:
                    print(f"    {statement}")

        scenarios: list[Scenario] = []
        if args.only in (None, "hot"):
            await handlers.create_account(engine, HOT_TEAM, PLAN)
            scenarios.append(Scenario("hot team", [HOT_TEAM]))
        if args.only in (None, "teams"):
            teams = [f"bench-team-{i:05d}" for i in range(args.teams)]
            took = await create_accounts(engine, pool, teams)
            print(
                f"created {len(teams):,} accounts in {took:.1f}s (one by handlers.create_account, "
                "copied by SQL to the rest)"
            )
            scenarios.append(Scenario("across teams", teams))

        ceiling = Ceiling(pool)
        profilers: dict[str, cProfile.Profile] = {}
        for scenario in scenarios:
            profiler = cProfile.Profile() if args.profile else None
            await run_scenario(scenario, engine, pool, ceiling, args, profiler)
            if profiler is not None:
                profilers[scenario.name] = profiler
    finally:
        await pool.close()
        await engine.dispose()

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        for name, profiler in profilers.items():
            path = args.profile / f"ours-{name.replace(' ', '-')}.prof"
            profiler.dump_stats(path)
            print(f"cProfile of our {name} phases: {path}")

    results: dict = {"environment": environment, "scenarios": {}}
    for scenario in scenarios:
        ours, ceiling_summary = scenario.ours.summary(), scenario.ceiling.summary()
        ratio = ours["ops_per_second"] / ceiling_summary["ops_per_second"]
        target = TARGETS[scenario.name]
        results["scenarios"][scenario.name] = {
            "teams": len(scenario.teams),
            "ours": ours,
            "ceiling": ceiling_summary,
            "ratio": round(ratio, 3),
            "target": target,
            "result": "PASS" if ratio >= target else "MISS",
            "warmup_ops": scenario.warmup_ops,
            "ledger": scenario.ledger,
        }
    report(scenarios, results)
    results["ok"] = all(scenario.ledger["ok"] for scenario in scenarios)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="credits-bench-"))
    environment = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": _git_revision(),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "asyncpg": asyncpg.__version__,
        "cpus": os.cpu_count(),
        "data_filesystem": _filesystem_of(tmp),
        "workers": args.workers,
        "seconds_per_side": args.seconds,
        "warmup_seconds_per_side": args.warmup,
        "reserve_hundredths": RESERVE,
        "charge_hundredths": CHARGE,
        "engine": "imagegen_platform.db.create_engine, pool_size=workers",
        "ceiling": "asyncpg pool of the same size, no reset on release",
    }
    print(
        f"credits bench: {args.workers} workers, {args.seconds:g}s per side (+{args.warmup:g}s warm-up), "
        f"revision {environment['revision']}",
        flush=True,
    )
    busy0, total0 = _cpu_ticks()
    time.sleep(1.0)
    busy1, total1 = _cpu_ticks()
    background = round(100 * (busy1 - busy0) / (total1 - total0), 1) if total1 > total0 else 0.0
    environment["background_cpu_percent_before_start"] = background
    if background > 20:
        print(
            f"WARNING: the machine was {background}% busy before we started (other processes); "
            "the numbers will be noisy, the ratios less so",
            flush=True,
        )
    postgres = PostgresServer(tmp / "postgres", free_port(), fast=False)
    try:
        with postgres:
            postgres.create_database(DATABASE)
            migrate_all(postgres.dsn(DATABASE))
            results = asyncio.run(bench(postgres, args, environment))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\ntotal {results['total_seconds']:.0f}s; results in {args.output}")
    if not results["ok"]:
        print("ERROR: the ledger check failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

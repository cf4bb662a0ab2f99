"""`make bench`: jobs through the whole pipeline, the scheduler's dispatch rate, and JetStream's ceiling.

Three measurements in one run, on infrastructure this script starts on free ports in a throwaway
folder and removes afterwards. Postgres runs durably (fsync and synchronous_commit on, as `make run`
and the credits bench run it, not the tests' fast mode): every step of a job is a committed
transaction, and a benchmark of the pipeline should pay for them. Each measured phase starts with a
CHECKPOINT, so that no timed one stalls commits in the middle of it.

1. Pipeline. A LocalStack as `make run` starts it (gateway, models, credits, storage, generation
   and its worker, moto S3, NATS JetStream, the fal emulator), except that the emulator answers at
   once (latency 0) and the worker asks the provider about a job after 1 s without a webhook instead
   of 10 s. `--teams` enterprise teams (10 concurrent jobs each) share the load, so plan concurrency
   is not what limits it. For each of `--rates` (jobs/s), an aiohttp client (keep-alive; it costs a
   fraction of httpx's CPU per request) sends `POST /api/generate` (512x512, standard, 1 image:
   the smallest priced image) open-loop, i.e. at fixed times whatever the answers, for `--seconds`,
   round-robin over the teams; then waits until
   every accepted job has finished. The default rates are the target's 50 jobs/s and 10 jobs/s, a
   rate a 2-core machine keeps up with, which shows what the pipeline costs a job without queues
   (a rate above 50 only lengthens the queues on such a machine). From generation.job (and its
   provider_request, provider_delivery and outbox rows) it reports, per rate:
   - accepted jobs/s (202s over first send to last 202) and completed jobs/s (over first send to
     the last finished_at), failed and unfinished jobs;
   - accept latency as the client saw it, from the time the request was due (so a late client
     counts against it, not in its favour);
   - orchestration overhead = finished_at - created_at per completed job (p50/p95/p99/max), the
     target's number, and its stages: created -> started (outbox relay, JetStream, the worker's
     wake-up and dispatch), started -> submitted (the provider call and recording its request id),
     submitted -> webhook stored (the emulator's webhook through the gateway into generation's
     provider_delivery), webhook stored -> finished (the image import into storage, the terminal
     transition); plus when the outbox relay picked up the JobQueued event, and how many webhooks
     were recorded only on a retry (they came before the worker had committed the request id);
   - CPU per process of the stack over the rate's window, and CPU milliseconds per job beyond what
     each process burns idle (measured for 5 s before the first rate): on a 2-core machine the
     client, Postgres, NATS and a dozen Python processes share two cores, so the client's own share,
     how late it sent requests and what other processes on the machine used are reported beside
     the numbers they could distort (with a warning when they did).
   A warm-up of `--warmup` seconds at the first rate runs before the measured rates.

2. Scheduler. After the pipeline, its services are stopped; in this process, on a fresh database
   of the same Postgres with the generation schema migrated, a handlers.Generation with a no-op
   provider (submit answers a request id at once) and peers that answer at once (plan limits,
   quote, reservation, image import) stands in for the worker. `--scheduler-teams` teams cycle
   through the enterprise (10), pro (3) and basic (1) limits. Backlog: `--scheduler-jobs` jobs are
   queued with handlers.create_image_job, then `--dispatchers` copies of the worker's own
   dispatch_loop (one per worker process, each submitting as many jobs at once as a worker does)
   run while finishers complete each submitted job through
   handlers.complete_provider_request (as an instant webhook would), freeing its slot: dispatches/s
   is the scheduler's rate with limits enforced. Paced: jobs are then created at each of `--rates`
   for `--seconds` while the loops run, each creation waking them as a JetStream JobQueued message
   would, without the relay and the consumer in between: enqueue -> start p50/p99 is the
   scheduler's own latency at that rate. Both phases are checked by replaying job_transition in
   insertion order: no team ever ran more jobs than its limit, every job started and finished
   exactly once and was submitted once.

3. Ceiling. On the same NATS server, a stream configured like GENERATION (file storage, 600 s
   duplicate window) receives small messages with a Nats-Msg-Id header, as the outbox relay
   publishes them, for `--jetstream-seconds` each: nats-py awaiting each ack in turn (the relay
   publishes its batch this way), nats-py with `--window` publishes in flight, and the services'
   own faststream broker (what OutboxRelay calls) awaiting each ack.

Results are printed and written to .local/bench/pipeline.json, with the machine and the target's
verdict (overhead p99 under 250 ms at 50 jobs/s); the stack's logs are copied to
.local/bench/pipeline-logs/. The exit status is 0 whatever the numbers (a benchmark reports, it
does not gate) and non-zero when something errored: a measurement raised, no job completed at a
rate, or a correctness check failed.

    python bench/pipeline_bench.py [--rates 10,50] [--seconds 20] [--teams 10] [--dispatchers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import nats
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen_devstack.infra import PostgresServer
from imagegen_devstack.stack import DATABASE, LocalStack, StackOptions, StackPorts
from imagegen_generation.adapters.peers import CatalogModel, PlanLimits, Quote, StoredImage
from imagegen_generation.config import GenerationSettings
from imagegen_generation.domain.jobs import ImageGenerationRequest
from imagegen_generation.entrypoints.worker import dispatch_loop
from imagegen_generation.service_layer import handlers
from imagegen_platform import db
from imagegen_platform.errors import NotFound
from imagegen_platform.events import (
    GENERATION_STREAM_CONFIG,
    JOB_QUEUED_SUBJECT,
    create_broker,
)
from nats.js.api import StreamConfig

REPO = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO / ".local" / "bench" / "pipeline.json"
LOGS_COPY = REPO / ".local" / "bench" / "pipeline-logs"
TARGET_RATE = 50
# A rate this machine keeps up with, for the overhead of the pipeline itself rather than of its queues.
LIGHT_RATE = 10
TARGET_P99_MS = 250
# The smallest image the price list knows: 5 x 1.0 x 1.0 x complexity x 1.2 credits.
GENERATE_BODY = {
    "referenceModelId": 1,
    "prompt": "pipeline bench: a red dress in a park",
    "resolution": "512x512",
    "quality": "standard",
    "numImages": 1,
}
# The worker asks the emulator about a job after this long without a webhook (make run: 10 s).
WORKER_ENV = {
    "GENERATION_PROVIDER_POLL_AFTER_SECONDS": "1",
    "GENERATION_PROVIDER_POLL_INTERVAL_SECONDS": "0.5",
}
TERMINAL = ("completed", "failed", "cancelled")
# Other processes using more than this share of one core disturb the numbers: say so.
BACKGROUND_WARNING_PERCENT = 20
OTHER_PROCESSES = "other processes"
# The client sending later than this (p99) means the machine could not keep up with it.
CLIENT_LATE_WARNING_MS = 50
# Seconds the stack is watched doing nothing, to tell its polling from its work per job.
IDLE_SECONDS = 5.0
# Run before each measured phase, so that no timed checkpoint (every 5 minutes; its fsyncs can stall
# commits for seconds on a small disk) falls inside it: the next one is due 5 minutes later.
CHECKPOINT = "CHECKPOINT"
# Scheduler teams cycle through these (plan rank, max concurrent jobs): enterprise, pro, basic.
SCHEDULER_PLANS = ((3, 10), (2, 3), (1, 1))
SCHEDULER_DATABASE = "scheduler_bench"
# Jobs created at once while queueing the scheduler's backlog (and at most while paced).
CREATORS = 16
# How long the worker's idle dispatch loop sleeps when nothing wakes it, and how many jobs it submits
# at once, as the worker is configured.
IDLE_DISPATCH_SECONDS = GenerationSettings.model_fields["worker_idle_dispatch_seconds"].default
WORKER_SUBMISSIONS = GenerationSettings.model_fields["worker_submissions"].default
JETSTREAM_STREAM = "PIPELINE_BENCH"
JETSTREAM_SUBJECT = "pipelinebench.v1.job.queued"


# --- numbers ------------------------------------------------------------------------------------


def quantiles_ms(seconds: Iterable[float]) -> dict:
    """How many, and p50, p95, p99 and max in milliseconds (nearest rank)."""
    values = sorted(seconds)
    if not values:
        return {"n": 0}

    def at(p: float) -> float:
        return round(1000 * values[min(len(values) - 1, int(p * len(values)))], 1)

    return {"n": len(values), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)}


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def machine_busy_percent(seconds: float = 1.0) -> float:
    """How busy all cores are over `seconds` (before we start anything: other people's work)."""
    busy0, total0 = _cpu_ticks()
    time.sleep(seconds)
    busy1, total1 = _cpu_ticks()
    return round(100 * (busy1 - busy0) / max(1, total1 - total0), 1)


@dataclass(frozen=True)
class CpuSample:
    seconds_by_pid: dict[int, tuple[str, float]]  # pid -> (label, CPU seconds used so far)
    machine_busy: int
    machine_total: int
    at: float


class CpuMeter:
    """CPU time of the stack's processes (by name), this client and everything else on the machine.

    Processes are told apart by process group (each of the stack's children leads its own), and
    Postgres by its postmaster's pid (its backends are the postmaster's children). Usage between
    two samples is summed per pid, so a process that exits in between loses only its own share."""

    def __init__(self, stack: LocalStack) -> None:
        self.groups = {process.pid: process.name for process in stack.processes if process.pid}
        for name, server in (("nats-server", stack.nats), ("s3 (moto)", stack.s3)):
            if server is not None and server.process.pid:
                self.groups[server.process.pid] = name
        assert stack.postgres is not None
        self.postmaster = int((stack.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        self.client = os.getpid()
        self.ticks_per_second = os.sysconf("SC_CLK_TCK")

    def _label(self, pid: int, ppid: int, pgrp: int) -> str:
        if pid == self.client:
            return "bench client"
        if self.postmaster in (pid, ppid):
            return "postgres"
        return self.groups.get(pgrp, OTHER_PROCESSES)

    def sample(self) -> CpuSample:
        seconds_by_pid = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            seconds = (int(fields[11]) + int(fields[12])) / self.ticks_per_second
            seconds_by_pid[pid] = (self._label(pid, int(fields[1]), int(fields[2])), seconds)
        return CpuSample(seconds_by_pid, *_cpu_ticks(), time.monotonic())

    @staticmethod
    def usage(
        before: CpuSample, after: CpuSample, jobs: int = 0, idle: dict[str, float] | None = None
    ) -> dict:
        """Each process's share of one core between two samples and the machine's busy share; with
        `jobs`, also each process's CPU milliseconds per job beyond its `idle` share of one core."""
        elapsed = after.at - before.at
        seconds: dict[str, float] = defaultdict(float)
        for pid, (label, used) in after.seconds_by_pid.items():
            previous = before.seconds_by_pid.get(pid)
            seconds[label] += used - (previous[1] if previous and previous[0] == label else 0.0)
        shares = {label: round(100 * used / elapsed, 1) for label, used in seconds.items()}
        result = {
            "seconds": round(elapsed, 1),
            "machine_busy_percent": round(
                100
                * (after.machine_busy - before.machine_busy)
                / (after.machine_total - before.machine_total),
                1,
            ),
            "percent_of_one_core": dict(sorted(shares.items(), key=lambda item: -item[1])),
        }
        if jobs:
            idle = idle or {}
            per_job = {
                label: round(max(0.0, 1000 * (used - idle.get(label, 0.0) / 100 * elapsed) / jobs), 1)
                for label, used in seconds.items()
                if label != OTHER_PROCESSES
            }
            per_job = dict(sorted(per_job.items(), key=lambda item: -item[1]))
            result["cpu_ms_per_job"] = {"all of the stack and the client": round(sum(per_job.values()), 1)}
            result["cpu_ms_per_job"].update(per_job)
        return result


# --- correctness: replaying job_transition ------------------------------------------------------


async def check_schedule(conn: asyncpg.Connection, job_ids: list[str], limits: dict[str, int]) -> dict:
    """Replay the jobs' transitions in insertion order (a dispatch's row is inserted under its team's
    schedule lock, after the finish that freed its slot inserted its own): the most jobs each team
    ran at once against its limit, and jobs started, finished or submitted more than once."""
    transitions = await conn.fetch(
        "SELECT t.job_id, j.team_id, t.from_status, t.to_status FROM generation.job_transition t "
        "JOIN generation.job j ON j.id = t.job_id WHERE t.job_id = ANY($1::text[]) ORDER BY t.id",
        job_ids,
    )
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    finishes: Counter[str] = Counter()
    for row in transitions:
        if row["from_status"] == "queued" and row["to_status"] == "running":
            running[row["team_id"]] += 1
            peak[row["team_id"]] = max(peak[row["team_id"]], running[row["team_id"]])
            starts[row["job_id"]] += 1
        elif row["to_status"] in TERMINAL:
            finishes[row["job_id"]] += 1
            if row["from_status"] == "running":
                running[row["team_id"]] -= 1
    submissions = await conn.fetch(
        "SELECT job_id, count(*) AS n FROM generation.provider_request WHERE job_id = ANY($1::text[]) "
        "GROUP BY job_id",
        job_ids,
    )
    peak_by_limit: dict[int, int] = {}
    for team, limit in limits.items():
        peak_by_limit[limit] = max(peak_by_limit.get(limit, 0), peak[team])
    result = {
        "jobs": len(job_ids),
        "peak_running_by_limit": {str(limit): peak for limit, peak in sorted(peak_by_limit.items())},
        "teams_over_limit": sorted(team for team, limit in limits.items() if peak[team] > limit),
        "started_more_than_once": sum(n > 1 for n in starts.values()),
        "finished_more_than_once": sum(n > 1 for n in finishes.values()),
        "submitted_more_than_once": sum(row["n"] > 1 for row in submissions),
    }
    problems = [
        f"{result[key]} {label}"
        for key, label in (
            ("started_more_than_once", "jobs started more than once"),
            ("finished_more_than_once", "jobs finished more than once"),
            ("submitted_more_than_once", "jobs submitted more than once"),
        )
        if result[key]
    ]
    if result["teams_over_limit"]:
        problems.insert(0, f"{len(result['teams_over_limit'])} teams ran more jobs than their limit")
    result["ok"] = not problems
    peaks = ", ".join(f"limit {limit}: {peak}" for limit, peak in result["peak_running_by_limit"].items())
    result["verdict"] = "; ".join(problems) if problems else f"OK (most running at once, {peaks})"
    return result


# --- 1. the pipeline ----------------------------------------------------------------------------


@dataclass
class Submission:
    key: str
    due: float  # wall clock (time.time()) at which the open-loop schedule sends it
    sent: float = 0.0
    answered: float | None = None
    status: int | None = None
    job_id: str | None = None
    error: str | None = None


async def drive(
    client: aiohttp.ClientSession, keys: list[str], rate: float, seconds: float
) -> list[Submission]:
    """POST /api/generate at `rate` per second for `seconds`, open-loop, round-robin over `keys`."""
    count = max(1, round(rate * seconds))
    start = time.time() + 0.05
    submissions = [Submission(keys[i % len(keys)], start + i / rate) for i in range(count)]

    async def send(submission: Submission) -> None:
        submission.sent = time.time()
        try:
            async with client.post(
                "/api/generate", json=GENERATE_BODY, headers={"Authorization": f"Bearer {submission.key}"}
            ) as response:
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            submission.error = repr(error)
            return
        submission.answered = time.time()
        submission.status = response.status
        if response.status == 202:
            submission.job_id = body["job"]["id"]

    async with asyncio.TaskGroup() as group:
        for submission in submissions:
            delay = submission.due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            group.create_task(send(submission))
    return submissions


async def wait_until_finished(conn: asyncpg.Connection, job_ids: list[str], patience: float) -> int:
    """Wait for every job to reach a terminal state; how many had not after `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM generation.job WHERE id = ANY($1::text[]) AND finished_at IS NULL", job_ids
        )
        if waiting == 0 or time.monotonic() >= deadline:
            return waiting
        await asyncio.sleep(0.25)


# A job's timestamps: created, dispatched (started), its last provider request recorded (submitted),
# the provider's webhook stored by the generation service (delivered), finished.
JOB_TIMELINE = """
SELECT j.id, j.status, extract(epoch FROM j.created_at) AS created,
       extract(epoch FROM j.started_at) AS started, extract(epoch FROM j.finished_at) AS finished,
       extract(epoch FROM p.created_at) AS submitted, extract(epoch FROM d.received_at) AS delivered,
       d.attempts AS delivery_attempts
FROM generation.job j
LEFT JOIN LATERAL (SELECT id, created_at FROM generation.provider_request
                   WHERE job_id = j.id ORDER BY attempt DESC LIMIT 1) p ON true
LEFT JOIN generation.provider_delivery d ON d.provider_request_id = p.id
WHERE j.id = ANY($1::text[])
"""


async def relay_pickups(conn: asyncpg.Connection, since: float) -> dict[str, float]:
    """Seconds from each job's JobQueued outbox row being written to a relay claiming it (the relay
    stamps published_at with its transaction's start, just before it publishes)."""
    rows = await conn.fetch(
        "SELECT payload, extract(epoch FROM published_at - created_at) AS lag FROM generation.outbox "
        "WHERE subject = $1 AND created_at >= to_timestamp($2) AND published_at IS NOT NULL",
        JOB_QUEUED_SUBJECT,
        since,
    )
    return {events_pb2.JobQueued.FromString(row["payload"]).job_id: float(row["lag"]) for row in rows}


def summarize_rate(
    rate: float,
    seconds: float,
    submissions: list[Submission],
    jobs: list[asyncpg.Record],
    pickups: dict[str, float],
    unfinished: int,
) -> dict:
    accepted = [s for s in submissions if s.status == 202]
    answers = Counter(str(s.status) for s in submissions if s.status is not None and s.status != 202)
    first_due = submissions[0].due
    completed = [job for job in jobs if job["status"] == "completed"]
    last_finished = max((float(job["finished"]) for job in completed), default=first_due)
    last_accepted = max((s.answered for s in accepted if s.answered), default=first_due)

    def stage(start: str, end: str) -> list[float]:
        return [float(job[end]) - float(job[start]) for job in completed if job[start] and job[end]]

    overhead = stage("created", "finished")
    enqueue_to_start = quantiles_ms(stage("created", "started"))
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": len(submissions),
        "accepted": len(accepted),
        "other_answers": dict(answers),
        "client_errors": sum(s.error is not None for s in submissions),
        "accepted_per_second": round(len(accepted) / max(1e-9, last_accepted - first_due), 1),
        "completed": len(completed),
        "completed_per_second": round(len(completed) / max(1e-9, last_finished - first_due), 1),
        "failed": sum(job["status"] == "failed" for job in jobs),
        "unfinished": unfinished,
        "accept_ms": quantiles_ms(s.answered - s.due for s in accepted if s.answered),
        "client_send_lateness_ms": quantiles_ms(s.sent - s.due for s in submissions),
        "overhead_ms": quantiles_ms(overhead),
        "enqueue_to_start_ms": enqueue_to_start,
        "stages_ms": {
            "created -> started": enqueue_to_start,
            "started -> submitted": quantiles_ms(stage("started", "submitted")),
            "submitted -> webhook stored": quantiles_ms(stage("submitted", "delivered")),
            "webhook stored -> finished": quantiles_ms(stage("delivered", "finished")),
            "created -> relay claims JobQueued": quantiles_ms(
                pickups[job["id"]] for job in completed if job["id"] in pickups
            ),
        },
        "jobs_over_target_ms": sum(o * 1000 > TARGET_P99_MS for o in overhead),
        # Recorded on a later attempt: the webhook came before the worker had committed the
        # provider request id (or recording failed), and waited out the delivery's back-off.
        "deliveries_recorded_on_retry": sum((job["delivery_attempts"] or 0) > 1 for job in completed),
    }


async def measure_rate(
    conn: asyncpg.Connection,
    client: aiohttp.ClientSession,
    keys: list[str],
    limits: dict[str, int],
    rate: float,
    args: argparse.Namespace,
    cpu: CpuMeter,
    idle: dict[str, float],
) -> dict:
    await conn.execute(CHECKPOINT)
    before = cpu.sample()
    submissions = await drive(client, keys, rate, args.seconds)
    job_ids = [s.job_id for s in submissions if s.job_id]
    unfinished = await wait_until_finished(conn, job_ids, args.drain_timeout)
    after = cpu.sample()
    jobs = await conn.fetch(JOB_TIMELINE, job_ids)
    summary = summarize_rate(
        rate,
        args.seconds,
        submissions,
        jobs,
        await relay_pickups(conn, submissions[0].due - 1),
        unfinished,
    )
    summary["cpu"] = CpuMeter.usage(before, after, jobs=len(job_ids), idle=idle)
    summary["schedule_check"] = await check_schedule(conn, job_ids, limits)
    return summary


async def run_pipeline(
    stack: LocalStack, teams: list[dict[str, str]], args: argparse.Namespace, cpu: CpuMeter
) -> dict:
    assert stack.postgres is not None
    keys = [team["apiKey"] for team in teams]
    conn = await asyncpg.connect(stack.postgres.dsn(DATABASE, driver="postgresql"))
    try:
        async with aiohttp.ClientSession(
            base_url=stack.gateway_url,
            connector=aiohttp.TCPConnector(limit=1000),
            timeout=aiohttp.ClientTimeout(total=60),
            raise_for_status=False,
        ) as client:
            team_limits = {}
            for team in teams:
                async with client.get(
                    "/api/credits/balance",
                    headers={"Authorization": f"Bearer {team['apiKey']}"},
                    raise_for_status=True,
                ) as balance:
                    team_limits[team["teamId"]] = (await balance.json())["maxConcurrentJobs"]
            if args.warmup > 0:
                warm = await drive(client, keys, args.rates[0], args.warmup)
                await wait_until_finished(conn, [s.job_id for s in warm if s.job_id], args.drain_timeout)
                print(
                    f"   warm-up: {sum(s.status == 202 for s in warm)}/{len(warm)} accepted at "
                    f"{args.rates[0]:g}/s",
                    flush=True,
                )
            # What the stack burns doing nothing (polling loops), subtracted from the CPU per job.
            before = cpu.sample()
            await asyncio.sleep(IDLE_SECONDS)
            idle = CpuMeter.usage(before, cpu.sample())
            print(f"   idle: {idle['machine_busy_percent']}% of the machine busy", flush=True)
            rates = []
            for rate in args.rates:
                summary = await measure_rate(
                    conn, client, keys, team_limits, rate, args, cpu, idle["percent_of_one_core"]
                )
                rates.append(summary)
                overhead = summary["overhead_ms"]
                print(
                    f"   {rate:g} jobs/s: {summary['accepted']}/{summary['sent']} accepted, "
                    f"{summary['completed']} completed; overhead p50 {overhead.get('p50')} ms, "
                    f"p99 {overhead.get('p99')} ms; {summary['schedule_check']['verdict']}",
                    flush=True,
                )
    finally:
        await conn.close()
    return {
        "teams": len(teams),
        "team_limits": sorted(set(team_limits.values())),
        "idle_cpu": idle,
        "rates": rates,
    }


def pipeline_stack(state_dir: Path, args: argparse.Namespace) -> LocalStack:
    """The stack `make run` starts, on free ports, with an instant emulator and a short poll-after."""
    options = StackOptions(
        fal_latency=0.0, fast_postgres=False, log_level=args.log_level, extra_env=dict(WORKER_ENV)
    )
    return LocalStack(state_dir, StackPorts.free(), options)


def stop_services(stack: LocalStack) -> None:
    """Stop the stack's Python processes and moto, leaving Postgres and NATS to the next measurements."""
    for process in reversed(stack.processes):
        process.stop()
    stack.s3.stop()


# --- 2. the scheduler ---------------------------------------------------------------------------


@dataclass
class InstantPeers:
    """The models, credits and storage calls a job makes, answered at once."""

    limits: dict[str, PlanLimits]

    async def reference_model(self, model_id: int) -> CatalogModel:
        return CatalogModel(150, "fal-ai/flux-lora", {}, id=model_id)

    async def quote_image_generation(self, resolution, quality, complexity_hundredths, num_images) -> Quote:
        return Quote(900 * num_images, 1, {})

    async def reserve(self, team_id: str, amount_hundredths: int, key: str) -> PlanLimits:
        return self.limits[team_id]

    async def plan_limits(self, team_id: str) -> PlanLimits:
        return self.limits[team_id]

    async def import_image(
        self, team_id: str, plan: str, job_id: str, position: int, url: str
    ) -> StoredImage:
        return StoredImage(f"{job_id}-{position}", 512, 512, "image/png")


@dataclass
class NoopProvider:
    """Accepts every submission at once; the finishers complete them (as an instant webhook would)."""

    submitted: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    calls: int = 0

    async def submit(self, endpoint: str, arguments: dict, webhook_url: str) -> str:
        self.calls += 1
        request_id = str(uuid.uuid4())
        self.submitted.put_nowait(request_id)
        return request_id


PROVIDER_RESULT = json.dumps({"images": [{"url": "https://provider.invalid/image.png"}]}).encode()


@dataclass
class Finished:
    count: int = 0
    target: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, more: int) -> None:
        self.target += more
        self.reached.clear()

    def add(self) -> None:
        self.count += 1
        if self.count >= self.target:
            self.reached.set()


async def finish_submitted(
    gen: handlers.Generation, provider: NoopProvider, wakeup: asyncio.Event, finished: Finished
) -> None:
    """Complete each submitted job as soon as the worker has recorded its provider request id."""
    while True:
        request_id = await provider.submitted.get()
        while True:
            try:
                await handlers.complete_provider_request(gen, request_id, True, PROVIDER_RESULT, "")
                break
            except NotFound:
                await asyncio.sleep(0.001)  # submit has answered, its id is not committed yet
        finished.add()
        wakeup.set()  # a slot is free, as JobFinished wakes the real worker


async def create_jobs(
    gen: handlers.Generation, teams: list[str], count: int, rate: float | None, wakeup: asyncio.Event
) -> tuple[list[str], float]:
    """Create `count` image jobs round-robin over `teams`, at `rate` per second (open-loop) or as
    fast as CREATORS concurrent creators go; each creation wakes the dispatchers. Their ids, and seconds."""
    request = ImageGenerationRequest(1, "scheduler bench", "512x512", "standard", 1, None)
    ids: list[str] = []
    gate = asyncio.Semaphore(CREATORS)

    async def create(team_id: str) -> None:
        async with gate:
            view = await handlers.create_image_job(gen, team_id, request)
        ids.append(view.row.id)
        wakeup.set()

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for i in range(count):
            if rate:
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            group.create_task(create(teams[i % len(teams)]))
    return ids, time.perf_counter() - started


def scheduler_database(postgres: PostgresServer) -> None:
    """A fresh database with only the generation schema (migrations run their own event loop)."""
    postgres.create_database(SCHEDULER_DATABASE)
    importlib.import_module("imagegen_generation.__main__").migrate(postgres.dsn(SCHEDULER_DATABASE))


async def run_scheduler(postgres: PostgresServer, args: argparse.Namespace, cpu: CpuMeter) -> dict:
    url = postgres.dsn(SCHEDULER_DATABASE)
    teams = [f"scheduler-team-{i:03d}" for i in range(args.scheduler_teams)]
    limits = {team: PlanLimits(*SCHEDULER_PLANS[i % len(SCHEDULER_PLANS)]) for i, team in enumerate(teams)}
    provider = NoopProvider()
    gen = handlers.Generation(
        engine=db.create_engine(url),
        peers=InstantPeers(limits),
        provider=provider,
        webhook_url="http://gateway.invalid/api/webhooks/fal",
        provider_max_attempts=5,
    )
    conn = await asyncpg.connect(postgres.dsn(SCHEDULER_DATABASE, driver="postgresql"))
    wakeup = asyncio.Event()
    finished = Finished()
    team_limits = {team: limit.max_concurrent for team, limit in limits.items()}
    tasks: list[asyncio.Task] = []
    try:
        backlog, took = await create_jobs(gen, teams, args.scheduler_jobs, None, wakeup)
        print(
            f"   queued {len(backlog):,} jobs over {len(teams)} teams in {took:.1f}s "
            f"({len(backlog) / took:,.0f} creations/s, {CREATORS} at a time)",
            flush=True,
        )
        finished.expect(len(backlog))
        await conn.execute(CHECKPOINT)
        before = cpu.sample()
        started = time.time()
        # As many finishers as submissions at once, so finishing never holds the dispatchers back.
        tasks = [
            *(
                asyncio.create_task(dispatch_loop(gen, wakeup, IDLE_DISPATCH_SECONDS, WORKER_SUBMISSIONS))
                for _ in range(args.dispatchers)
            ),
            *(
                asyncio.create_task(finish_submitted(gen, provider, wakeup, finished))
                for _ in range(args.dispatchers * WORKER_SUBMISSIONS)
            ),
        ]
        wakeup.set()
        await asyncio.wait_for(finished.reached.wait(), args.drain_timeout)
        backlog_cpu = CpuMeter.usage(before, cpu.sample())
        last_start = await conn.fetchval(
            "SELECT extract(epoch FROM max(started_at)) FROM generation.job WHERE id = ANY($1::text[])",
            backlog,
        )
        dispatch_seconds = float(last_start) - started
        backlog_result = {
            "jobs": len(backlog),
            "teams": len(teams),
            "dispatchers": args.dispatchers,
            "create_per_second": round(len(backlog) / took, 1),
            "dispatch_seconds": round(dispatch_seconds, 2),
            "dispatches_per_second": round(len(backlog) / dispatch_seconds, 1),
            "schedule_check": await check_schedule(conn, backlog, team_limits),
            "cpu": backlog_cpu,
        }
        print(
            f"   backlog: {len(backlog):,} dispatched in {dispatch_seconds:.1f}s = "
            f"{backlog_result['dispatches_per_second']:,.1f} dispatches/s; "
            f"{backlog_result['schedule_check']['verdict']}",
            flush=True,
        )
        paced = []
        for rate in args.rates:
            count = max(1, round(rate * args.seconds))
            finished.expect(count)
            await conn.execute(CHECKPOINT)
            before = cpu.sample()
            job_ids, _ = await create_jobs(gen, teams, count, rate, wakeup)
            await asyncio.wait_for(finished.reached.wait(), args.drain_timeout)
            paced_cpu = CpuMeter.usage(before, cpu.sample())
            waits = await conn.fetch(
                "SELECT extract(epoch FROM started_at - created_at) AS wait FROM generation.job "
                "WHERE id = ANY($1::text[])",
                job_ids,
            )
            result = {
                "rate": rate,
                "jobs": len(job_ids),
                "enqueue_to_start_ms": quantiles_ms(float(row["wait"]) for row in waits),
                "schedule_check": await check_schedule(conn, job_ids, team_limits),
                "cpu": paced_cpu,
            }
            paced.append(result)
            print(
                f"   paced {rate:g}/s: enqueue -> start p50 {result['enqueue_to_start_ms']['p50']} ms, "
                f"p99 {result['enqueue_to_start_ms']['p99']} ms; {result['schedule_check']['verdict']}",
                flush=True,
            )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await conn.close()
        await gen.engine.dispose()
    expected_submits = finished.target
    return {
        "backlog": backlog_result,
        "paced": paced,
        "provider_submits": provider.calls,
        "provider_submits_expected": expected_submits,
        "ok": provider.calls == expected_submits
        and backlog_result["schedule_check"]["ok"]
        and all(result["schedule_check"]["ok"] for result in paced),
    }


# --- 3. the JetStream ceiling -------------------------------------------------------------------


async def publish_for(seconds: float, in_flight: int, publish: Callable[[], Awaitable[None]]) -> dict:
    """`in_flight` loops each awaiting one publish (and its ack) after another, for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await publish()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(in_flight):
            group.create_task(loop())
    elapsed = time.perf_counter() - started
    return {
        "in_flight": in_flight,
        "messages": len(latencies),
        "seconds": round(elapsed, 2),
        "messages_per_second": round(len(latencies) / elapsed, 1),
        "ack_ms": quantiles_ms(latencies),
    }


async def run_jetstream_ceiling(nats_url: str, args: argparse.Namespace, cpu: CpuMeter) -> dict:
    payload = events_pb2.JobQueued(
        job_id=str(uuid.uuid4()), team_id="bench-team", type=generation_pb2.JOB_TYPE_IMAGE_GENERATION
    ).SerializeToString()
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.add_stream(
        StreamConfig(
            name=JETSTREAM_STREAM,
            subjects=[JETSTREAM_SUBJECT],
            duplicate_window=GENERATION_STREAM_CONFIG.duplicate_window,
        )
    )

    async def raw() -> None:
        await js.publish(JETSTREAM_SUBJECT, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())})

    broker = create_broker(nats_url)

    async def as_the_relay() -> None:
        await broker.publish(
            payload, JETSTREAM_SUBJECT, headers={"Nats-Msg-Id": str(uuid.uuid4())}, stream=JETSTREAM_STREAM
        )

    before = cpu.sample()
    modes = {}
    try:
        modes["nats-py, one at a time"] = await publish_for(args.jetstream_seconds, 1, raw)
        modes[f"nats-py, {args.window} in flight"] = await publish_for(
            args.jetstream_seconds, args.window, raw
        )
        await broker.connect()
        modes["faststream broker (the relay's path), one at a time"] = await publish_for(
            args.jetstream_seconds, 1, as_the_relay
        )
        for mode, result in modes.items():
            print(
                f"   {mode}: {result['messages_per_second']:,.0f} msgs/s "
                f"(ack p50 {result['ack_ms']['p50']} ms, p99 {result['ack_ms']['p99']} ms)",
                flush=True,
            )
    finally:
        await broker.stop()
        await js.delete_stream(JETSTREAM_STREAM)
        await connection.close()
    return {"payload_bytes": len(payload), "modes": modes, "cpu": CpuMeter.usage(before, cpu.sample())}


# --- report -------------------------------------------------------------------------------------


def _ms(quantiles: dict, key: str) -> str:
    value = quantiles.get(key)
    return "-" if value is None else f"{value:,.0f}"


def _disturbed(cpu: dict, indent: str = "   ") -> None:
    """Warn when other people's processes used the machine during a measurement."""
    background = cpu["percent_of_one_core"].get(OTHER_PROCESSES, 0)
    if background > BACKGROUND_WARNING_PERCENT:
        print(
            f"{indent}WARNING: other processes on this machine used {background:.0f}% of a core meanwhile: "
            "these numbers are disturbed"
        )


def report(results: dict) -> None:
    pipeline = results["pipeline"]
    print(f"\n== pipeline: {pipeline['teams']} enterprise teams, emulator latency 0, durable Postgres")
    header = (
        f"{'rate':>5} {'sent':>6} {'acc/s':>6} {'done/s':>6} {'fail':>4} {'left':>4}  "
        f"{'accept p50/p99':>15}  {'overhead p50/p95/p99/max ms':>28}  {'enq->start p50/p99':>19}  "
        f"{'CPU':>5} {'client':>7} {'late p99':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in pipeline["rates"]:
        o, a, e = r["overhead_ms"], r["accept_ms"], r["enqueue_to_start_ms"]
        print(
            f"{r['rate']:>5g} {r['sent']:>6} {r['accepted_per_second']:>6.1f} "
            f"{r['completed_per_second']:>6.1f} "
            f"{r['failed']:>4} {r['unfinished']:>4}  {_ms(a, 'p50'):>7}/{_ms(a, 'p99'):<7}  "
            f"{_ms(o, 'p50'):>6}/{_ms(o, 'p95'):>6}/{_ms(o, 'p99'):>6}/{_ms(o, 'max'):<7}  "
            f"{_ms(e, 'p50'):>9}/{_ms(e, 'p99'):<9}  {r['cpu']['machine_busy_percent']:>4.0f}% "
            f"{r['cpu']['percent_of_one_core'].get('bench client', 0):>6.0f}% "
            f"{_ms(r['client_send_lateness_ms'], 'p99'):>8}"
        )
    print(
        "acc/s, done/s: jobs accepted and completed per second; accept: due -> 202 at the client; "
        "overhead: created_at -> finished_at;\nCPU: all cores busy; client: this process as a share "
        "of one core; late: how late the client sent requests (ms)."
    )
    for r in pipeline["rates"]:
        print(f"\n   stages at {r['rate']:g} jobs/s (ms)      p50     p95     p99     max")
        for name, q in r["stages_ms"].items():
            print(
                f"   {name:<34} {_ms(q, 'p50'):>6}  {_ms(q, 'p95'):>6}  {_ms(q, 'p99'):>6}  "
                f"{_ms(q, 'max'):>6}"
            )
        print(
            f"   webhooks recorded only on a retry: {r['deliveries_recorded_on_retry']}; "
            f"jobs over {TARGET_P99_MS} ms: {r['jobs_over_target_ms']}"
        )
        per_job = ", ".join(f"{name} {ms:.0f}" for name, ms in r["cpu"]["cpu_ms_per_job"].items() if ms >= 1)
        print(f"   CPU ms per job beyond idle: {per_job}")
        _disturbed(r["cpu"])
        if r["client_send_lateness_ms"].get("p99", 0) > CLIENT_LATE_WARNING_MS:
            print(
                f"   WARNING: the client sent {r['client_send_lateness_ms']['p99']:.0f} ms late (p99): "
                "the machine could not keep up with it; accept latencies count from the due time"
            )
        print(f"   limits: {r['schedule_check']['verdict']}")

    scheduler = results["scheduler"]
    backlog = scheduler["backlog"]
    print(
        f"\n== scheduler: in-process, no-op provider, {backlog['teams']} teams (limits 10/3/1), "
        f"{backlog['dispatchers']} dispatch loops (as many worker processes)"
    )
    print(
        f"   backlog of {backlog['jobs']:,}: {backlog['dispatches_per_second']:,.1f} dispatches/s "
        f"(each job also finished, freeing its slot); {backlog['schedule_check']['verdict']}"
    )
    _disturbed(backlog["cpu"])
    for paced in scheduler["paced"]:
        e = paced["enqueue_to_start_ms"]
        print(
            f"   paced {paced['rate']:g} jobs/s: enqueue -> start p50 {_ms(e, 'p50')} ms, "
            f"p99 {_ms(e, 'p99')} ms, max {_ms(e, 'max')} ms; {paced['schedule_check']['verdict']}"
        )
        _disturbed(paced["cpu"])

    jetstream = results["jetstream"]
    print(
        f"\n== JetStream ceiling on the same NATS server (stream like GENERATION, "
        f"{jetstream['payload_bytes']}-byte messages with Nats-Msg-Id)"
    )
    for mode, result in jetstream["modes"].items():
        print(
            f"   {mode:<52} {result['messages_per_second']:>9,.0f} msgs/s  "
            f"ack p50 {result['ack_ms']['p50']} ms, p99 {result['ack_ms']['p99']} ms"
        )
    _disturbed(jetstream["cpu"])

    print(f"\n{results['target']['verdict']}")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates",
        type=lambda text: [float(part) for part in text.split(",") if part.strip()],
        default=[LIGHT_RATE, TARGET_RATE],
        help=f"jobs/s to drive, comma-separated ({LIGHT_RATE},{TARGET_RATE})",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per rate (20)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds at the first rate (2)")
    parser.add_argument("--teams", type=int, default=10, help="enterprise teams sharing the load (10)")
    parser.add_argument(
        "--drain-timeout", type=float, default=180.0, help="seconds to wait for a rate's jobs to finish (180)"
    )
    parser.add_argument("--log-level", default="INFO", help="the services' log level (INFO, as make run)")
    parser.add_argument("--scheduler-jobs", type=int, default=2000, help="scheduler backlog (2000)")
    parser.add_argument("--scheduler-teams", type=int, default=30, help="scheduler teams (30)")
    parser.add_argument(
        "--dispatchers", type=int, default=4, help="dispatch loops, one per worker process it stands for (4)"
    )
    parser.add_argument("--jetstream-seconds", type=float, default=3.0, help="seconds per publish mode (3)")
    parser.add_argument("--window", type=int, default=64, help="publishes in flight (64)")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help=f"JSON results ({RESULTS_PATH})")
    args = parser.parse_args(argv)
    if not args.rates or min(args.rates) <= 0 or args.seconds <= 0 or args.teams < 1:
        parser.error("--rates must be positive, --seconds > 0, --teams >= 1")
    if args.dispatchers < 1 or args.scheduler_jobs < 1 or args.scheduler_teams < 1 or args.window < 1:
        parser.error("--dispatchers, --scheduler-jobs, --scheduler-teams and --window must be positive")
    return args


def target_verdict(pipeline: dict) -> dict:
    at_target = next((r for r in pipeline["rates"] if r["rate"] == TARGET_RATE), None)
    if at_target is None or not at_target["overhead_ms"].get("n"):
        return {"result": "NOT MEASURED", "verdict": f"target: no completed jobs at {TARGET_RATE} jobs/s"}
    p99 = at_target["overhead_ms"]["p99"]
    result = "PASS" if p99 < TARGET_P99_MS and not at_target["unfinished"] else "MISS"
    cpu_ms = at_target["cpu"]["cpu_ms_per_job"]["all of the stack and the client"]
    return {
        "rate": TARGET_RATE,
        "overhead_p99_ms": p99,
        "limit_ms": TARGET_P99_MS,
        "result": result,
        "completed_per_second": at_target["completed_per_second"],
        "cpu_ms_per_job": cpu_ms,
        "verdict": f"target: overhead p99 {p99:,.0f} ms at {TARGET_RATE} jobs/s (limit {TARGET_P99_MS} ms): "
        f"{result}; {at_target['completed_per_second']:g} jobs/s completed, {cpu_ms:g} ms of CPU per job "
        f"on {os.cpu_count()} cores",
    }


def _filesystem_of(path: Path) -> str:
    """The mount's filesystem type (tmpfs would make fsync free and the numbers meaningless)."""
    best = ("", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        mount_point, fs_type = line.split()[1:3]
        if str(path).startswith(mount_point) and len(mount_point) >= len(best[0]):
            best = (mount_point, fs_type)
    return best[1]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    state_dir = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    environment = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "data_filesystem": _filesystem_of(state_dir),
        "postgres": "durable (fsync, synchronous_commit on)",
        "emulator_latency_seconds": 0.0,
        "worker_env": WORKER_ENV,
        "log_level": args.log_level,
        "request": GENERATE_BODY,
    }
    print(
        f"pipeline bench: rates {', '.join(f'{r:g}' for r in args.rates)} jobs/s, {args.seconds:g}s each, "
        f"{args.teams} teams; {environment['cpus']} CPUs, {environment['platform']}",
        flush=True,
    )
    background = machine_busy_percent()
    environment["background_cpu_percent_before_start"] = background
    if background > BACKGROUND_WARNING_PERCENT:
        print(
            f"WARNING: the machine was {background}% busy before we started (other processes); "
            "the numbers will be disturbed",
            flush=True,
        )
    results: dict = {"environment": environment, "arguments": {k: str(v) for k, v in vars(args).items()}}
    stack = pipeline_stack(state_dir, args)
    try:
        print("\n== starting the stack ...", flush=True)
        stack.start()
        teams = [stack.create_team(f"bench-{i:02d}", "enterprise") for i in range(args.teams)]
        print(f"== pipeline ({len(teams)} enterprise teams)", flush=True)
        cpu = CpuMeter(stack)
        results["pipeline"] = asyncio.run(run_pipeline(stack, teams, args, cpu))
        stop_services(stack)
        assert stack.postgres is not None and stack.nats is not None
        print("\n== scheduler (services stopped; fresh database on the same Postgres)", flush=True)
        scheduler_database(stack.postgres)
        results["scheduler"] = asyncio.run(run_scheduler(stack.postgres, args, cpu))
        print("\n== JetStream ceiling (same NATS server)", flush=True)
        results["jetstream"] = asyncio.run(run_jetstream_ceiling(stack.nats.url, args, cpu))
    finally:
        stack.stop()
        shutil.rmtree(LOGS_COPY, ignore_errors=True)
        if stack.logs_dir.exists():
            shutil.copytree(stack.logs_dir, LOGS_COPY)
        shutil.rmtree(state_dir, ignore_errors=True)

    results["target"] = target_verdict(results["pipeline"])
    report(results)
    problems = [
        f"no job completed at {r['rate']:g} jobs/s"
        for r in results["pipeline"]["rates"]
        if not r["completed"]
    ]
    problems += [
        f"pipeline at {r['rate']:g} jobs/s: {r['schedule_check']['verdict']}"
        for r in results["pipeline"]["rates"]
        if not r["schedule_check"]["ok"]
    ]
    if not results["scheduler"]["ok"]:
        problems.append("the scheduler's checks failed (see scheduler.*.schedule_check, provider_submits)")
    results["ok"] = not problems
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\ntotal {results['total_seconds']:.0f}s; results in {args.output}, stack logs in {LOGS_COPY}")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

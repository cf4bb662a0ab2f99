"""Scheduling across several worker processes: plan concurrency read back from the stored
transitions, a newcomer's first job not held behind another team's backlog, request priority."""

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg
import httpx
import nats
import pytest

SLOW = {"referenceModelId": 4, "resolution": "512x512", "quality": "standard"}


@pytest.fixture(scope="module")
def extra_workers(stack):
    workers = [stack.start_worker(f"generation-worker-sched-{n}") for n in range(2)]
    yield workers
    for worker in workers:
        worker.stop()


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def client(stack, team: dict) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=30
    )


async def wait_finished(api: httpx.AsyncClient, ids: list[str], within: float = 90) -> list[dict]:
    deadline = time.monotonic() + within
    while True:
        jobs = [(await api.get(f"/api/jobs/{job_id}")).json() for job_id in ids]
        if all(job["status"] in ("completed", "failed", "cancelled") for job in jobs):
            return jobs
        assert time.monotonic() < deadline, [job["status"] for job in jobs]
        await asyncio.sleep(0.3)


async def most_running_at_once(database_url: str, team_id: str) -> int:
    """The team's peak of running jobs, replayed from every stored transition in commit order."""
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg:", "postgresql:"))
    try:
        rows = await connection.fetch(
            """
            SELECT t.from_status, t.to_status FROM generation.job_transition t
            JOIN generation.job j ON j.id = t.job_id
            WHERE j.team_id = $1 ORDER BY t.id
            """,
            team_id,
        )
    finally:
        await connection.close()
    running = peak = 0
    for row in rows:
        if row["to_status"] == "running" and row["from_status"] == "queued":
            running += 1
        elif row["from_status"] == "running" and row["to_status"] != "running":
            running -= 1
        peak = max(peak, running)
    return peak


async def test_several_workers_never_run_more_jobs_of_a_team_than_its_plan_allows(stack, extra_workers):
    teams = {plan: stack.create_team(f"sched-{plan}", plan) for plan in ("basic", "pro")}
    for plan, limit in (("basic", 1), ("pro", 3)):
        async with client(stack, teams[plan]) as api:
            created = await asyncio.gather(
                *(
                    api.post("/api/generate", json={**SLOW, "prompt": f"{plan} {n} [[slow:0.6]]"})
                    for n in range(7)
                )
            )
            ids = [response.json()["job"]["id"] for response in created]
            jobs = await wait_finished(api, ids)
            assert {job["status"] for job in jobs} == {"completed"}
        # The limit is reached and never passed, across three worker processes.
        assert await most_running_at_once(stack.database_url, teams[plan]["teamId"]) == limit
    # Each JobQueued message was acknowledged once its job left the queue: none is left pending.
    assert await queue_drained(stack.nats_url)


async def queue_drained(nats_url: str, within: float = 60) -> bool:
    connection = await nats.connect(nats_url)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            info = await connection.jetstream().consumer_info("GENERATION", "generation-worker")
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await connection.close()


async def test_a_newcomers_first_job_starts_while_another_teams_backlog_waits(stack, extra_workers):
    busy = stack.create_team("sched-busy", "enterprise")
    newcomer = stack.create_team("sched-newcomer", "pro")
    async with client(stack, busy) as busy_api, client(stack, newcomer) as newcomer_api:
        backlog = await asyncio.gather(
            *(busy_api.post("/api/generate", json={**SLOW, "prompt": f"b{n} [[slow:2]]"}) for n in range(30))
        )
        backlog_ids = [response.json()["job"]["id"] for response in backlog]
        urgent = await busy_api.post(
            "/api/generate", json={**SLOW, "prompt": "urgent [[slow:2]]", "priority": 10}
        )
        urgent_job = urgent.json()["job"]
        # Committed by now: a dispatch that began later sees it (one that began earlier may not).
        urgent_visible_at = datetime.now(UTC)
        assert urgent_job["priority"] == 10

        first = (await newcomer_api.post("/api/generate", json={**SLOW, "prompt": "first"})).json()["job"]
        [done] = await wait_finished(newcomer_api, [first["id"]], within=30)
        assert done["status"] == "completed"
        # The newcomer finished while the busy team still had most of its backlog waiting.
        statuses = defaultdict(int)
        for job_id in backlog_ids:
            statuses[(await busy_api.get(f"/api/jobs/{job_id}")).json()["status"]] += 1
        assert statuses["queued"] >= 10, dict(statuses)
        waiting = [
            job
            for job in [(await busy_api.get(f"/api/jobs/{job_id}")).json() for job_id in backlog_ids]
            if job["status"] == "queued"
        ]
        assert all(job["queuePosition"] >= 1 and job["estimatedStartAt"] for job in waiting)

        # The urgent job, queued behind thirty others, went ahead of every one still waiting then.
        [urgent_done] = await wait_finished(busy_api, [urgent_job["id"]], within=30)
        for job_id in backlog_ids:
            await busy_api.delete(f"/api/jobs/{job_id}")
        jobs = [(await busy_api.get(f"/api/jobs/{job_id}")).json() for job_id in backlog_ids]
        # (A team's jobs are dispatched one at a time, so start times are its dispatch order.)
        started = [at(job["startedAt"]) for job in jobs if job["startedAt"]]
        waiting_then = [when for when in started if when > urgent_visible_at]
        assert waiting_then and all(when > at(urgent_done["startedAt"]) for when in waiting_then)

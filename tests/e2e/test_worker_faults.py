"""Workers stopped or killed mid-burst: every job still finishes exactly once and is charged once."""

import asyncio
import os
import signal
import sys
import time

import httpx

GENERATE = {"referenceModelId": 4, "prompt": "a quiet street [[slow:1]]", "resolution": "512x512"}


async def test_workers_stopped_and_killed_mid_burst_lose_no_job_and_charge_once(stack):
    team = stack.create_team("worker-faults", "enterprise")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=30
    ) as client:
        second = stack.start_worker("generation-worker-2")
        created = await asyncio.gather(*(client.post("/api/generate", json=GENERATE) for _ in range(12)))
        ids = [response.json()["job"]["id"] for response in created]

        # One worker dies without warning, the other is asked to stop, while the burst is dispatched.
        os.kill(stack.process("generation-worker").pid, signal.SIGKILL)
        second.stop()  # SIGTERM: finish or hand back, never lose
        await asyncio.sleep(1)
        stack.restart("generation-worker")

        deadline, jobs = time.monotonic() + 90, []
        while time.monotonic() < deadline:
            jobs = [(await client.get(f"/api/jobs/{job_id}")).json() for job_id in ids]
            if all(job["status"] == "completed" for job in jobs):
                break
            await asyncio.sleep(0.5)
        assert [job["status"] for job in jobs] == ["completed"] * 12, [job["status"] for job in jobs]
        charged = sum(job["chargedCredits"] for job in jobs)
        assert charged == sum(job["estimatedCredits"] for job in jobs)

        for _ in range(100):
            balance = (await client.get("/api/credits/balance")).json()
            if balance["reservedCredits"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (balance["availableCredits"], balance["reservedCredits"]) == (round(10_000 - charged, 2), 0.0)

    check = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "imagegen_credits",
        "check-ledger",
        env={**os.environ, **stack.env()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await check.communicate()
    assert check.returncode == 0, (output + errors).decode()


async def test_nats_and_postgres_restarting_under_load_lose_nothing(stack):
    team = stack.create_team("infra-restarts", "enterprise")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=30
    ) as client:
        ids = []
        for restart in (stack.nats, stack.postgres):
            created = await asyncio.gather(*(client.post("/api/generate", json=GENERATE) for _ in range(5)))
            ids += [response.json()["job"]["id"] for response in created]
            await asyncio.to_thread(restart.stop)
            await asyncio.sleep(1)
            await asyncio.to_thread(restart.start)

        deadline, jobs = time.monotonic() + 120, []
        while time.monotonic() < deadline:
            responses = [await client.get(f"/api/jobs/{job_id}") for job_id in ids]
            jobs = [response.json() for response in responses if response.status_code == 200]
            if len(jobs) == len(ids) and all(job["status"] == "completed" for job in jobs):
                break
            await asyncio.sleep(1)
        assert [job["status"] for job in jobs] == ["completed"] * len(ids)
        charged = sum(job["chargedCredits"] for job in jobs)
        for _ in range(100):
            balance = (await client.get("/api/credits/balance")).json()
            if balance["reservedCredits"] == 0:
                break
            await asyncio.sleep(0.2)
        assert (balance["availableCredits"], balance["reservedCredits"]) == (round(10_000 - charged, 2), 0.0)


async def test_a_service_that_is_down_answers_503_at_once_and_recovers_when_it_is_back(stack):
    team = stack.create_team("service-down", "basic")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=30
    ) as client:
        assert (await client.get("/api/credits/balance")).status_code == 200
        stack.process("credits").stop()
        try:
            started = time.monotonic()
            down = await client.get("/api/credits/balance")
            elapsed = time.monotonic() - started
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "service_unavailable"
            assert elapsed < 2, f"a down service took {elapsed:.1f}s to answer"
            # Routes that do not need the service keep working.
            assert (await client.get("/api/reference-models?limit=1")).status_code == 200
        finally:
            stack.restart("credits")
        deadline = time.monotonic() + 20
        while (await client.get("/api/credits/balance")).status_code != 200:
            assert time.monotonic() < deadline, "the gateway did not reach credits again"
            await asyncio.sleep(0.2)

"""Jobs through the public API: queueing under the plan's limit, cancellation, retries, idempotency."""

import asyncio
import json
import time
import uuid

import httpx
import pytest

GENERATE = {"referenceModelId": 1, "prompt": "a red dress", "resolution": "512x512", "quality": "standard"}


@pytest.fixture
async def basic_team(stack):
    team = stack.create_team("jobs-basic", "basic")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=30
    ) as client:
        yield client


async def job_in_state(client: httpx.AsyncClient, job_id: str, states: set[str], within: float = 30) -> dict:
    deadline = time.monotonic() + within
    while True:
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        if job["status"] in states or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.1)


async def balance(client: httpx.AsyncClient) -> tuple[float, float]:
    body = (await client.get("/api/credits/balance")).json()
    return body["availableCredits"], body["reservedCredits"]


async def settled_to(client: httpx.AsyncClient, expected: tuple[float, float]) -> tuple[float, float]:
    for _ in range(100):
        current = await balance(client)
        if current == expected:
            break
        await asyncio.sleep(0.1)
    return current


async def test_jobs_over_the_plans_limit_wait_and_can_be_cancelled_in_every_state(basic_team):
    """A basic team runs one job at a time: the second waits in the queue with its position."""
    slow = (await basic_team.post("/api/generate", json={**GENERATE, "prompt": "slow [[slow:4]]"})).json()[
        "job"
    ]
    waiting = (await basic_team.post("/api/generate", json=GENERATE)).json()["job"]
    running = await job_in_state(basic_team, slow["id"], {"running"})
    assert running["status"] == "running"
    queued = (await basic_team.get(f"/api/jobs/{waiting['id']}")).json()
    assert (queued["status"], queued["queuePosition"]) == ("queued", 1)

    # Cancel the queued one, then the running one; each gives its credits back, and again is a no-op.
    cancelled_queued = await basic_team.delete(f"/api/jobs/{waiting['id']}")
    cancelled_running = await basic_team.delete(f"/api/jobs/{slow['id']}")
    again = await basic_team.delete(f"/api/jobs/{slow['id']}")
    assert [r.status_code for r in (cancelled_queued, cancelled_running, again)] == [200, 200, 200]
    assert {r.json()["status"] for r in (cancelled_queued, cancelled_running, again)} == {"cancelled"}
    assert cancelled_running.json()["refundedCredits"] == slow["estimatedCredits"]
    assert await settled_to(basic_team, (500.0, 0.0)) == (500.0, 0.0)

    # The provider's late result for the cancelled job changes nothing.
    await asyncio.sleep(4.5)
    assert (await basic_team.get(f"/api/jobs/{slow['id']}")).json()["status"] == "cancelled"
    assert await balance(basic_team) == (500.0, 0.0)


async def test_a_finished_job_cannot_be_cancelled_and_unknown_jobs_are_404(basic_team):
    done = (await basic_team.post("/api/generate", json=GENERATE, headers={"Prefer": "wait=20"})).json()[
        "job"
    ]
    assert done["status"] == "completed"
    refused = await basic_team.delete(f"/api/jobs/{done['id']}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "job_finished")
    assert (await basic_team.delete(f"/api/jobs/{uuid.uuid4()}")).status_code == 404


async def test_prefer_wait_returns_the_finished_job(basic_team):
    response = await basic_team.post("/api/generate", json=GENERATE, headers={"Prefer": "wait=20"})
    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=20"
    job = response.json()["job"]
    assert job["status"] == "completed"
    assert job["result"]["images"][0]["url"].startswith("http")


async def test_a_transient_provider_failure_is_retried_and_charged_once(basic_team):
    before = await balance(basic_team)
    flaky = (
        await basic_team.post("/api/generate", json={**GENERATE, "prompt": f"flaky {uuid.uuid4()} [[flaky]]"})
    ).json()
    job = await job_in_state(basic_team, flaky["job"]["id"], {"completed", "failed"}, within=60)
    assert job["status"] == "completed", job
    assert job["chargedCredits"] == job["estimatedCredits"]
    assert await settled_to(basic_team, (before[0] - job["chargedCredits"], 0.0)) == (
        before[0] - job["chargedCredits"],
        0.0,
    )


async def test_a_retried_create_with_the_same_idempotency_key_charges_once(basic_team):
    before = await balance(basic_team)
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first, second = await asyncio.gather(
        basic_team.post("/api/generate", json=GENERATE, headers=key),
        basic_team.post("/api/generate", json=GENERATE, headers=key),
    )
    assert first.json()["job"]["id"] == second.json()["job"]["id"]
    job = await job_in_state(basic_team, first.json()["job"]["id"], {"completed"})
    assert await settled_to(basic_team, (before[0] - job["chargedCredits"], 0.0)) == (
        before[0] - job["chargedCredits"],
        0.0,
    )


async def test_jobs_list_newest_first_with_filters_and_pages(basic_team):
    ids = []
    for _ in range(3):
        created = await basic_team.post("/api/generate", json=GENERATE, headers={"Prefer": "wait=20"})
        ids.append(created.json()["job"]["id"])
    first = (await basic_team.get("/api/jobs", params={"limit": 2, "status": "completed"})).json()
    rest = (
        await basic_team.get(
            "/api/jobs", params={"limit": 2, "status": "completed", "cursor": first["nextCursor"]}
        )
    ).json()
    listed = [job["id"] for job in first["items"] + rest["items"]]
    assert listed[:3] == list(reversed(ids))
    assert all(job["status"] == "completed" for job in first["items"] + rest["items"])
    assert (await basic_team.get("/api/jobs", params={"status": "lost"})).status_code == 400
    other_model = (await basic_team.get("/api/jobs", params={"referenceModelId": 2})).json()
    assert other_model["items"] == []


async def test_images_the_safety_checker_blanks_are_flagged_and_not_charged(basic_team):
    before = await balance(basic_team)
    response = await basic_team.post(
        "/api/generate",
        json={**GENERATE, "prompt": "beach [[nsfw]]", "numImages": 2},
        headers={"Prefer": "wait=20"},
    )
    job = response.json()["job"]
    assert job["status"] == "completed"
    assert [image["nsfw"] for image in job["result"]["images"]] == [True, False]
    assert job["chargedCredits"] == job["estimatedCredits"] / 2
    assert job["refundedCredits"] == job["estimatedCredits"] / 2
    assert await settled_to(basic_team, (before[0] - job["chargedCredits"], 0.0)) == (
        before[0] - job["chargedCredits"],
        0.0,
    )


async def test_job_events_stream_until_the_job_finishes(basic_team):
    job = (await basic_team.post("/api/generate", json={**GENERATE, "prompt": "stream [[slow:1]]"})).json()[
        "job"
    ]
    statuses = []
    async with basic_team.stream("GET", f"/api/jobs/{job['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                statuses.append(json.loads(line[len("data: ") :])["status"])
    assert statuses[-1] == "completed"
    assert "running" in statuses
    assert statuses == sorted(set(statuses), key=statuses.index)  # each state once, in order
    assert (await basic_team.get(f"/api/jobs/{uuid.uuid4()}/events")).status_code == 404

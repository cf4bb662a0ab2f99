"""The thin path through the whole system as processes: HTTP in, an image in S3 out, money right."""

import asyncio
import io
import json
import os
import subprocess
import sys
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

GENERATE = {
    "referenceModelId": 1,
    "prompt": "woman in red dress standing in park",
    "resolution": "1024x1024",
    "quality": "hd",
    "numImages": 1,
}


@pytest.fixture(scope="module")
def pro_team(stack) -> dict[str, str]:
    return stack.create_team("e2e-pro", "pro")


@pytest.fixture
async def api(stack, pro_team):
    async with httpx.AsyncClient(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {pro_team['apiKey']}"},
        timeout=30,
    ) as client:
        yield client


async def wait_until_finished(api: httpx.AsyncClient, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await api.get(f"/api/generate/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within 60s: {job}")


async def wait_for_balance(api: httpx.AsyncClient, available: float, reserved: float) -> dict:
    """Settlement follows the job's outcome by event; give it a moment."""
    for _ in range(100):
        balance = (await api.get("/api/credits/balance")).json()
        if (balance["availableCredits"], balance["reservedCredits"]) == (available, reserved):
            return balance
        await asyncio.sleep(0.1)
    raise AssertionError(f"balance never became {available}/{reserved}: {balance}")


async def test_generating_an_image_charges_the_quote_and_stores_a_real_png(api):
    before = (await api.get("/api/credits/balance")).json()
    created = await api.post("/api/generate", json=GENERATE)
    assert created.status_code == 202, created.text
    job = created.json()["job"]
    assert job["status"] == "queued"
    assert job["estimatedCredits"] == 27.00
    assert '"estimatedCredits":27.0' in created.text

    # The reservation is made before the 202.
    reserved = (await api.get("/api/credits/balance")).json()
    assert reserved["reservedCredits"] >= 27.00

    finished = await wait_until_finished(api, job["id"])
    assert finished["status"] == "completed", finished
    assert (finished["chargedCredits"], finished["refundedCredits"]) == (27.00, 0.0)
    [image] = finished["result"]["images"]
    assert (image["width"], image["height"], image["contentType"]) == (1024, 1024, "image/png")

    async with httpx.AsyncClient(timeout=30) as plain:
        download = await plain.get(image["url"])
    assert download.status_code == 200
    png = Image.open(io.BytesIO(download.content))
    assert (png.format, png.size) == ("PNG", (1024, 1024))

    await wait_for_balance(api, before["availableCredits"] - 27.00, before["reservedCredits"])


async def test_every_read_signs_a_fresh_url_for_the_same_stored_image(api):
    job = (await api.post("/api/generate", json={**GENERATE, "resolution": "512x512", "seed": 3})).json()[
        "job"
    ]
    first = await wait_until_finished(api, job["id"])
    await asyncio.sleep(1.1)  # signatures carry a timestamp with one-second resolution
    second = (await api.get(f"/api/generate/{job['id']}")).json()
    [a], [b] = first["result"]["images"], second["result"]["images"]
    assert a["id"] == b["id"]
    assert a["url"] != b["url"]
    assert "/teams/" in a["url"]


async def test_a_provider_failure_fails_the_job_with_a_reason_and_refunds_it(api):
    before = (await api.get("/api/credits/balance")).json()
    job = (await api.post("/api/generate", json={**GENERATE, "prompt": "a dress [[fail]]"})).json()["job"]
    finished = await wait_until_finished(api, job["id"])
    assert finished["status"] == "failed"
    assert finished["error"]["code"] == "provider_error"
    assert "422" in finished["error"]["message"]
    assert (finished["chargedCredits"], finished["refundedCredits"]) == (0.0, 27.00)
    assert finished["result"] is None
    await wait_for_balance(api, before["availableCredits"], before["reservedCredits"])


async def test_a_team_without_credits_gets_402_and_no_job(stack):
    free = stack.create_team("e2e-free", "free")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {free['apiKey']}"},
        timeout=30,
    ) as client:
        response = await client.post("/api/generate", json=GENERATE)
        balance = (await client.get("/api/credits/balance")).json()
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["details"] == {"neededCredits": "27.00", "availableCredits": "0.00"}
    assert (balance["availableCredits"], balance["reservedCredits"], balance["plan"]) == (
        0.0,
        0.0,
        "free",
    )


async def test_another_teams_job_is_not_found(stack, api):
    job = (await api.post("/api/generate", json={**GENERATE, "resolution": "512x512"})).json()["job"]
    other = stack.create_team("e2e-other", "basic")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {other['apiKey']}"},
        timeout=30,
    ) as client:
        response = await client.get(f"/api/generate/{job['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
    await wait_until_finished(api, job["id"])


async def test_bad_keys_and_bad_input_get_clear_errors(stack, api):
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as anonymous:
        missing = await anonymous.post("/api/generate", json=GENERATE)
        wrong = await anonymous.get("/api/credits/balance", headers={"Authorization": "Bearer ig_not-a-key"})
    assert (missing.status_code, wrong.status_code) == (401, 401)

    unknown_model = await api.post("/api/generate", json={**GENERATE, "referenceModelId": 999})
    assert unknown_model.status_code == 404
    assert unknown_model.json()["error"]["code"] == "reference_model_not_found"

    bad_resolution = await api.post("/api/generate", json={**GENERATE, "resolution": "640x480"})
    assert bad_resolution.status_code == 400
    assert "resolution" in bad_resolution.json()["error"]["details"]


async def test_reference_catalog_lists_searches_and_pages(api):
    first = (await api.get("/api/reference-models", params={"limit": 2})).json()
    assert [model["id"] for model in first["items"]] == [1, 2]
    assert first["items"][0]["complexityMultiplier"] == 1.5
    rest = (
        await api.get("/api/reference-models", params={"limit": 100, "cursor": first["nextCursor"]})
    ).json()
    assert (rest["items"][0]["id"], len(rest["items"]), rest["nextCursor"]) == (3, 48, None)
    fashion = (await api.get("/api/reference-models", params={"category": "fashion"})).json()
    assert {model["category"] for model in fashion["items"]} == {"fashion"}
    found = (await api.get("/api/reference-models", params={"q": "yoga"})).json()
    assert [model["name"] for model in found["items"]] == ["Yoga Studio"]
    one = await api.get("/api/reference-models/1")
    assert one.json()["name"] == fashion["items"][0]["name"]


async def test_fal_webhooks_without_a_valid_signature_are_refused(stack):
    body = json.dumps({"request_id": "forged", "status": "OK", "payload": {"images": []}}).encode()
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        unsigned = await client.post("/api/webhooks/fal", content=body)
        forged = await client.post(
            "/api/webhooks/fal",
            content=body,
            headers={
                "x-fal-webhook-request-id": "forged",
                "x-fal-webhook-user-id": "someone",
                "x-fal-webhook-timestamp": str(int(time.time())),
                "x-fal-webhook-signature": "ab" * 64,
            },
        )
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert forged.json()["error"]["code"] == "invalid_signature"


@pytest.mark.parametrize(
    "process", ["gateway_health", "models", "generation", "credits", "storage", "generation_worker"]
)
async def test_every_process_serves_grpc_health(stack, process):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{getattr(stack.ports, process)}") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_the_admin_cli_prints_one_json_line_with_a_working_key(stack):
    """What `make team NAME=acme PLAN=basic` runs."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagegen_gateway.entrypoints.admin",
            "create-team",
            "--name",
            "acme",
            "--plan",
            "basic",
        ],
        env={**os.environ, **stack.env()},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    team = json.loads(line)
    assert set(team) == {"teamId", "apiKey"}
    balance = httpx.get(
        f"{stack.gateway_url}/api/credits/balance",
        headers={"Authorization": f"Bearer {team['apiKey']}"},
        timeout=30,
    ).json()
    assert (balance["plan"], balance["availableCredits"]) == ("basic", 500.0)

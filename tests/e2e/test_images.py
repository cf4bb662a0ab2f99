"""Images by id through the whole stack: fresh URLs, a stable redirect, expiry and cleanup."""

import asyncio
import io
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

GENERATE = {
    "referenceModelId": 1,
    "prompt": "a linen shirt on a chair",
    "resolution": "512x512",
    "quality": "standard",
    "numImages": 1,
}


@pytest.fixture(scope="module")
def team(stack) -> dict[str, str]:
    return stack.create_team("e2e-images", "pro")


@pytest.fixture
async def api(stack, team):
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=30
    ) as client:
        yield client


async def generated_image(api: httpx.AsyncClient) -> tuple[str, dict]:
    job = (await api.post("/api/generate", json=GENERATE)).json()["job"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = (await api.get(f"/api/generate/{job['id']}")).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    assert job["status"] == "completed", job
    [image] = job["result"]["images"]
    return job["id"], image


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


async def test_an_image_reads_with_a_fresh_url_and_its_link_redirects_to_one(stack, api):
    job_id, from_job = await generated_image(api)
    assert from_job["status"] == "available"

    response = await api.get(f"/api/images/{from_job['id']}")
    assert response.status_code == 200, response.text
    image = response.json()
    assert (image["id"], image["jobId"], image["status"]) == (from_job["id"], job_id, "available")
    assert (image["width"], image["height"], image["contentType"]) == (512, 512, "image/png")
    expires_at = datetime.fromisoformat(image["expiresAt"])
    assert timedelta(minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=1)
    available_until = datetime.fromisoformat(image["availableUntil"])
    assert timedelta(days=89) < available_until - datetime.now(UTC) <= timedelta(days=90)

    redirect = await api.get(f"/api/images/{image['id']}/content")
    assert redirect.status_code == 302
    assert redirect.headers["cache-control"] == "no-store"
    async with httpx.AsyncClient(timeout=30) as plain:
        for url in (image["url"], redirect.headers["location"]):
            download = await plain.get(url)
            assert download.status_code == 200
            assert png_size(download.content) == (512, 512)


async def test_another_teams_image_is_not_found(stack, api):
    _, image = await generated_image(api)
    other = stack.create_team("e2e-images-other", "basic")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {other['apiKey']}"}, timeout=30
    ) as client:
        for path in (f"/api/images/{image['id']}", f"/api/images/{image['id']}/content"):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "file_not_found"
    unknown = await api.get("/api/images/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404


async def test_an_expired_image_reads_as_expired_and_the_cleanup_removes_it(stack, api):
    job_id, image = await generated_image(api)
    old_url = image["url"]
    # Its expiry moved into the past (the rest of the stack's files stay as they are).
    engine = create_async_engine(stack.database_url)
    expired_at = datetime.now(UTC) - timedelta(days=1)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE storage.stored_file SET expires_at = :at WHERE id = :id"),
            {"at": expired_at, "id": image["id"]},
        )

    async def reads_expired() -> None:
        read = (await api.get(f"/api/images/{image['id']}")).json()
        assert (read["status"], read["url"], read["expiresAt"]) == ("expired", None, None)
        assert datetime.fromisoformat(read["availableUntil"]) == expired_at.replace(
            microsecond=expired_at.microsecond
        )
        content = await api.get(f"/api/images/{image['id']}/content")
        assert content.status_code == 410
        error = content.json()["error"]
        assert error["code"] == "image_expired"
        assert error["details"]["status"] == "expired"
        assert error["requestId"]
        [in_job] = (await api.get(f"/api/generate/{job_id}")).json()["result"]["images"]
        assert (in_job["status"], in_job["url"]) == ("expired", None)

    await reads_expired()

    cleanup = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "imagegen_storage", "cleanup"],
        env={**os.environ, **stack.env(), "STORAGE_CLEANUP_EVERY_SECONDS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cleanup.returncode == 0, cleanup.stderr
    async with engine.connect() as connection:
        state, removed_at = (
            await connection.execute(
                text("SELECT state, removed_at FROM storage.stored_file WHERE id = :id"), {"id": image["id"]}
            )
        ).one()
    await engine.dispose()
    assert (state, removed_at is not None) == ("expired", True)
    async with httpx.AsyncClient(timeout=30) as plain:
        assert (await plain.get(old_url)).status_code == 404
    await reads_expired()


async def test_a_finished_jobs_images_can_be_deleted_before_their_time(stack, api):
    job_id, image = await generated_image(api)
    assert (await api.delete(f"/api/jobs/{job_id}/images")).status_code == 204
    deleted = (await api.get(f"/api/images/{image['id']}")).json()
    assert (deleted["status"], deleted["url"]) == ("deleted", None)
    gone = await api.get(f"/api/images/{image['id']}/content")
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "image_deleted")
    job = (await api.get(f"/api/jobs/{job_id}")).json()
    assert job["status"] == "completed" and job["result"]["images"][0]["status"] == "deleted"

    waiting = await api.post("/api/generate", json={**GENERATE, "prompt": "slow [[slow:5]]"})
    refused = await api.delete(f"/api/jobs/{waiting.json()['job']['id']}/images")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "job_not_finished")
    await api.delete(f"/api/jobs/{waiting.json()['job']['id']}")

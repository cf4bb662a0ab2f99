"""Outbound webhooks through the whole stack: a team registers an endpoint (a receiver on loopback,
which the local stack allows) and receives its events signed the Standard Webhooks way, retried
while it fails, redelivered on request, and nothing more once the endpoint is deleted."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

GENERATE = {"referenceModelId": 1, "prompt": "a linen shirt", "resolution": "512x512", "quality": "standard"}
# Image fields whose signed URL differs on every read.
FRESHLY_SIGNED = {"url", "expiresAt"}


def verified(secret: str, request) -> dict[str, Any]:
    """The body, once its signature and timestamp check out as a receiver would check them."""
    headers = request.headers
    timestamp = int(headers["webhook-timestamp"])
    assert abs(time.time() - timestamp) < 300
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{timestamp}.".encode() + request.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in headers["webhook-signature"].split(" "), headers
    return json.loads(request.body)


def eventually(check: Callable[[], Any], within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "timed out"
            return result
        time.sleep(0.1)


def without_signed_urls(job: dict[str, Any]) -> dict[str, Any]:
    images = (job.get("result") or {}).get("images", [])
    return {
        **job,
        "result": job["result"]
        and {
            **job["result"],
            "images": [{k: v for k, v in image.items() if k not in FRESHLY_SIGNED} for image in images],
        },
    }


@pytest.fixture(scope="module")
def api(stack) -> httpx.Client:
    team = stack.create_team("webhooks", "pro")
    with httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=40
    ) as client:
        yield client


def register(api: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    created = api.post("/api/webhook-endpoints", json={"url": url, "events": events, "description": "e2e"})
    assert created.status_code == 201, created.text
    return created.json()


def run_job(api: httpx.Client, prompt: str = GENERATE["prompt"]) -> dict[str, Any]:
    done = api.post("/api/generate", json={**GENERATE, "prompt": prompt}, headers={"Prefer": "wait=30"})
    assert done.status_code == 200, done.text
    return done.json()["job"]


def deliveries(api: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    listed = api.get(f"/api/webhook-endpoints/{endpoint_id}/deliveries")
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def test_a_completed_job_arrives_signed_with_the_job_as_the_api_shows_it_and_can_be_redelivered(
    api, webhook_receiver
):
    path = webhook_receiver.new_path()
    endpoint = register(api, webhook_receiver.base_url + path, ["job.completed", "job.failed"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["enabled"] is True
    shown = api.get(f"/api/webhook-endpoints/{endpoint['id']}").json()
    assert "secret" not in shown and secret not in api.get("/api/webhook-endpoints").text

    job = run_job(api)
    [request] = eventually(lambda: webhook_receiver.at(path))
    body = verified(secret, request)
    assert (body["type"], body["data"]["id"], body["data"]["status"]) == (
        "job.completed",
        job["id"],
        "completed",
    )
    assert body["timestamp"].endswith("Z")
    assert without_signed_urls(body["data"]) == without_signed_urls(api.get(f"/api/jobs/{job['id']}").json())

    delivery = eventually(lambda: [d for d in deliveries(api, endpoint["id"]) if d["status"] == "succeeded"])[
        0
    ]
    assert delivery["id"] == request.headers["webhook-id"]
    assert delivery["payload"] == body and delivery["eventType"] == "job.completed"
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [204]

    # After a rotation both secrets sign; a redelivery resends the same message.
    rotated = api.post(f"/api/webhook-endpoints/{endpoint['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != secret
    again = api.post(f"/api/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202, again.text
    _, resent = eventually(lambda: len(webhook_receiver.at(path)) == 2 and webhook_receiver.at(path))
    assert resent.headers["webhook-id"] == delivery["id"] and resent.body == request.body
    verified(secret, resent)
    verified(rotated.json()["secret"], resent)
    assert eventually(lambda: len(deliveries(api, endpoint["id"])[0]["attempts"]) == 2)


def test_a_failing_endpoint_gets_retries_until_it_answers_2xx(api, webhook_receiver):
    path = webhook_receiver.new_path()
    endpoint = register(api, webhook_receiver.base_url + path, ["job.failed"])
    webhook_receiver.fail_next(path, 500, 503)

    job = run_job(api, "a linen shirt [[fail]]")
    assert job["status"] == "failed"
    received = eventually(lambda: len(webhook_receiver.at(path)) >= 3 and webhook_receiver.at(path))
    assert [request.answered for request in received] == [500, 503, 204]
    assert len({request.headers["webhook-id"] for request in received}) == 1
    body = verified(endpoint["secret"], received[-1])
    assert (body["type"], body["data"]["id"]) == ("job.failed", job["id"])
    assert body["data"]["error"]["code"] == "provider_error"

    [delivery] = eventually(lambda: deliveries(api, endpoint["id"]))
    assert delivery["status"] == "succeeded"
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [500, 503, 204]
    failed = api.get(f"/api/webhook-endpoints/{endpoint['id']}/deliveries", params={"status": "failed"})
    assert failed.json()["items"] == []


def test_a_deleted_endpoint_receives_nothing_more(api, webhook_receiver):
    deleted_path, kept_path = webhook_receiver.new_path(), webhook_receiver.new_path()
    deleted = register(api, webhook_receiver.base_url + deleted_path, ["job.completed"])
    register(api, webhook_receiver.base_url + kept_path, ["job.completed"])
    run_job(api)
    eventually(lambda: webhook_receiver.at(deleted_path) and webhook_receiver.at(kept_path))

    assert api.delete(f"/api/webhook-endpoints/{deleted['id']}").status_code == 204
    assert api.get(f"/api/webhook-endpoints/{deleted['id']}").status_code == 404
    assert api.delete(f"/api/webhook-endpoints/{deleted['id']}").status_code == 404
    run_job(api)
    # Once the endpoint still registered has the second job, the deleted one would have it too.
    eventually(lambda: len(webhook_receiver.at(kept_path)) == 2)
    assert len(webhook_receiver.at(deleted_path)) == 1


def test_endpoints_must_be_valid_and_can_be_paused(api, webhook_receiver):
    refused = api.post(
        "/api/webhook-endpoints", json={"url": "http://169.254.169.254/latest/", "events": ["job.completed"]}
    )
    assert refused.status_code == 400 and "url" in refused.json()["error"]["details"]
    endpoint = register(api, webhook_receiver.base_url + webhook_receiver.new_path(), ["credits.low"])
    paused = api.patch(
        f"/api/webhook-endpoints/{endpoint['id']}", json={"enabled": False, "events": ["model.ready"]}
    )
    assert paused.status_code == 200, paused.text
    assert (paused.json()["enabled"], paused.json()["events"]) == (False, ["model.ready"])
    bad = api.get(f"/api/webhook-endpoints/{endpoint['id']}/deliveries", params={"status": "lost"})
    assert bad.status_code == 400


def test_falling_below_the_low_balance_threshold_posts_credits_low(stack, webhook_receiver):
    team = stack.create_team("webhooks-credits", "pro")
    with httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=40
    ) as billing:
        path = webhook_receiver.new_path()
        endpoint = register(billing, webhook_receiver.base_url + path, ["credits.low"])
        # A threshold above the balance counts as a crossing at once.
        changed = billing.put("/api/credits/low-balance-threshold", json={"credits": 2500.5})
        assert changed.status_code == 200, changed.text
        [request] = eventually(lambda: webhook_receiver.at(path))
    body = verified(endpoint["secret"], request)
    assert (body["type"], body["data"]) == ("credits.low", {"availableCredits": 2000.0, "threshold": 2500.5})

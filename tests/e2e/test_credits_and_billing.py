"""Credits through the public API, and Stripe billing with real webhook signatures."""

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from imagegen_devstack.stack import STRIPE_DEFAULTS

SECRET = STRIPE_DEFAULTS["STRIPE_WEBHOOK_SECRET"]
PRO_PRICE = STRIPE_DEFAULTS["STRIPE_PRICE_PRO"]


def stripe_signature(payload: bytes, secret: str = SECRET, age_seconds: int = 0) -> str:
    """The Stripe-Signature header Stripe sends: t=<time>,v1=<HMAC-SHA256 of "t.payload">."""
    timestamp = int(time.time()) - age_seconds
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_type: str, obj: dict, created: int | None = None) -> dict:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "created": created or int(time.time()),
        "data": {"object": obj},
    }


@pytest.fixture
async def client(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as http:
        yield http


async def deliver(
    client: httpx.AsyncClient, body: dict, path: str = "/api/webhooks/stripe"
) -> httpx.Response:
    payload = json.dumps(body).encode()
    return await client.post(path, content=payload, headers={"Stripe-Signature": stripe_signature(payload)})


async def balance_of(client: httpx.AsyncClient, key: str) -> dict:
    response = await client.get("/api/credits/balance", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()


async def eventually(check, within: float = 20.0):
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


def checkout(team_id: str, customer: str, **fields) -> dict:
    return {
        "id": f"cs_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "client_reference_id": team_id,
        "customer": customer,
        "mode": "subscription",
        **fields,
    }


def subscription(customer: str, status: str = "active", price: str = PRO_PRICE) -> dict:
    return {
        "id": f"sub_{customer}",
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {"data": [{"price": {"id": price}}]},
    }


def invoice(customer: str, start: int, end: int, price: str = PRO_PRICE) -> dict:
    return {
        "id": f"in_{uuid.uuid4().hex}",
        "object": "invoice",
        "customer": customer,
        "subscription": f"sub_{customer}",
        "lines": {"data": [{"price": {"id": price}, "period": {"start": start, "end": end}}]},
    }


async def test_a_subscription_paid_through_stripe_sets_the_plan_and_allocates_once(stack, client):
    team = stack.create_team("stripe-sub", "free")
    customer = f"cus_{uuid.uuid4().hex[:10]}"
    now = int(time.time())

    # The subscription arrives before the checkout that links the customer: it waits and is retried.
    early = await deliver(client, event("customer.subscription.created", subscription(customer), created=now))
    assert early.status_code == 200
    assert (
        await deliver(client, event("checkout.session.completed", checkout(team["teamId"], customer)))
    ).status_code == 200
    paid = event("invoice.payment_succeeded", invoice(customer, now, now + 30 * 86400))
    first = await deliver(client, paid)
    again = await deliver(client, paid, path="/api/stripe/webhook")  # the seed's path, a redelivery
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)

    async def upgraded():
        balance = await balance_of(client, team["apiKey"])
        settled = (balance["plan"], balance["availableCredits"], balance["subscriptionStatus"]) == (
            "pro",
            2000.0,
            "active",
        )
        return balance if settled else None

    balance = await eventually(upgraded)
    assert balance, await balance_of(client, team["apiKey"])
    assert (balance["maxConcurrentJobs"], balance["subscriptionStatus"]) == (3, "active")

    history = (
        await client.get("/api/credits/history", headers={"Authorization": f"Bearer {team['apiKey']}"})
    ).json()
    assert [(e["type"], e["credits"]) for e in history["items"]] == [("allocation", 2000.0)]

    # Cancelling drops new work to the free plan's limits; the credits stay.
    await deliver(
        client, event("customer.subscription.deleted", subscription(customer, "canceled"), created=now + 5)
    )

    async def cancelled():
        balance = await balance_of(client, team["apiKey"])
        return balance if balance["plan"] == "free" else None

    balance = await eventually(cancelled)
    assert balance and (balance["maxConcurrentJobs"], balance["availableCredits"]) == (0, 2000.0)

    # Both changes of the plan in effect are in the team's audit log, made by the system (Stripe).
    async def audited():
        log = await client.get(
            "/api/audit-log",
            params={"action": "plan.changed"},
            headers={"Authorization": f"Bearer {team['apiKey']}"},
        )
        items = log.json()["items"]
        return items if len(items) == 2 else None

    changes = await eventually(audited)
    assert changes, "plan changes never reached the audit log"
    assert [(c["details"]["previousPlan"], c["details"]["plan"]) for c in changes] == [
        ("pro", "free"),
        ("free", "pro"),
    ]
    assert {c["actor"]["type"] for c in changes} == {"system"}


async def test_a_top_up_adds_bonus_credits_once(stack, client):
    team = stack.create_team("stripe-topup", "basic")
    session = checkout(
        team["teamId"], f"cus_{uuid.uuid4().hex[:10]}", mode="payment", metadata={"credits": "150.50"}
    )
    body = event("checkout.session.completed", session)
    await deliver(client, body)
    await deliver(client, {**body, "id": f"evt_{uuid.uuid4().hex}"})  # same session, another event id

    async def topped_up():
        balance = await balance_of(client, team["apiKey"])
        return balance if balance["bonusCredits"] == 150.5 else None

    balance = await eventually(topped_up)
    assert balance and balance["availableCredits"] == 650.5


async def test_stripe_webhooks_without_a_valid_signature_are_refused(client):
    payload = json.dumps(event("invoice.payment_succeeded", {})).encode()
    forged = await client.post(
        "/api/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": stripe_signature(payload, "whsec_wrong")},
    )
    unsigned = await client.post("/api/webhooks/stripe", content=payload)
    # Correctly signed, but ten minutes ago: a replay of a captured delivery.
    stale = await client.post(
        "/api/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": stripe_signature(payload, age_seconds=600)},
    )
    assert (forged.status_code, unsigned.status_code, stale.status_code) == (401, 401, 401)
    assert forged.json()["error"]["code"] == stale.json()["error"]["code"] == "invalid_signature"


async def test_estimates_price_without_running_anything(stack, client):
    team = stack.create_team("estimates", "basic")
    headers = {"Authorization": f"Bearer {team['apiKey']}"}
    image = await client.post(
        "/api/credits/estimate",
        headers=headers,
        json={
            "operation": "image_generation",
            "referenceModelId": 1,
            "resolution": "1024x1024",
            "quality": "hd",
        },
    )
    creation = await client.post(
        "/api/credits/estimate",
        headers=headers,
        json={
            "operation": "model_creation",
            "referenceModelId": 1,
            "trainingImages": [f"u{n}" for n in range(10)],
        },
    )
    unknown = await client.post("/api/credits/estimate", headers=headers, json={"operation": "teleport"})
    assert (image.status_code, image.json()["credits"], image.json()["pricingVersion"]) == (200, 27.0, 1)
    assert image.json()["breakdown"]["qualityMultiplier"] == "1.5"
    assert creation.json()["credits"] == 115.0
    assert unknown.status_code == 400
    assert (await balance_of(client, team["apiKey"]))["reservedCredits"] == 0.0


async def test_history_pages_filters_and_exports_csv(stack, client):
    team = stack.create_team("history", "pro")
    headers = {"Authorization": f"Bearer {team['apiKey']}"}
    job = (
        await client.post(
            "/api/generate",
            headers=headers,
            json={"referenceModelId": 1, "prompt": "history [[fail]]", "resolution": "512x512"},
        )
    ).json()["job"]

    async def released():
        page = (await client.get("/api/credits/history", headers=headers)).json()
        return page if [e["type"] for e in page["items"]] == ["release", "reserve", "allocation"] else None

    page = await eventually(released)
    assert page, "the failed job's reservation was never released"
    assert {e["reference"] for e in page["items"][:2]} == {job["id"]}

    first = (await client.get("/api/credits/history", headers=headers, params={"limit": 2})).json()
    rest = (
        await client.get(
            "/api/credits/history", headers=headers, params={"limit": 2, "cursor": first["nextCursor"]}
        )
    ).json()
    assert [e["type"] for e in first["items"] + rest["items"]] == ["release", "reserve", "allocation"]
    reserves = (await client.get("/api/credits/history", headers=headers, params={"type": "reserve"})).json()
    assert [e["type"] for e in reserves["items"]] == ["reserve"]
    bad = await client.get("/api/credits/history", headers=headers, params={"type": "gift"})
    assert bad.status_code == 400

    csv_export = await client.get("/api/credits/history", headers={**headers, "Accept": "text/csv"})
    lines = csv_export.text.strip().splitlines()
    assert csv_export.headers["content-type"].startswith("text/csv")
    assert lines[0].startswith("id,createdAt,type,credits")
    assert [line.split(",")[2] for line in lines[1:]] == ["release", "reserve", "allocation"]


async def test_low_balance_threshold_is_settable_and_reported(stack, client):
    team = stack.create_team("threshold", "basic")
    headers = {"Authorization": f"Bearer {team['apiKey']}"}
    above = await client.put("/api/credits/low-balance-threshold", headers=headers, json={"credits": 100})
    below = await client.put("/api/credits/low-balance-threshold", headers=headers, json={"credits": 600.5})
    cleared = await client.put("/api/credits/low-balance-threshold", headers=headers, json={"credits": None})
    negative = await client.put("/api/credits/low-balance-threshold", headers=headers, json={"credits": -1})
    assert (above.json()["lowBalanceThreshold"], above.json()["belowLowBalanceThreshold"]) == (100.0, False)
    assert (below.json()["lowBalanceThreshold"], below.json()["belowLowBalanceThreshold"]) == (600.5, True)
    assert cleared.json()["lowBalanceThreshold"] is None
    assert negative.status_code == 400


def test_the_ledger_check_passes_on_the_running_system(stack):
    result = subprocess.run(
        [sys.executable, "-m", "imagegen_credits", "check-ledger"],
        env={**os.environ, **stack.env()},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatches" in result.stderr

"""A key's monthly spend cap stops its jobs, its usage is reported by day and model, and what the
team's admins did is in the audit log."""

import asyncio
import time
from datetime import UTC, datetime

import httpx

GENERATE = {"referenceModelId": 1, "prompt": "a linen shirt", "resolution": "1024x1024", "quality": "hd"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_capped_key_stops_at_its_cap_and_reports_its_usage(stack):
    team = stack.create_team("keys-capped", "pro")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers=bearer(team["apiKey"]), timeout=40
    ) as admin:
        created = await admin.post(
            "/api/keys", json={"name": "capped", "scopes": ["read", "generate"], "monthlySpendCap": 30}
        )
        assert created.status_code == 201, created.text
        capped = created.json()
        async with httpx.AsyncClient(
            base_url=stack.gateway_url, headers=bearer(capped["key"]), timeout=40
        ) as ci:
            first = await ci.post("/api/generate", json=GENERATE, headers={"Prefer": "wait=30"})
            assert first.status_code == 200 and first.json()["job"]["chargedCredits"] == 27.0
            refused = await ci.post("/api/generate", json=GENERATE)
            assert refused.status_code == 402, refused.text
            error = refused.json()["error"]
            assert error["code"] == "spend_cap_reached"
            assert (error["details"]["spentThisMonth"], error["details"]["monthlySpendCap"]) == (
                "27.00",
                "30.00",
            )
            # Every answer to a key says how much of its rate limit is left.
            assert int(refused.headers["RateLimit-Remaining"]) < int(refused.headers["RateLimit-Limit"])
        # The team's first key, uncapped, is not held by the other key's cap.
        assert (
            await admin.post("/api/generate", json=GENERATE, headers={"Prefer": "wait=30"})
        ).status_code == 200

        usage_response = await admin.get(f"/api/keys/{capped['id']}/usage")
        assert usage_response.status_code == 200, usage_response.text
        usage = usage_response.json()["items"]
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        assert usage == [
            {
                "apiKeyId": capped["id"],
                "day": today,
                "referenceModelId": 1,
                "customModelId": None,
                "jobs": 1,
                "chargedCredits": 27.0,
                "reservedCredits": 0.0,
            }
        ]
        every_key = (await admin.get("/api/keys/usage")).json()["items"]
        assert sorted(row["jobs"] for row in every_key) == [1, 1]

        assert (await admin.delete(f"/api/keys/{capped['id']}")).status_code == 200
        assert (await admin.delete(f"/api/keys/{capped['id']}")).status_code == 200  # no second entry
        log = (await admin.get("/api/audit-log")).json()["items"]
        assert [(entry["action"], entry["target"]["id"]) for entry in log] == [
            ("api_key.revoked", capped["id"]),
            ("api_key.created", capped["id"]),
        ]
        assert log[0]["actor"] == {"type": "api_key", "id": log[0]["actor"]["id"]} and log[0]["requestId"]
        other = stack.create_team("keys-other", "pro")
        assert (await admin.get("/api/audit-log", headers=bearer(other["apiKey"]))).json()["items"] == []


async def test_a_team_past_its_rate_limit_gets_429_with_retry_after(stack):
    """The local stack allows 600 requests a minute per key: a burst past it is refused, briefly."""
    team = stack.create_team("rate-limited", "basic")
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers=bearer(team["apiKey"]), timeout=40
    ) as api:
        answers = []
        started = time.monotonic()
        while time.monotonic() - started < 60:
            batch = await asyncio.gather(*(api.get("/api/credits/balance") for _ in range(50)))
            answers += batch
            if any(answer.status_code == 429 for answer in batch):
                break
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert sum(answer.status_code == 200 for answer in answers) >= 600

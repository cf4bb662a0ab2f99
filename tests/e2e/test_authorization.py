"""The authorization matrix: every /api route of the running stack, read from its /openapi.json, with
no key, a revoked key, a key without the route's scope and another team's key (401, 401, 403, 404),
and no answer carrying the other team's data. Webhooks verify signatures instead of keys; the public
auth routes take an email and password or a session cookie (tests/e2e/test_accounts.py)."""

import re
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

SCOPES = ["read", "generate", "train", "billing", "admin"]
WEBHOOKS = {"/api/webhooks/fal", "/api/webhooks/stripe", "/api/stripe/webhook"}
PUBLIC_AUTH = {
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/session",
    "/api/auth/session/team",
    "/api/invitations/accept",
}
GENERATE = {"referenceModelId": 1, "prompt": "a wool coat", "resolution": "512x512", "quality": "standard"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scope: str


@dataclass
class World:
    owner: dict[str, str]
    other: dict[str, str]
    revoked_key: str
    # A key with every scope but the one named.
    keys_without: dict[str, str]
    # Path parameters naming the owner's resources, by parameter name.
    owner_ids: dict[str, str]
    # Everything of the owner's that the other team must never see.
    secrets: list[str]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def api_routes(gateway_url: str) -> list[Route]:
    document = httpx.get(f"{gateway_url}/openapi.json").json()
    routes = []
    for path, operations in document["paths"].items():
        if path in PUBLIC_AUTH:
            assert not any(operation.get("security") for operation in operations.values()), path
        if not path.startswith("/api/") or path in WEBHOOKS | PUBLIC_AUTH:
            continue
        for method, operation in operations.items():
            security = operation.get("security")
            assert security, f"{method.upper()} {path} declares no API key scope"
            (scopes,) = security[0].values()
            assert len(scopes) == 1, f"{method.upper()} {path} needs one scope, declares {scopes}"
            routes.append(Route(method.upper(), path, scopes[0]))
    return routes


@pytest.fixture(scope="module")
def world(stack, image_server, webhook_receiver) -> World:
    owner = stack.create_team("authz-owner", "pro")
    other = stack.create_team("authz-other", "pro")
    with httpx.Client(base_url=stack.gateway_url, headers=bearer(owner["apiKey"]), timeout=40) as api:
        # A webhook endpoint registered before the job, so the job's completion makes it a delivery.
        hook_url = webhook_receiver.base_url + webhook_receiver.new_path()
        endpoint = api.post("/api/webhook-endpoints", json={"url": hook_url, "events": ["job.completed"]})
        assert endpoint.status_code == 201, endpoint.text
        done = api.post("/api/generate", json=GENERATE, headers={"Prefer": "wait=30"})
        assert done.status_code == 200, done.text
        job = done.json()["job"]
        assert job["status"] == "completed", job
        deliveries_path = f"/api/webhook-endpoints/{endpoint.json()['id']}/deliveries"
        deadline = time.monotonic() + 30
        while not (deliveries := api.get(deliveries_path).json()["items"]):
            assert time.monotonic() < deadline, "the job's webhook delivery never appeared"
            time.sleep(0.2)

        def new_key(name: str, scopes: list[str]) -> dict:
            created = api.post("/api/keys", json={"name": name, "scopes": scopes})
            assert created.status_code == 201, created.text
            return created.json()

        revoked = new_key("revoked", SCOPES)
        assert api.delete(f"/api/keys/{revoked['id']}").status_code == 200
        keys_without = {
            scope: new_key(f"without-{scope}", [s for s in SCOPES if s != scope])["key"] for scope in SCOPES
        }
        target = new_key("target", ["read"])
        model = api.post(
            "/api/models",
            json={
                "referenceModelId": 1,
                "name": "authz model",
                "trainingImages": image_server.urls(range(500, 503)),
                "triggerWord": "authz",
            },
        )
        assert model.status_code == 202, model.text
        custom_model_id = str(model.json()["customModel"]["id"])
        listed = api.get("/api/keys", params={"limit": 100}).json()["items"]

        # A person in the owner's team (signed up, then joined by invitation), and a pending invitation.
        member_email, pending_email = (f"authz-{uuid.uuid4().hex[:12]}@example.com" for _ in range(2))
        invited = api.post("/api/team/invitations", json={"email": member_email})
        assert invited.status_code == 201, invited.text
        with httpx.Client(base_url=stack.gateway_url, headers={"Origin": stack.gateway_url}) as person:
            signed_up = person.post(
                "/api/auth/signup",
                json={"email": member_email, "password": "authz password 1", "teamName": "authz person"},
            )
            assert signed_up.status_code == 201, signed_up.text
            accepted = person.post("/api/invitations/accept", json={"token": invited.json()["token"]})
            assert accepted.status_code == 200, accepted.text
        pending = api.post("/api/team/invitations", json={"email": pending_email})
        assert pending.status_code == 201, pending.text
    return World(
        owner=owner,
        other=other,
        revoked_key=revoked["key"],
        keys_without=keys_without,
        owner_ids={
            "job_id": job["id"],
            "image_id": job["result"]["images"][0]["id"],
            "key_id": target["id"],
            # Reference models are a global catalog, not a team's resource.
            "model_id": "1",
            "custom_model_id": custom_model_id,
            "user_id": signed_up.json()["user"]["id"],
            "invitation_id": pending.json()["id"],
            "endpoint_id": endpoint.json()["id"],
            "delivery_id": deliveries[0]["id"],
        },
        secrets=[
            owner["teamId"],
            owner["apiKey"],
            job["id"],
            job["result"]["images"][0]["id"],
            *(key["id"] for key in listed),
            "authz model",
            *(key["prefix"] for key in listed),
            *keys_without.values(),
            target["key"],
            member_email,
            pending_email,
            invited.json()["token"],
            pending.json()["token"],
            hook_url,
            endpoint.json()["secret"],
        ],
    )


def call(client: httpx.Client, route: Route, url: str, key: str | None) -> httpx.Response:
    headers = bearer(key) if key else {}
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    return client.request(route.method, url, headers=headers, json=body)


def test_every_route_refuses_missing_revoked_unscoped_and_foreign_keys(stack, world):
    routes = api_routes(stack.gateway_url)
    assert {(r.method, r.path) for r in routes} >= {
        ("POST", "/api/generate"),
        ("GET", "/api/jobs/{job_id}"),
        ("GET", "/api/keys"),
        ("DELETE", "/api/keys/{key_id}"),
    }
    failures: list[str] = []

    def expect(route: Route, who: str, response: httpx.Response, status: int, code: str | None) -> dict:
        got = response.status_code
        body = response.json() if "json" in response.headers.get("content-type", "") else {}
        got_code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        if got != status or (code and got_code != code):
            failures.append(f"{route.method} {route.path} with {who}: {got} {response.text[:200]}")
        return body

    with httpx.Client(base_url=stack.gateway_url, timeout=30, follow_redirects=False) as client:
        for route in routes:
            params = re.findall(r"{(\w+)}", route.path)
            unknown = [name for name in params if name not in world.owner_ids]
            assert not unknown, f"{route.path}: add an owner's resource id for {unknown} to the world fixture"
            url = route.path.format(**world.owner_ids)

            expect(route, "no key", call(client, route, url, None), 401, "unauthenticated")
            expect(
                route, "a revoked key", call(client, route, url, world.revoked_key), 401, "unauthenticated"
            )
            unscoped = call(client, route, url, world.keys_without[route.scope])
            body = expect(route, f"a key without {route.scope}", unscoped, 403, "insufficient_scope")
            if unscoped.status_code == 403 and body["error"]["details"].get("requiredScope") != route.scope:
                failures.append(f"{route.method} {route.path}: 403 names {body['error']['details']}")

            foreign = call(client, route, url, world.other["apiKey"])
            team_resource = [name for name in params if name != "model_id"]
            if team_resource:
                expect(route, "another team's key", foreign, 404, None)
            elif foreign.status_code in (401, 403) or foreign.status_code >= 500:
                failures.append(f"{route.method} {route.path} with another team's key: {foreign.status_code}")
            # Echoing the id the caller sent is not a leak; anything else of the owner's is.
            text = foreign.text
            for name in params:
                text = text.replace(world.owner_ids[name], "")
            leaked = [secret for secret in world.secrets if secret in text]
            if leaked:
                failures.append(f"{route.method} {route.path} leaked {leaked} to another team")

    assert not failures, "\n".join(failures)

    # The other team's attempts changed nothing of the owner's.
    with httpx.Client(base_url=stack.gateway_url, headers=bearer(world.owner["apiKey"]), timeout=30) as api:
        job = api.get(f"/api/jobs/{world.owner_ids['job_id']}").json()
        assert job["status"] == "completed"
        target = next(
            key
            for key in api.get("/api/keys", params={"limit": 100}).json()["items"]
            if key["id"] == world.owner_ids["key_id"]
        )
        assert target["revokedAt"] is None
        assert api.get(f"/api/webhook-endpoints/{world.owner_ids['endpoint_id']}").status_code == 200


def test_keys_are_listed_without_secrets_and_a_revoked_key_stops_working_at_once(stack):
    team = stack.create_team("authz-keys", "pro")
    with httpx.Client(base_url=stack.gateway_url, headers=bearer(team["apiKey"]), timeout=30) as admin:
        created = admin.post("/api/keys", json={"name": "ci", "scopes": ["read"], "monthlySpendCap": 250.5})
        assert created.status_code == 201, created.text
        key = created.json()
        assert key["key"].startswith("ig_") and key["prefix"] == key["key"][:11]
        assert (key["name"], key["scopes"], key["monthlySpendCap"]) == ("ci", ["read"], 250.5)
        assert key["createdAt"] and key["revokedAt"] is None and key["lastUsedAt"] is None

        with httpx.Client(base_url=stack.gateway_url, headers=bearer(key["key"]), timeout=30) as ci:
            assert ci.get("/api/credits/balance").status_code == 200
            refused = ci.post("/api/generate", json=GENERATE)
            assert refused.status_code == 403
            assert refused.json()["error"]["details"]["requiredScope"] == "generate"
            assert ci.get("/api/keys").status_code == 403

            listed = admin.get("/api/keys")
            assert listed.status_code == 200
            page = listed.json()
            assert set(page) == {"items", "nextCursor"}
            assert key["key"] not in listed.text and key["key"][11:] not in listed.text
            assert team["apiKey"] not in listed.text
            first_key = next(item for item in page["items"] if item["name"] == "admin")
            mine = next(item for item in page["items"] if item["id"] == key["id"])
            assert "key" not in mine and "keyHash" not in mine
            assert mine["lastUsedAt"] is not None
            assert mine["createdBy"] == first_key["id"]
            assert first_key["scopes"] == SCOPES
            assert page["items"][0]["id"] == key["id"], "newest first"

            revoked = admin.delete(f"/api/keys/{key['id']}")
            assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None
            assert ci.get("/api/credits/balance").status_code == 401
            again = admin.delete(f"/api/keys/{key['id']}")
            assert again.status_code == 200 and again.json()["revokedAt"] == revoked.json()["revokedAt"]

        paged = admin.get("/api/keys", params={"limit": 1}).json()
        assert len(paged["items"]) == 1 and paged["nextCursor"]
        rest = admin.get("/api/keys", params={"limit": 1, "cursor": paged["nextCursor"]}).json()
        assert [item["id"] for item in rest["items"]] == [first_key["id"]]
        assert rest["nextCursor"] is None

        bad = admin.post("/api/keys", json={"name": "x", "scopes": ["everything"]})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
        assert admin.delete("/api/keys/no-such-key").status_code == 404

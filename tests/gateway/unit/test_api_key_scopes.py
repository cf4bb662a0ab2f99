"""Scopes on API keys: every /api route but webhooks and the public auth routes declares one, and a key
without it gets 403 before any work."""

import httpx
import pytest
from imagegen_gateway.adapters import api_keys
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings

SETTINGS = GatewaySettings(
    database_url="postgresql+asyncpg://unused/unused",
    models_addr="unused:1",
    generation_addr="unused:1",
    credits_addr="unused:1",
    storage_addr="unused:1",
)
VALID_BODY = {"referenceModelId": 1, "prompt": "a red dress"}

WEBHOOKS = {"/api/webhooks/fal", "/api/webhooks/stripe", "/api/stripe/webhook"}
# Signing up and in take an email and password, the rest a session cookie: no key, so no scope.
PUBLIC_AUTH = {
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/session",
    "/api/auth/session/team",
    "/api/invitations/accept",
}


def operations() -> list[tuple[str, str, list | None]]:
    document = create_app(SETTINGS).openapi()
    return [
        (method.upper(), path, operation.get("security"))
        for path, methods in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in methods.items()
    ]


def test_every_api_operation_but_webhooks_and_public_auth_declares_exactly_one_scope():
    for method, path, security in operations():
        if path in WEBHOOKS | PUBLIC_AUTH:
            assert security is None, (method, path)
            continue
        assert security and len(security) == 1, (method, path)
        (scopes,) = security[0].values()
        assert len(scopes) == 1 and scopes[0] in api_keys.SCOPES, (method, path, scopes)


# Reads need `read`; these are the exceptions, and every write (a new one must be added here).
POLICY = {
    ("POST", "/api/generate"): "generate",
    ("DELETE", "/api/jobs/{job_id}"): "generate",
    ("DELETE", "/api/jobs/{job_id}/images"): "generate",
    ("POST", "/api/credits/estimate"): "read",
    ("PUT", "/api/credits/low-balance-threshold"): "billing",
    ("GET", "/api/credits/history"): "billing",
    ("GET", "/api/keys"): "admin",
    ("POST", "/api/keys"): "admin",
    ("DELETE", "/api/keys/{key_id}"): "admin",
    ("GET", "/api/keys/usage"): "admin",
    ("GET", "/api/keys/{key_id}/usage"): "admin",
    ("GET", "/api/audit-log"): "admin",
    ("POST", "/api/models"): "train",
    ("PATCH", "/api/models/{custom_model_id}"): "train",
    ("DELETE", "/api/models/{custom_model_id}"): "train",
    ("POST", "/api/models/{custom_model_id}/refine"): "train",
    ("POST", "/api/uploads"): "train",
    ("PATCH", "/api/team/members/{user_id}"): "admin",
    ("DELETE", "/api/team/members/{user_id}"): "admin",
    ("POST", "/api/team/invitations"): "admin",
    ("GET", "/api/team/invitations"): "admin",
    ("DELETE", "/api/team/invitations/{invitation_id}"): "admin",
    # Webhook endpoints and their delivery log (payloads, endpoint answers) are the admin's alone.
    ("POST", "/api/webhook-endpoints"): "admin",
    ("GET", "/api/webhook-endpoints"): "admin",
    ("GET", "/api/webhook-endpoints/{endpoint_id}"): "admin",
    ("PATCH", "/api/webhook-endpoints/{endpoint_id}"): "admin",
    ("DELETE", "/api/webhook-endpoints/{endpoint_id}"): "admin",
    ("POST", "/api/webhook-endpoints/{endpoint_id}/rotate-secret"): "admin",
    ("GET", "/api/webhook-endpoints/{endpoint_id}/deliveries"): "admin",
    ("POST", "/api/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver"): "admin",
}


def test_each_operation_needs_the_scope_of_the_policy():
    for method, path, security in operations():
        if path in WEBHOOKS | PUBLIC_AUTH:
            continue
        expected = POLICY.get((method, path), "read" if method == "GET" else None)
        assert expected, f"{method} {path}: add its scope to POLICY"
        assert security == [{"apiKey": [expected]}], (method, path, security)


@pytest.fixture
def keys(api_key_callers):
    """Secrets to callers, in place of the database."""
    api_key_callers["read-only"] = api_keys.Caller("key-1", "team-1", frozenset({"read"}))
    api_key_callers["everything"] = api_keys.Caller("key-2", "team-1", frozenset(api_keys.SCOPES))


def client() -> httpx.AsyncClient:
    app = create_app(SETTINGS)
    app.state.engine = None
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/api/generate", "generate"),
        ("DELETE", "/api/jobs/job-1", "generate"),
        ("GET", "/api/credits/history", "billing"),
        ("PUT", "/api/credits/low-balance-threshold", "billing"),
        ("GET", "/api/keys", "admin"),
        ("POST", "/api/keys", "admin"),
        ("POST", "/api/webhook-endpoints", "admin"),
        ("GET", "/api/webhook-endpoints/endpoint-1/deliveries", "admin"),
    ],
)
async def test_a_key_without_the_scope_gets_403_insufficient_scope(keys, method, path, scope):
    async with client() as http:
        response = await http.request(
            method, path, json=VALID_BODY, headers={"Authorization": "Bearer read-only"}
        )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "insufficient_scope"
    assert error["details"]["requiredScope"] == scope


async def test_an_unknown_or_revoked_key_gets_401(keys):
    async with client() as http:
        response = await http.get("/api/jobs", headers={"Authorization": "Bearer revoked"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


async def test_scopes_are_checked_before_the_body_is_validated(keys):
    async with client() as http:
        response = await http.post("/api/keys", json={}, headers={"Authorization": "Bearer read-only"})
    assert response.status_code == 403

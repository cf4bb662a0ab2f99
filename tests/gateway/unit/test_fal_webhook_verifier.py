import base64
import hashlib
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from imagegen_gateway.adapters.fal_webhooks import FalWebhookVerifier, InvalidWebhook

JWKS_URL = "https://fal.test/.well-known/jwks.json"


def jwk(key: Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        "kid": "k",
    }


class Jwks:
    """A JWKS endpoint whose keys the test can rotate, counting fetches."""

    def __init__(self, *keys: Ed25519PrivateKey) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json={"keys": [jwk(key) for key in self.keys]})


def signed_headers(
    key: Ed25519PrivateKey, body: bytes, *, request_id="req-1", user_id="user-1", at=None
) -> dict:
    timestamp = str(int(at if at is not None else time.time()))
    message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()
    return {
        "x-fal-webhook-request-id": request_id,
        "x-fal-webhook-user-id": user_id,
        "x-fal-webhook-timestamp": timestamp,
        "x-fal-webhook-signature": key.sign(message).hex(),
    }


def verifier(jwks: Jwks) -> FalWebhookVerifier:
    return FalWebhookVerifier(JWKS_URL, 300, httpx.AsyncClient(transport=httpx.MockTransport(jwks.handler)))


BODY = json.dumps({"request_id": "req-1", "status": "OK", "payload": {"images": []}}).encode()


async def test_a_correctly_signed_delivery_verifies():
    key = Ed25519PrivateKey.generate()
    assert await verifier(Jwks(key)).verify(signed_headers(key, BODY), BODY) == "req-1"


async def test_any_key_of_the_set_may_have_signed():
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert await verifier(Jwks(old, new)).verify(signed_headers(new, BODY), BODY) == "req-1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda headers, body: (headers, body + b" "),
        lambda headers, body: ({**headers, "x-fal-webhook-user-id": "someone-else"}, body),
        lambda headers, body: ({**headers, "x-fal-webhook-request-id": "req-2"}, body),
        lambda headers, body: ({**headers, "x-fal-webhook-signature": "00" * 64}, body),
        lambda headers, body: ({**headers, "x-fal-webhook-signature": "zz"}, body),
        lambda headers, body: (
            {k: v for k, v in headers.items() if k != "x-fal-webhook-timestamp"},
            body,
        ),
    ],
)
async def test_altered_or_incomplete_deliveries_are_refused(tamper):
    key = Ed25519PrivateKey.generate()
    headers, body = tamper(signed_headers(key, BODY), BODY)
    with pytest.raises(InvalidWebhook):
        await verifier(Jwks(key)).verify(headers, body)


@pytest.mark.parametrize("skew", [-301, 301])
async def test_timestamps_outside_five_minutes_are_refused(skew):
    key = Ed25519PrivateKey.generate()
    with pytest.raises(InvalidWebhook, match="timestamp"):
        await verifier(Jwks(key)).verify(signed_headers(key, BODY, at=time.time() + skew), BODY)


async def test_keys_are_cached_between_deliveries():
    key = Ed25519PrivateKey.generate()
    jwks = Jwks(key)
    check = verifier(jwks)
    for _ in range(3):
        await check.verify(signed_headers(key, BODY), BODY)
    assert jwks.fetches == 1


async def test_an_unknown_key_triggers_a_refetch_after_rotation():
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    jwks = Jwks(old)
    check = verifier(jwks)
    await check.verify(signed_headers(old, BODY), BODY)
    jwks.keys = [new]
    # Refetches are rate limited; pretend the cached set is older than that limit.
    check._fetched_at -= 120
    assert await check.verify(signed_headers(new, BODY), BODY) == "req-1"
    assert jwks.fetches == 2

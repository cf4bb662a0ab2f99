"""Verifies fal.ai webhook signatures: ED25519 over request id, user id, timestamp and body hash.

fal sends no key id, so every key of its JWKS is tried. The key set is cached and fetched again
when no cached key verifies (fal may have rotated) at most once a minute, so forged requests
cannot make us hammer the JWKS endpoint.
"""

import base64
import hashlib
import time
from collections.abc import Mapping

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REQUEST_ID = "x-fal-webhook-request-id"
USER_ID = "x-fal-webhook-user-id"
TIMESTAMP = "x-fal-webhook-timestamp"
SIGNATURE = "x-fal-webhook-signature"

CACHE_SECONDS = 24 * 3600
MIN_REFRESH_SECONDS = 60


class InvalidWebhook(Exception):
    pass


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class FalWebhookVerifier:
    def __init__(self, jwks_url: str, tolerance_seconds: int, http: httpx.AsyncClient) -> None:
        self.jwks_url = jwks_url
        self.tolerance_seconds = tolerance_seconds
        self.http = http
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at = 0.0

    async def _fetch_keys(self) -> None:
        response = await self.http.get(self.jwks_url, timeout=10.0)
        response.raise_for_status()
        self._keys = [
            Ed25519PublicKey.from_public_bytes(_b64url_decode(key["x"]))
            for key in response.json().get("keys", [])
            if key.get("kty") == "OKP" and key.get("crv") == "Ed25519"
        ]
        self._fetched_at = time.monotonic()

    def _verifies(self, signature: bytes, message: bytes) -> bool:
        for key in self._keys:
            try:
                key.verify(signature, message)
                return True
            except InvalidSignature:
                continue
        return False

    async def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Checks the delivery and returns its request id; raises InvalidWebhook otherwise."""
        values = [headers.get(name) for name in (REQUEST_ID, USER_ID, TIMESTAMP, SIGNATURE)]
        if not all(values):
            raise InvalidWebhook("missing signature headers")
        request_id, user_id, timestamp, signature_hex = values
        try:
            sent_at = int(timestamp)
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise InvalidWebhook("malformed signature headers") from None
        if abs(time.time() - sent_at) > self.tolerance_seconds:
            raise InvalidWebhook("timestamp outside the tolerance window")
        message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()

        age = time.monotonic() - self._fetched_at
        if not self._keys or age > CACHE_SECONDS:
            await self._fetch_keys()
        if self._verifies(signature, message):
            return request_id
        if age > MIN_REFRESH_SECONDS:
            await self._fetch_keys()
            if self._verifies(signature, message):
                return request_id
        raise InvalidWebhook("signature does not verify")

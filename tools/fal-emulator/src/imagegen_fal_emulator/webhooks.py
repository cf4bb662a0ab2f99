"""Signed webhook delivery as fal does it, with a compressed retry schedule, plus the JWKS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import ssl
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryAttempt:
    request_id: str
    url: str
    attempt: int
    status_code: int | None
    error: str | None
    timestamp: float


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


class WebhookSender:
    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        user_id: str,
        retry_delays: tuple[float, ...],
        timeout: float,
        ca_bundle: str,
    ) -> None:
        self._key = signing_key
        self._user_id = user_id
        self._retry_delays = retry_delays
        # One client for every delivery: its pool keeps connections to receivers open, where a
        # client per webhook paid for a new connection (and client) each time.
        self._client = httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca_bundle), timeout=timeout)
        self.attempts: list[DeliveryAttempt] = []
        # Strong references, so in-flight deliveries are not garbage-collected.
        self._tasks: set[asyncio.Task[None]] = set()

    def jwks(self) -> dict[str, Any]:
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
                    "kid": hashlib.sha256(raw).hexdigest()[:16],
                    "use": "sig",
                    "alg": "EdDSA",
                }
            ]
        }

    def deliveries(self) -> list[dict[str, Any]]:
        return [asdict(attempt) for attempt in self.attempts]

    def schedule(self, url: str, request_id: str, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._deliver(url, request_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    def _headers(self, request_id: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = self._key.sign(signed_message(request_id, self._user_id, timestamp, body))
        return {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": self._user_id,
            "X-Fal-Webhook-Timestamp": timestamp,
            "X-Fal-Webhook-Signature": signature.hex(),
        }

    async def _deliver(self, url: str, request_id: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        delays = (0.0, *self._retry_delays)
        for attempt, delay in enumerate(delays, start=1):
            await asyncio.sleep(delay)
            status_code: int | None = None
            error: str | None = None
            try:
                # Signed per attempt so the timestamp stays inside receivers' window.
                response = await self._client.post(url, content=body, headers=self._headers(request_id, body))
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.attempts.append(DeliveryAttempt(request_id, url, attempt, status_code, error, time.time()))
            if status_code is not None and 200 <= status_code < 300:
                return
            logger.info(
                "webhook %s for %s failed (attempt %d): %s",
                url,
                request_id,
                attempt,
                error or status_code,
            )
        logger.warning("webhook %s for %s gave up after %d attempts", url, request_id, len(delays))

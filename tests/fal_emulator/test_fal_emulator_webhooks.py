"""Signed webhook delivery to a loopback receiver, verified against the served JWKS."""

from __future__ import annotations

import json
import uuid
from typing import Any

FLUX = "fal-ai/flux-lora"


def jwks(fal_emulator: Any) -> dict[str, Any]:
    response = fal_emulator.http.get(fal_emulator.env["FAL_JWKS_URL"])
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_completed_request_delivers_signed_ok_webhook(
    fal_sync: Any, fal_emulator: Any, webhook_receiver: Any, webhook_verifier: Any
) -> None:
    handle = fal_sync.submit(FLUX, {"prompt": f"webhook {uuid.uuid4()}"}, webhook_url=webhook_receiver.url)

    [(headers, body)] = webhook_receiver.wait_for(handle.request_id)

    keys = jwks(fal_emulator)
    assert webhook_verifier(headers, body, keys)
    assert not webhook_verifier(headers, body.replace(b"OK", b"ERROR"), keys)
    assert not webhook_verifier({**headers, "x-fal-webhook-user-id": "someone-else"}, body, keys)
    assert headers["x-fal-webhook-user-id"] == "user-under-test"
    delivered = json.loads(body)
    assert delivered == {
        "request_id": handle.request_id,
        "gateway_request_id": handle.request_id,
        "status": "OK",
        "payload": handle.get(),
        "error": None,
        "payload_error": None,
    }


def test_failures_deliver_error_webhooks(
    fal_sync: Any, fal_emulator: Any, webhook_receiver: Any, webhook_verifier: Any
) -> None:
    failing = fal_sync.submit(FLUX, {"prompt": f"[[fail]] {uuid.uuid4()}"}, webhook_url=webhook_receiver.url)
    flaky = fal_sync.submit(FLUX, {"prompt": f"[[flaky]] {uuid.uuid4()}"}, webhook_url=webhook_receiver.url)

    [(_, failing_body)] = webhook_receiver.wait_for(failing.request_id)
    [(flaky_headers, flaky_body)] = webhook_receiver.wait_for(flaky.request_id)

    failed = json.loads(failing_body)
    assert (failed["status"], failed["error"]) == ("ERROR", "Invalid status code: 422")
    assert failed["payload"]["detail"][0]["loc"] == ["body"]
    flaked = json.loads(flaky_body)
    assert (flaked["status"], flaked["error"]) == ("ERROR", "Invalid status code: 503")
    assert flaked["payload"]["error_type"] == "runner_server_error"
    assert webhook_verifier(flaky_headers, flaky_body, jwks(fal_emulator))


def test_refused_delivery_is_retried(fal_sync: Any, fal_emulator: Any, webhook_receiver: Any) -> None:
    # The receiver refuses the first attempt for this id; the emulator retries after 0.1 s.
    handle = fal_sync.submit(
        FLUX, {"prompt": f"[[slow:0.5]] retry {uuid.uuid4()}"}, webhook_url=webhook_receiver.url
    )
    webhook_receiver.refuse_first_for.add(handle.request_id)

    first, second = webhook_receiver.wait_for(handle.request_id, count=2)

    assert first[1] == second[1]
    deliveries = fal_emulator.http.get(f"{fal_emulator.base_url}/_emulator/deliveries").json()
    attempts = [d for d in deliveries if d["request_id"] == handle.request_id]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, 200)]
    assert attempts[0]["url"] == webhook_receiver.url

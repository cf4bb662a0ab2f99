"""Inbound provider webhooks."""

import json
import logging

from fastapi import APIRouter, Request
from imagegen.generation.v1 import generation_service_pb2

from imagegen_gateway import schemas
from imagegen_gateway.adapters.fal_webhooks import InvalidWebhook
from imagegen_gateway.deps import ServicesDep
from imagegen_gateway.errors import ApiError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

_OUTCOME = {
    "OK": generation_service_pb2.PROVIDER_OUTCOME_OK,
    "ERROR": generation_service_pb2.PROVIDER_OUTCOME_ERROR,
}


@router.post("/fal", response_model=schemas.WebhookAccepted)
async def fal_webhook(request: Request, services: ServicesDep) -> schemas.WebhookAccepted:
    """A fal.ai result, accepted only with a valid ED25519 signature; repeats have no second effect."""
    body = await request.body()
    try:
        request_id = await request.app.state.fal_verifier.verify(request.headers, body)
    except InvalidWebhook as error:
        log.warning("fal webhook refused", extra={"reason": str(error)})
        raise ApiError(401, "invalid_signature", f"webhook refused: {error}") from None
    try:
        delivery = json.loads(body)
        outcome = _OUTCOME[delivery["status"]]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "invalid_payload", "the webhook body is not a fal delivery") from None
    if delivery.get("request_id") != request_id:
        raise ApiError(400, "invalid_payload", "the body's request id differs from the signed one")
    await services.generation.CompleteProviderRequest(
        generation_service_pb2.CompleteProviderRequestRequest(
            provider_request_id=request_id,
            outcome=outcome,
            payload_json=json.dumps(delivery.get("payload")).encode(),
            error=delivery.get("error") or "",
        )
    )
    return schemas.WebhookAccepted()

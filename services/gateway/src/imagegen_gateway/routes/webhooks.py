"""Inbound provider webhooks."""

import json
import logging

import stripe
from fastapi import APIRouter, Request
from imagegen.credits.v1 import credits_service_pb2
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
    """A fal.ai result, accepted only with a valid ED25519 signature, stored once and recorded for its
    job right after the answer; repeats have no second effect (`duplicate: true`)."""
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
    recorded = await services.generation.RecordProviderDelivery(
        generation_service_pb2.RecordProviderDeliveryRequest(
            provider_request_id=request_id,
            outcome=outcome,
            payload_json=json.dumps(delivery.get("payload")).encode(),
            error=delivery.get("error") or "",
        )
    )
    return schemas.WebhookAccepted(duplicate=recorded.duplicate)


async def _stripe_webhook(request: Request, services: ServicesDep) -> schemas.WebhookAccepted:
    """A Stripe event, accepted only with a valid signature, stored once by its id and processed later."""
    secret = request.app.state.settings.stripe_webhook_secret
    if secret is None:
        raise ApiError(503, "stripe_not_configured", "Stripe webhooks are not configured here")
    body = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            body, request.headers.get("stripe-signature", ""), secret.get_secret_value()
        )
    except stripe.SignatureVerificationError as error:
        log.warning("stripe webhook refused", extra={"reason": str(error)})
        raise ApiError(
            401, "invalid_signature", "webhook refused: the Stripe signature does not verify"
        ) from None
    except ValueError:
        raise ApiError(400, "invalid_payload", "the webhook body is not a Stripe event") from None
    response = await services.credits.RecordStripeEvent(
        credits_service_pb2.RecordStripeEventRequest(
            event_id=event["id"], type=event["type"], payload_json=body
        )
    )
    return schemas.WebhookAccepted(duplicate=response.duplicate)


# The seed's path and ours; both receive the same events.
router.add_api_route(
    "/stripe",
    _stripe_webhook,
    methods=["POST"],
    response_model=schemas.WebhookAccepted,
    response_model_by_alias=True,
)
seed_router = APIRouter(tags=["webhooks"])
seed_router.add_api_route(
    "/api/stripe/webhook",
    _stripe_webhook,
    methods=["POST"],
    response_model=schemas.WebhookAccepted,
    response_model_by_alias=True,
)

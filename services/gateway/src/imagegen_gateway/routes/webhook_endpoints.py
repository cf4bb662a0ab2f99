"""The team's webhook endpoints: register, list, change, delete, rotate the secret; the delivery
log and redelivery. Every route needs the `admin` scope.

Events are posted by the `deliver-webhooks` process (entrypoints/webhook_delivery.py), signed the
Standard Webhooks way with the endpoint's secret.
"""

import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from imagegen_gateway import schemas
from imagegen_gateway.adapters import audit, outbound_webhooks, standard_webhooks
from imagegen_gateway.adapters.webhook_sender import EndpointTargets, InvalidEndpointUrl
from imagegen_gateway.deps import AdminCallerDep
from imagegen_gateway.errors import ApiError
from imagegen_gateway.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/webhook-endpoints", tags=["webhooks"])

# After a rotation the old secret keeps signing (beside the new one) this long, so receivers can
# switch to the new secret without rejecting deliveries meanwhile.
ROTATION_GRACE = timedelta(hours=24)


def _cipher(request: Request) -> standard_webhooks.SecretCipher:
    key = request.app.state.settings.webhook_secrets_key
    if key is None:
        raise ApiError(503, "webhooks_unavailable", "webhooks are not configured on this server")
    return standard_webhooks.SecretCipher(key.get_secret_value())


async def _check_url(request: Request, url: str) -> None:
    settings = request.app.state.settings
    try:
        await EndpointTargets(settings.webhook_allow_http, settings.webhook_allowed_networks).check(url)
    except InvalidEndpointUrl as error:
        raise ApiError(
            400, "invalid_request", "webhooks cannot be sent to this URL", {"url": str(error)}
        ) from None


def _ordered(events: list[str]) -> list[str]:
    """Each event once, in the documented order."""
    return [event for event in outbound_webhooks.EVENT_TYPES if event in events]


def _public(endpoint: outbound_webhooks.Endpoint) -> schemas.WebhookEndpointPublic:
    return schemas.WebhookEndpointPublic.model_validate(endpoint, from_attributes=True)


def _delivery_public(delivery: outbound_webhooks.Delivery) -> schemas.WebhookDeliveryPublic:
    return schemas.WebhookDeliveryPublic(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        payload=json.loads(delivery.payload),
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at,
        attempts=[
            schemas.WebhookAttemptPublic(
                attempted_at=attempt.attempted_at,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                response_body=attempt.response_snippet,
            )
            for attempt in delivery.attempts
        ],
    )


def _not_found() -> ApiError:
    return ApiError(404, "webhook_endpoint_not_found", "no such webhook endpoint")


@router.post(
    "", status_code=201, response_model=schemas.WebhookEndpointWithSecret, response_model_by_alias=True
)
async def create_webhook_endpoint(
    body: schemas.WebhookEndpointCreate, caller: AdminCallerDep, request: Request
) -> schemas.WebhookEndpointWithSecret:
    """Register an https URL for the given events.

    `secret` (whsec_...) signs every delivery and is shown only in this response. Needs the `admin` scope.
    """
    cipher = _cipher(request)
    await _check_url(request, body.url)
    secret = standard_webhooks.new_secret()
    endpoint = await outbound_webhooks.create_endpoint(
        request.app.state.engine,
        caller.team_id,
        body.url,
        _ordered(body.events),
        body.description,
        cipher.encrypt(secret),
    )
    await audit.record(
        request.app.state.engine,
        caller,
        "webhook_endpoint.created",
        "webhook_endpoint",
        endpoint.id,
        {"url": endpoint.url, "events": endpoint.events},
    )
    return schemas.WebhookEndpointWithSecret(**_public(endpoint).model_dump(), secret=secret)


@router.get("", response_model=schemas.WebhookEndpointPage, response_model_by_alias=True)
async def list_webhook_endpoints(
    caller: AdminCallerDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.WebhookEndpointPage:
    """The team's endpoints, newest first, without secrets. Needs the `admin` scope."""
    endpoints = await outbound_webhooks.list_endpoints(
        request.app.state.engine, caller.team_id, limit + 1, decode_cursor(cursor) if cursor else None
    )
    page = endpoints[:limit]
    return schemas.WebhookEndpointPage(
        items=[_public(endpoint) for endpoint in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(endpoints) > limit else None,
    )


@router.get("/{endpoint_id}", response_model=schemas.WebhookEndpointPublic, response_model_by_alias=True)
async def get_webhook_endpoint(
    endpoint_id: str, caller: AdminCallerDep, request: Request
) -> schemas.WebhookEndpointPublic:
    """One endpoint, without its secret. Needs the `admin` scope."""
    endpoint = await outbound_webhooks.get_endpoint(request.app.state.engine, caller.team_id, endpoint_id)
    if endpoint is None:
        raise _not_found()
    return _public(endpoint)


@router.patch("/{endpoint_id}", response_model=schemas.WebhookEndpointPublic, response_model_by_alias=True)
async def update_webhook_endpoint(
    endpoint_id: str, body: schemas.WebhookEndpointUpdate, caller: AdminCallerDep, request: Request
) -> schemas.WebhookEndpointPublic:
    """Change the URL, events, description, or pause it (`enabled: false`). Needs the `admin` scope."""
    engine = request.app.state.engine
    if await outbound_webhooks.get_endpoint(engine, caller.team_id, endpoint_id) is None:
        raise _not_found()
    changes = body.model_dump(exclude_none=True)
    if "url" in changes:
        await _check_url(request, changes["url"])
    if "events" in changes:
        changes["events"] = _ordered(changes["events"])
    endpoint = await outbound_webhooks.update_endpoint(engine, caller.team_id, endpoint_id, changes)
    if endpoint is None:
        raise _not_found()
    await audit.record(engine, caller, "webhook_endpoint.updated", "webhook_endpoint", endpoint_id, changes)
    return _public(endpoint)


@router.delete("/{endpoint_id}", status_code=204, response_class=Response)
async def delete_webhook_endpoint(endpoint_id: str, caller: AdminCallerDep, request: Request) -> Response:
    """Delete an endpoint and its delivery log; nothing more is sent to it. Needs the `admin` scope."""
    if not await outbound_webhooks.delete_endpoint(request.app.state.engine, caller.team_id, endpoint_id):
        raise _not_found()
    await audit.record(
        request.app.state.engine, caller, "webhook_endpoint.deleted", "webhook_endpoint", endpoint_id
    )
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=schemas.WebhookEndpointWithSecret,
    response_model_by_alias=True,
)
async def rotate_webhook_secret(
    endpoint_id: str, caller: AdminCallerDep, request: Request
) -> schemas.WebhookEndpointWithSecret:
    """A new signing secret, shown only in this response. For 24 hours deliveries carry signatures
    by both the old and the new secret (`webhook-signature: v1,<new> v1,<old>`). Needs the `admin` scope.
    """
    cipher = _cipher(request)
    secret = standard_webhooks.new_secret()
    endpoint = await outbound_webhooks.rotate_secret(
        request.app.state.engine, caller.team_id, endpoint_id, cipher.encrypt(secret), ROTATION_GRACE
    )
    if endpoint is None:
        raise _not_found()
    await audit.record(
        request.app.state.engine, caller, "webhook_endpoint.secret_rotated", "webhook_endpoint", endpoint_id
    )
    return schemas.WebhookEndpointWithSecret(**_public(endpoint).model_dump(), secret=secret)


@router.get(
    "/{endpoint_id}/deliveries", response_model=schemas.WebhookDeliveryPage, response_model_by_alias=True
)
async def list_webhook_deliveries(
    endpoint_id: str,
    caller: AdminCallerDep,
    request: Request,
    status: Annotated[list[str] | None, Query(description="pending, succeeded, failed")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.WebhookDeliveryPage:
    """The endpoint's deliveries, newest first, each with every attempt (status code, error,
    duration, the start of the answer). Needs the `admin` scope."""
    statuses = [name for value in status or [] for name in value.split(",") if name]
    if any(name not in outbound_webhooks.DELIVERY_STATUSES for name in statuses):
        raise ApiError(
            400,
            "invalid_request",
            "unknown status",
            {"status": f"one of {', '.join(outbound_webhooks.DELIVERY_STATUSES)}"},
        )
    engine = request.app.state.engine
    if await outbound_webhooks.get_endpoint(engine, caller.team_id, endpoint_id) is None:
        raise _not_found()
    deliveries = await outbound_webhooks.list_deliveries(
        engine, caller.team_id, endpoint_id, statuses, limit + 1, decode_cursor(cursor) if cursor else None
    )
    page = deliveries[:limit]
    return schemas.WebhookDeliveryPage(
        items=[_delivery_public(delivery) for delivery in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(deliveries) > limit else None,
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=schemas.WebhookDeliveryPublic,
    response_model_by_alias=True,
)
async def redeliver_webhook(
    endpoint_id: str, delivery_id: str, caller: AdminCallerDep, request: Request
) -> schemas.WebhookDeliveryPublic:
    """Send a delivery again now, with the same `webhook-id` and body, and a fresh retry schedule.
    Needs the `admin` scope."""
    delivery = await outbound_webhooks.redeliver(
        request.app.state.engine, caller.team_id, endpoint_id, delivery_id
    )
    if delivery is None:
        raise ApiError(404, "webhook_delivery_not_found", "no such delivery of this webhook endpoint")
    return _delivery_public(delivery)

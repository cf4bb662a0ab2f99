"""Stripe events: stored once by id when the gateway has verified them, then processed here with retries.

Stripe delivers at least once and in any order, so every effect is idempotent (allocations are
keyed by invoice, bonuses by checkout session) or ordered by the event's own creation time
(subscription changes). An event about a customer we cannot link to a team yet waits and is
retried, since the checkout that links them may still be on its way.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.adapters.tables import stripe_event
from imagegen_credits.domain.model import Plan
from imagegen_credits.domain.pricing import to_hundredths
from imagegen_credits.service_layer import handlers

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
# Subscription states as Stripe names them; a deleted subscription is a canceled one.
DELETED_STATUS = "canceled"


class NotReady(Exception):
    """The event depends on something not known yet; retry later."""


@dataclass(frozen=True)
class StripeBilling:
    engine: AsyncEngine
    # Stripe price id -> plan.
    plans_by_price: Mapping[str, Plan]


async def record_event(engine: AsyncEngine, event_id: str, event_type: str, payload: bytes) -> bool:
    """Store a verified event; returns False when it was stored before (a redelivery)."""
    try:
        body = json.loads(payload)
        created = datetime.fromtimestamp(int(body["created"]), UTC)
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("invalid_stripe_event", "the event is not a Stripe event object") from None
    async with engine.begin() as connection:
        inserted = (
            await connection.execute(
                pg_insert(stripe_event)
                .values(
                    id=event_id,
                    type=event_type,
                    payload=body,
                    stripe_created_at=created,
                    status="pending",
                    attempts=0,
                    next_attempt_at=func.now(),
                )
                .on_conflict_do_nothing(index_elements=[stripe_event.c.id])
                .returning(stripe_event.c.id)
            )
        ).one_or_none()
    return inserted is not None


async def _team_of_customer(billing: StripeBilling, customer_id: str | None) -> str:
    team_id = await handlers.team_for_customer(billing.engine, customer_id) if customer_id else None
    if team_id is None:
        raise NotReady(f"customer {customer_id} is not linked to a team yet")
    return team_id


def _price_id(items: Any) -> str | None:
    data = (items or {}).get("data") or []
    price = (data[0].get("price") or {}) if data else {}
    return price.get("id")


async def _checkout_completed(billing: StripeBilling, session: dict[str, Any]) -> None:
    team_id, customer_id = session.get("client_reference_id"), session.get("customer")
    if not team_id:
        log.warning("checkout without client_reference_id ignored", extra={"session": session.get("id")})
        return
    if customer_id:
        await handlers.link_stripe_customer(billing.engine, team_id, customer_id)
    if session.get("mode") == "payment":
        try:
            credits = Decimal(str((session.get("metadata") or {})["credits"]))
        except (KeyError, InvalidOperation):
            log.warning("top-up without a credits amount ignored", extra={"session": session.get("id")})
            return
        await handlers.grant_bonus(
            billing.engine, team_id, to_hundredths(credits), f"checkout:{session['id']}", "credit top-up"
        )


async def _subscription_changed(
    billing: StripeBilling, subscription: dict[str, Any], event: dict[str, Any]
) -> None:
    team_id = await _team_of_customer(billing, subscription.get("customer"))
    deleted = event["type"] == "customer.subscription.deleted"
    price_id = _price_id(subscription.get("items"))
    plan = billing.plans_by_price.get(price_id) if price_id else None
    if price_id and plan is None:
        log.warning("subscription price maps to no plan", extra={"price": price_id, "teamId": team_id})
    await handlers.apply_subscription(
        billing.engine,
        team_id,
        handlers.SubscriptionChange(
            plan=plan,
            status=DELETED_STATUS if deleted else str(subscription.get("status", "")),
            subscription_id=str(subscription.get("id", "")),
            event_created_at=datetime.fromtimestamp(int(event["created"]), UTC),
        ),
    )


async def _invoice_paid(billing: StripeBilling, invoice: dict[str, Any]) -> None:
    if not invoice.get("subscription"):
        return  # one-off payments are top-ups, handled at checkout
    team_id = await _team_of_customer(billing, invoice.get("customer"))
    lines = (invoice.get("lines") or {}).get("data") or []
    if not lines:
        raise InvalidArgument("invalid_invoice", "a subscription invoice without lines")
    plan = billing.plans_by_price.get(_price_id({"data": lines}) or "")
    if plan is not None:
        await handlers.set_plan(billing.engine, team_id, plan)
    period = lines[0]["period"]
    await handlers.start_period(
        billing.engine,
        team_id,
        datetime.fromtimestamp(int(period["start"]), UTC),
        datetime.fromtimestamp(int(period["end"]), UTC),
        f"invoice:{invoice['id']}",
        "monthly allocation (paid invoice)",
    )


async def process_event(billing: StripeBilling, event: dict[str, Any]) -> None:
    obj = event["data"]["object"]
    match event["type"]:
        case "checkout.session.completed":
            await _checkout_completed(billing, obj)
        case (
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
        ):
            await _subscription_changed(billing, obj, event)
        case "invoice.payment_succeeded" | "invoice.paid":
            await _invoice_paid(billing, obj)
        case _:
            log.info("stripe event type not used", extra={"type": event["type"]})


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 2**attempts))


async def process_due_events(
    billing: StripeBilling, now: datetime | None = None, batch_size: int = 20
) -> int:
    """Process pending events in Stripe's creation order; returns how many were handled."""
    now = now or datetime.now(UTC)
    handled = 0
    async with billing.engine.begin() as connection:
        due = (
            await connection.execute(
                select(stripe_event)
                .where(stripe_event.c.status == "pending", stripe_event.c.next_attempt_at <= now)
                .order_by(stripe_event.c.stripe_created_at)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in due:
            values: dict[str, Any]
            try:
                await process_event(billing, row.payload)
                values = {"status": "processed", "processed_at": func.now(), "last_error": None}
                handled += 1
            except (NotReady, NotFound, InvalidArgument, KeyError, TypeError, ValueError) as error:
                attempts = row.attempts + 1
                values = {
                    "attempts": attempts,
                    "last_error": f"{type(error).__name__}: {error}",
                    "next_attempt_at": now + _backoff(attempts),
                    "status": "failed" if attempts >= MAX_ATTEMPTS else "pending",
                }
                log.warning(
                    "stripe event not processed", extra={"eventId": row.id, "error": values["last_error"]}
                )
            await connection.execute(update(stripe_event).where(stripe_event.c.id == row.id).values(**values))
    return handled

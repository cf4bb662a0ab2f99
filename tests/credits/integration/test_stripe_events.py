"""Stripe events on a real Postgres: stored once, processed in any order, money moved once."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from imagegen_credits.adapters.tables import stripe_event as stripe_event_table
from imagegen_credits.domain.model import Plan
from imagegen_credits.service_layer import handlers
from imagegen_credits.service_layer.ledger import check_ledger
from imagegen_credits.service_layer.stripe_events import StripeBilling, process_due_events, record_event
from imagegen_platform.db import create_engine
from sqlalchemy import select

PRICES = {"price_basic": Plan.BASIC, "price_pro": Plan.PRO}


@pytest.fixture
async def billing(infrastructure):
    engine = create_engine(infrastructure.database_url)
    yield StripeBilling(engine, PRICES)
    await engine.dispose()


def stripe_event(event_type: str, obj: dict, created: int) -> tuple[str, str, bytes]:
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {"id": event_id, "type": event_type, "created": created, "data": {"object": obj}}
    return event_id, event_type, json.dumps(body).encode()


async def drain(billing: StripeBilling) -> None:
    """Process until nothing is pending, letting retry back-offs pass."""
    now = datetime.now(UTC)
    for step in range(30):
        await process_due_events(billing, now=now + timedelta(hours=step))


async def assert_ledger_consistent(billing: StripeBilling, team_id: str) -> None:
    assert [m for m in await check_ledger(billing.engine) if m.team_id == team_id] == []


async def test_events_in_reverse_order_and_twice_end_in_the_right_state(billing, team_id):
    await handlers.create_account(billing.engine, team_id, Plan.FREE)
    customer, now = f"cus_{team_id}", int(time.time())
    period = {"start": now, "end": now + 30 * 86400}
    checkout = stripe_event(
        "checkout.session.completed",
        {"id": f"cs_{team_id}", "client_reference_id": team_id, "customer": customer, "mode": "subscription"},
        now,
    )
    created = stripe_event(
        "customer.subscription.created",
        {
            "id": "sub_1",
            "customer": customer,
            "status": "active",
            "items": {"data": [{"price": {"id": "price_basic"}}]},
        },
        now + 1,
    )
    upgraded = stripe_event(
        "customer.subscription.updated",
        {
            "id": "sub_1",
            "customer": customer,
            "status": "active",
            "items": {"data": [{"price": {"id": "price_pro"}}]},
        },
        now + 2,
    )
    paid = stripe_event(
        "invoice.payment_succeeded",
        {
            "id": f"in_{team_id}",
            "customer": customer,
            "subscription": "sub_1",
            "lines": {"data": [{"price": {"id": "price_pro"}, "period": period}]},
        },
        now + 3,
    )
    # Newest first, each delivered twice; only the first copy of each is stored.
    for event in (paid, upgraded, created, checkout):
        assert await record_event(billing.engine, *event) is True
        assert await record_event(billing.engine, *event) is False
        await process_due_events(billing)
        await assert_ledger_consistent(billing, team_id)
    await drain(billing)

    acct = await handlers.get_account(billing.engine, team_id)
    # The older "created" (basic) event must not undo the newer "updated" (pro) one.
    assert (acct.plan, acct.subscription_status) == (Plan.PRO, "active")
    assert (acct.available_hundredths, acct.total_allocated_hundredths) == (2_000_00, 2_000_00)
    assert acct.next_replenishment_at == datetime.fromtimestamp(period["end"], UTC)
    await assert_ledger_consistent(billing, team_id)


async def test_the_next_paid_period_expires_the_unused_allocation_first(billing, team_id):
    await handlers.create_account(billing.engine, team_id, Plan.FREE)
    customer, start = f"cus_{team_id}", int(time.time())
    await handlers.link_stripe_customer(billing.engine, team_id, customer)

    def invoice(number: int, period_start: int) -> tuple[str, str, bytes]:
        return stripe_event(
            "invoice.payment_succeeded",
            {
                "id": f"in_{team_id}_{number}",
                "customer": customer,
                "subscription": "sub_1",
                "lines": {
                    "data": [
                        {
                            "price": {"id": "price_basic"},
                            "period": {"start": period_start, "end": period_start + 30 * 86400},
                        }
                    ]
                },
            },
            period_start,
        )

    await record_event(billing.engine, *invoice(1, start))
    await drain(billing)
    await handlers.reserve(billing.engine, team_id, 100_00, f"{team_id}-job")
    await handlers.grant_bonus(billing.engine, team_id, 50_00, f"{team_id}-topup", "top-up")
    await record_event(billing.engine, *invoice(2, start + 30 * 86400))
    await drain(billing)

    acct = await handlers.get_account(billing.engine, team_id)
    # 400 unused allocation expired, 500 new; the bonus and the reserved 100 are untouched.
    assert (acct.available_hundredths, acct.bonus_hundredths, acct.reserved_hundredths) == (
        550_00,
        50_00,
        100_00,
    )
    assert acct.total_allocated_hundredths == 1_050_00
    await assert_ledger_consistent(billing, team_id)


async def test_an_event_for_an_unknown_customer_is_retried_then_given_up(billing):
    event = stripe_event(
        "customer.subscription.updated",
        {"id": "sub_x", "customer": "cus_nobody", "status": "active", "items": {"data": []}},
        int(time.time()),
    )
    await record_event(billing.engine, *event)
    assert await process_due_events(billing) == 0
    await drain(billing)
    async with billing.engine.connect() as connection:
        row = (
            await connection.execute(select(stripe_event_table).where(stripe_event_table.c.id == event[0]))
        ).one()
    assert (row.status, row.attempts) == ("failed", 12)
    assert "not linked" in row.last_error

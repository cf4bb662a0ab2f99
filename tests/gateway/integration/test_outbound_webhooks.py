"""The outbound webhook store and senders on a real Postgres, posting to a real loopback endpoint:
fan-out once per endpoint, SKIP LOCKED claims, retries with back-off, giving up, redelivery."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from cryptography.fernet import Fernet
from imagegen_gateway.adapters import outbound_webhooks, standard_webhooks
from imagegen_gateway.adapters.tables import team, webhook_delivery, webhook_endpoint
from imagegen_gateway.adapters.webhook_sender import AttemptResult, EndpointTargets, WebhookSender
from imagegen_gateway.entrypoints import webhook_delivery as delivery_process
from imagegen_platform import db
from sqlalchemy import delete, insert, select

LEASE = timedelta(seconds=30)
CIPHER = standard_webhooks.SecretCipher(Fernet.generate_key().decode())
LOOPBACK = EndpointTargets(allow_http=True, allowed_networks=["127.0.0.0/8"])


@pytest.fixture
async def engine(infrastructure):
    engine = db.create_engine(infrastructure.database_url)
    # Senders claim any team's due deliveries: start each test with none.
    async with engine.begin() as connection:
        await connection.execute(delete(webhook_endpoint))
    yield engine
    await engine.dispose()


@pytest.fixture
async def team_id(engine) -> str:
    team_id = f"team-{uuid.uuid4().hex[:12]}"
    async with engine.begin() as connection:
        await connection.execute(insert(team).values(id=team_id, name="webhooks"))
    return team_id


async def new_endpoint(engine, team_id: str, url: str, events: list[str], secret: str | None = None):
    return await outbound_webhooks.create_endpoint(
        engine, team_id, url, events, "", CIPHER.encrypt(secret or standard_webhooks.new_secret())
    )


@pytest.fixture
def process(engine):
    """The sending half of `deliver-webhooks`, with retries after half a second (long enough that a
    busy machine checks "not due yet" well within it)."""
    delivery = delivery_process.WebhookDelivery(
        engine=engine,
        services=None,
        sender=WebhookSender(LOOPBACK, timeout_seconds=2.0),
        cipher=CIPHER,
        retry_schedule=[0.5, 0.5],
        lease=LEASE,
        poll_seconds=0.05,
        wakeup=asyncio.Event(),
    )
    yield delivery


async def send_due(process) -> list[str | None]:
    """What one pass of the senders does: claim every due delivery and attempt it."""
    claimed = await outbound_webhooks.claim_due(process.engine, 100, process.lease)
    return [await delivery_process.send(process, one) for one in claimed]


async def statuses(engine) -> dict[str, str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(webhook_delivery.c.id, webhook_delivery.c.status))
        return dict(rows.all())


def signed_by(secret: str, request) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    )
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return expected in request.headers["webhook-signature"].split(" ")


# --- fan-out -----------------------------------------------------------------------------------


async def test_an_event_makes_one_delivery_per_subscribed_endpoint_even_when_consumed_twice(engine, team_id):
    first = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed", "job.failed"])
    second = await new_endpoint(engine, team_id, "https://8.8.8.8/b", ["job.completed"])
    await new_endpoint(engine, team_id, "https://8.8.8.8/c", ["credits.low"])
    paused = await new_endpoint(engine, team_id, "https://8.8.8.8/d", ["job.completed"])
    await outbound_webhooks.update_endpoint(engine, team_id, paused.id, {"enabled": False})
    async with engine.begin() as connection:
        await connection.execute(insert(team).values(id=f"{team_id}-other", name="other"))
    await new_endpoint(engine, f"{team_id}-other", "https://8.8.8.8/e", ["job.completed"])

    # What the consumer asks once per batch of events: the paused endpoint takes nothing.
    assert await outbound_webhooks.subscriptions(engine, [team_id, f"{team_id}-other", "team-none"]) == {
        team_id: {"job.completed", "job.failed", "credits.low"},
        f"{team_id}-other": {"job.completed"},
    }
    assert await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", '{"n":1}') == 2
    # JetStream redelivered the message: nothing new.
    assert await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", '{"n":1}') == 0
    assert await outbound_webhooks.fan_out(engine, team_id, "evt_2", "model.ready", "{}") == 0

    assert set(await statuses(engine)) == {
        outbound_webhooks.delivery_id(first.id, "evt_1"),
        outbound_webhooks.delivery_id(second.id, "evt_1"),
    }
    [delivery] = await outbound_webhooks.list_deliveries(engine, team_id, first.id, [], 10)
    assert (delivery.event_id, delivery.event_type, delivery.status) == ("evt_1", "job.completed", "pending")
    assert delivery.attempts == []


# --- claiming ----------------------------------------------------------------------------------


async def test_two_senders_claiming_at_once_never_take_the_same_delivery(engine, team_id):
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"])
    for n in range(40):
        await outbound_webhooks.fan_out(engine, team_id, f"evt_{n}", "job.completed", "{}")

    async def sender() -> list[str]:
        taken = []
        while claimed := await outbound_webhooks.claim_due(engine, 3, LEASE):
            taken += [one.id for one in claimed]
        return taken

    first, second = await asyncio.gather(sender(), sender())
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(
        outbound_webhooks.delivery_id(endpoint.id, f"evt_{n}") for n in range(40)
    )
    # Claimed deliveries are leased, not due.
    assert await outbound_webhooks.claim_due(engine, 100, LEASE) == []


async def test_a_sender_skips_deliveries_another_is_claiming_instead_of_waiting(engine, team_id):
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"])
    for n in range(2):
        await outbound_webhooks.fan_out(engine, team_id, f"evt_{n}", "job.completed", "{}")
    locked = outbound_webhooks.delivery_id(endpoint.id, "evt_0")
    async with engine.begin() as other_sender:
        await other_sender.execute(
            select(webhook_delivery.c.id).where(webhook_delivery.c.id == locked).with_for_update()
        )
        claimed = await asyncio.wait_for(outbound_webhooks.claim_due(engine, 10, LEASE), timeout=5)
    assert [one.id for one in claimed] == [outbound_webhooks.delivery_id(endpoint.id, "evt_1")]


async def test_a_paused_endpoint_keeps_its_deliveries_until_it_is_enabled_again(engine, team_id):
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"])
    await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", "{}")
    await outbound_webhooks.update_endpoint(engine, team_id, endpoint.id, {"enabled": False})
    assert await outbound_webhooks.claim_due(engine, 10, LEASE) == []
    await outbound_webhooks.update_endpoint(engine, team_id, endpoint.id, {"enabled": True})
    assert len(await outbound_webhooks.claim_due(engine, 10, LEASE)) == 1


# --- sending, retrying, giving up --------------------------------------------------------------


async def test_a_failed_delivery_is_retried_after_its_delay_then_succeeds(
    engine, team_id, process, webhook_receiver
):
    path = webhook_receiver.new_path()
    secret = standard_webhooks.new_secret()
    endpoint = await new_endpoint(
        engine, team_id, webhook_receiver.base_url + path, ["job.completed"], secret
    )
    webhook_receiver.fail_next(path, 500)
    body = json.dumps({"type": "job.completed", "timestamp": "2026-11-24T00:00:00Z", "data": {"id": "job-1"}})
    await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", body)

    assert await send_due(process) == ["pending"]
    # Not due again before its delay (500 ms +-20%).
    assert await outbound_webhooks.claim_due(engine, 10, LEASE) == []
    await asyncio.sleep(0.6)
    assert await send_due(process) == ["succeeded"]

    first, second = webhook_receiver.at(path)
    assert (first.answered, second.answered) == (500, 204)
    delivery_id = outbound_webhooks.delivery_id(endpoint.id, "evt_1")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
    assert first.body == second.body == body.encode()
    assert first.headers["content-type"] == "application/json"
    assert signed_by(secret, first) and signed_by(secret, second)

    [delivery] = await outbound_webhooks.list_deliveries(engine, team_id, endpoint.id, [], 10)
    assert delivery.status == "succeeded" and delivery.next_attempt_at is None
    assert [attempt.status_code for attempt in delivery.attempts] == [500, 204]
    assert all(attempt.duration_ms >= 0 and attempt.error is None for attempt in delivery.attempts)


async def test_a_delivery_is_failed_once_its_retries_are_spent_and_redelivery_queues_it_again(
    engine, team_id, process, webhook_receiver
):
    path = webhook_receiver.new_path()
    endpoint = await new_endpoint(engine, team_id, webhook_receiver.base_url + path, ["credits.low"])
    webhook_receiver.fail_next(path, 503, 503, 503, 503)
    await outbound_webhooks.fan_out(engine, team_id, "evt_1", "credits.low", "{}")

    outcomes = []
    while len(outcomes) < 3:
        outcomes += await send_due(process)
        await asyncio.sleep(0.03)
    assert outcomes == ["pending", "pending", "failed"]
    await asyncio.sleep(0.7)
    assert await outbound_webhooks.claim_due(engine, 10, LEASE) == []
    [failed] = await outbound_webhooks.list_deliveries(engine, team_id, endpoint.id, ["failed"], 10)
    assert [attempt.status_code for attempt in failed.attempts] == [503, 503, 503]

    again = await outbound_webhooks.redeliver(engine, team_id, endpoint.id, failed.id)
    assert again is not None and (again.id, again.status) == (failed.id, "pending")
    [claimed] = await outbound_webhooks.claim_due(engine, 10, LEASE)
    assert (claimed.id, claimed.attempt) == (failed.id, 1), "a fresh retry schedule"
    assert await delivery_process.send(process, claimed) == "pending"
    assert {request.headers["webhook-id"] for request in webhook_receiver.at(path)} == {failed.id}
    assert await outbound_webhooks.redeliver(engine, f"{team_id}-x", endpoint.id, failed.id) is None


async def test_an_attempt_that_lost_its_claim_is_logged_but_changes_nothing(engine, team_id):
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"])
    await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", "{}")
    [claimed] = await outbound_webhooks.claim_due(engine, 10, LEASE)
    await outbound_webhooks.redeliver(engine, team_id, endpoint.id, claimed.id)

    failed = AttemptResult(status_code=500, error=None, duration_ms=3, response_snippet="oops")
    assert await outbound_webhooks.record_attempt(engine, claimed, failed, [60.0]) is None
    [delivery] = await outbound_webhooks.list_deliveries(engine, team_id, endpoint.id, [], 10)
    assert delivery.status == "pending" and [a.response_snippet for a in delivery.attempts] == ["oops"]
    # The redelivery's claim is due now, not after the lost attempt's 60 s back-off.
    assert len(await outbound_webhooks.claim_due(engine, 10, LEASE)) == 1


async def test_a_deleted_endpoint_takes_its_deliveries_with_it(engine, team_id):
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"])
    await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", "{}")
    [claimed] = await outbound_webhooks.claim_due(engine, 10, LEASE)
    assert not await outbound_webhooks.delete_endpoint(engine, f"{team_id}-x", endpoint.id)
    assert await outbound_webhooks.delete_endpoint(engine, team_id, endpoint.id)
    ok = AttemptResult(status_code=204, error=None, duration_ms=1, response_snippet="")
    assert await outbound_webhooks.record_attempt(engine, claimed, ok, [1.0]) is None
    assert await statuses(engine) == {}


async def test_after_a_rotation_both_secrets_sign_for_the_grace_period(engine, team_id):
    old, new = standard_webhooks.new_secret(), standard_webhooks.new_secret()
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"], old)
    await outbound_webhooks.rotate_secret(
        engine, team_id, endpoint.id, CIPHER.encrypt(new), timedelta(hours=1)
    )
    await outbound_webhooks.fan_out(engine, team_id, "evt_1", "job.completed", "{}")
    [claimed] = await outbound_webhooks.claim_due(engine, 10, LEASE)
    assert [CIPHER.decrypt(token) for token in claimed.secret_ciphertexts] == [new, old]

    await outbound_webhooks.rotate_secret(engine, team_id, endpoint.id, CIPHER.encrypt(old), timedelta(0))
    await outbound_webhooks.fan_out(engine, team_id, "evt_2", "job.completed", "{}")
    [claimed] = await outbound_webhooks.claim_due(engine, 10, LEASE)
    assert [CIPHER.decrypt(token) for token in claimed.secret_ciphertexts] == [old]


async def test_deliveries_are_listed_newest_first_by_status_and_page(engine, team_id):
    endpoint = await new_endpoint(engine, team_id, "https://8.8.8.8/a", ["job.completed"])
    for n in range(3):
        await outbound_webhooks.fan_out(engine, team_id, f"evt_{n}", "job.completed", "{}")
    page = await outbound_webhooks.list_deliveries(engine, team_id, endpoint.id, [], 2)
    assert [d.event_id for d in page] == ["evt_2", "evt_1"]
    rest = await outbound_webhooks.list_deliveries(
        engine, team_id, endpoint.id, [], 2, (page[-1].created_at, page[-1].id)
    )
    assert [d.event_id for d in rest] == ["evt_0"]
    assert await outbound_webhooks.list_deliveries(engine, team_id, endpoint.id, ["succeeded"], 10) == []
    assert await outbound_webhooks.list_deliveries(engine, f"{team_id}-x", endpoint.id, [], 10) == []


# --- the sender against misbehaving endpoints --------------------------------------------------


class SlowOrOdd(BaseHTTPRequestHandler):
    """`/slow` never answers within the sender's time limit, `/redirect` points elsewhere, and
    anything else answers 200 with 5000 bytes."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/slow":
            time.sleep(2)
            return
        if self.path == "/redirect":
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = b"x" * 5000
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def odd_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowOrOdd)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_timeouts_refused_connections_redirects_and_private_addresses_are_failed_attempts(odd_server):
    sender = WebhookSender(LOOPBACK, timeout_seconds=0.5)
    try:
        slow = await sender.post(f"{odd_server}/slow", {}, b"{}")
        refused = await sender.post("http://127.0.0.1:1/hook", {}, b"{}")
        redirected = await sender.post(f"{odd_server}/redirect", {}, b"{}")
        private = await sender.post("http://10.0.0.7/hook", {}, b"{}")
        large = await sender.post(f"{odd_server}/ok", {}, b"{}")
    finally:
        await sender.close()
    assert slow.status_code is None and "0.5 seconds" in slow.error and 400 <= slow.duration_ms < 1500
    assert refused.status_code is None and "ConnectError" in refused.error
    assert redirected.status_code == 307 and not redirected.succeeded
    assert private.status_code is None and "not public" in private.error
    assert large.succeeded and large.response_snippet == "x" * 1024

"""Outbound webhooks without I/O: Standard Webhooks signatures, secrets at rest, the retry
schedule, which events a NATS event makes and their bodies, and which URLs are refused."""

import asyncio
import base64
import hashlib
import hmac
import json
import random
import typing
from datetime import UTC, datetime
from types import SimpleNamespace

import grpc
import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.credits.v1 import events_pb2 as credits_events_pb2
from imagegen.generation.v1 import events_pb2, generation_pb2, generation_service_pb2
from imagegen.models.v1 import models_pb2, models_service_pb2
from imagegen.storage.v1 import storage_pb2, storage_service_pb2
from imagegen_gateway import schemas, webhook_events
from imagegen_gateway.adapters import api_keys, outbound_webhooks, standard_webhooks
from imagegen_gateway.adapters.webhook_sender import EndpointTargets, InvalidEndpointUrl
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.entrypoints import webhook_delivery

SETTINGS = GatewaySettings(
    database_url="postgresql+asyncpg://unused/unused",
    models_addr="unused:1",
    generation_addr="unused:1",
    credits_addr="unused:1",
    storage_addr="unused:1",
    webhook_secrets_key=Fernet.generate_key().decode(),
)


def hmac_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The signature as the Standard Webhooks spec defines it, computed here independently."""
    key = base64.b64decode(secret.split("_", 1)[1])
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# --- signing -----------------------------------------------------------------------------------


def test_the_signature_matches_the_standard_webhooks_documented_example():
    # The example of the Standard Webhooks / Svix verification docs.
    signature = standard_webhooks.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes_and_signs_like_the_spec():
    secret = standard_webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert standard_webhooks.new_secret() != secret
    body = b'{"type":"job.completed"}'
    assert standard_webhooks.sign(secret, "msg_1", 1700000000, body) == hmac_signature(
        secret, "msg_1", 1700000000, body
    )


def test_headers_carry_the_id_the_timestamp_and_one_signature_per_secret():
    new, old = standard_webhooks.new_secret(), standard_webhooks.new_secret()
    body = b"{}"
    headers = standard_webhooks.headers("msg_abc", 1700000123, body, [new, old])
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == "1700000123"
    assert headers["webhook-signature"].split(" ") == [
        hmac_signature(new, "msg_abc", 1700000123, body),
        hmac_signature(old, "msg_abc", 1700000123, body),
    ]


def test_secrets_are_stored_encrypted_and_only_our_key_reads_them():
    cipher = standard_webhooks.SecretCipher(Fernet.generate_key().decode())
    secret = standard_webhooks.new_secret()
    stored = cipher.encrypt(secret)
    assert secret not in stored and secret.removeprefix("whsec_") not in stored
    assert cipher.decrypt(stored) == secret
    with pytest.raises(InvalidToken):
        standard_webhooks.SecretCipher(Fernet.generate_key().decode()).decrypt(stored)


# --- retries -----------------------------------------------------------------------------------


def test_the_default_schedule_backs_off_from_seconds_to_hours_then_gives_up():
    schedule = SETTINGS.webhook_retry_schedule_seconds
    assert schedule[:6] == [5, 30, 120, 600, 1800, 3600]
    assert schedule == sorted(schedule)
    assert outbound_webhooks.retry_delay(len(schedule) + 1, schedule) is None


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_each_retry_waits_its_delay_with_twenty_percent_jitter(attempt):
    schedule = [5, 30, 120]
    rng = random.Random(attempt)
    delays = [outbound_webhooks.retry_delay(attempt, schedule, rng) for _ in range(200)]
    base = schedule[attempt - 1]
    assert all(0.8 * base <= delay <= 1.2 * base for delay in delays)
    assert len(set(delays)) > 100, "deliveries failing together do not retry together"


def test_delivery_and_event_ids_are_stable_and_distinct():
    event = webhook_events.event_id("outbox-row-1", "job.completed")
    assert event == webhook_events.event_id("outbox-row-1", "job.completed")
    assert event != webhook_events.event_id("outbox-row-1", "model.ready")
    assert event.startswith("evt_")
    delivery = outbound_webhooks.delivery_id("endpoint-1", event)
    assert delivery == outbound_webhooks.delivery_id("endpoint-1", event)
    assert delivery != outbound_webhooks.delivery_id("endpoint-2", event)
    assert delivery.startswith("msg_")


def test_the_public_event_names_and_the_stored_ones_agree():
    assert typing.get_args(schemas.WebhookEventType) == outbound_webhooks.EVENT_TYPES
    made = {*webhook_events.JOB_EVENT_TYPES.values(), webhook_events.MODEL_READY, webhook_events.CREDITS_LOW}
    assert made == set(outbound_webhooks.EVENT_TYPES)


# --- events and bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (generation_pb2.JOB_STATUS_COMPLETED, "job.completed"),
        (generation_pb2.JOB_STATUS_FAILED, "job.failed"),
        (generation_pb2.JOB_STATUS_CANCELLED, "job.cancelled"),
        (generation_pb2.JOB_STATUS_RUNNING, None),
    ],
)
def test_every_job_type_finishing_makes_its_job_event(status, expected):
    for job_type in (generation_pb2.JOB_TYPE_IMAGE_GENERATION, generation_pb2.JOB_TYPE_MODEL_CREATION):
        event = events_pb2.JobFinished(job_id="job-1", status=status, type=job_type)
        assert webhook_events.job_event_type(event) == expected


def training(status: int, job_type: int = generation_pb2.JOB_TYPE_MODEL_REFINEMENT) -> events_pb2.JobFinished:
    return events_pb2.JobFinished(
        job_id="job-7",
        team_id="team-1",
        status=status,
        type=job_type,
        model_training=generation_pb2.ModelTrainingInput(custom_model_id=12, model_version=3),
    )


def test_only_a_completed_training_makes_model_ready_naming_the_model_version():
    assert webhook_events.makes_model_ready(training(generation_pb2.JOB_STATUS_COMPLETED))
    assert webhook_events.makes_model_ready(
        training(generation_pb2.JOB_STATUS_COMPLETED, generation_pb2.JOB_TYPE_MODEL_CREATION)
    )
    assert not webhook_events.makes_model_ready(training(generation_pb2.JOB_STATUS_FAILED))
    assert not webhook_events.makes_model_ready(
        events_pb2.JobFinished(
            status=generation_pb2.JOB_STATUS_COMPLETED, type=generation_pb2.JOB_TYPE_IMAGE_GENERATION
        )
    )
    assert webhook_events.model_ready_data(training(generation_pb2.JOB_STATUS_COMPLETED)) == {
        "customModelId": 12,
        "modelVersion": 3,
        "jobId": "job-7",
    }


def test_credits_low_shows_credits_as_decimals():
    event = credits_events_pb2.LowBalanceCrossed(
        team_id="t", available_hundredths=9950, threshold_hundredths=10000
    )
    assert webhook_events.credits_low_data(event) == {"availableCredits": 99.5, "threshold": 100.0}


def test_a_body_is_type_rfc3339_timestamp_and_data():
    occurred_at = datetime(2026, 11, 24, 10, 30, 5, 250000, tzinfo=UTC)
    body = json.loads(webhook_events.body("credits.low", occurred_at, {"threshold": 100.0}))
    assert body == {
        "type": "credits.low",
        "timestamp": "2026-11-24T10:30:05.250000Z",
        "data": {"threshold": 100.0},
    }
    assert datetime.fromisoformat(body["timestamp"]) == occurred_at


class FakeGeneration:
    def __init__(self, job: generation_pb2.Job) -> None:
        self.job = job

    async def GetJob(
        self, request: generation_service_pb2.GetJobRequest
    ) -> generation_service_pb2.GetJobResponse:
        assert (request.team_id, request.job_id) == ("team-1", self.job.id)
        return generation_service_pb2.GetJobResponse(job=self.job)


class FakeStorage:
    async def SignFileUrls(self, request):
        expires = Timestamp(seconds=1_900_000_000)
        return storage_service_pb2.SignFileUrlsResponse(
            signed_urls=[
                storage_pb2.SignedUrl(
                    file_id=file_id,
                    url=f"https://bucket.example/{file_id}?sig=1",
                    expires_at=expires,
                    state=storage_pb2.FILE_STATE_STORED,
                )
                for file_id in request.file_ids
            ]
        )


def completed_job() -> generation_pb2.Job:
    stamp = Timestamp(seconds=1_800_000_000)
    return generation_pb2.Job(
        id="job-1",
        team_id="team-1",
        type=generation_pb2.JOB_TYPE_IMAGE_GENERATION,
        status=generation_pb2.JOB_STATUS_COMPLETED,
        image_generation=generation_pb2.ImageGenerationInput(
            reference_model_id=1, prompt="a red dress", resolution="1024x1024", quality="hd", num_images=1
        ),
        estimated_credits_hundredths=2700,
        charged_credits_hundredths=2700,
        images=[generation_pb2.JobImage(file_id="file-1", width=1024, height=1024, content_type="image/png")],
        created_at=stamp,
        started_at=stamp,
        finished_at=stamp,
    )


@pytest.fixture
def fanned_out(monkeypatch) -> list[tuple[str, dict]]:
    """(event type, body) of every fan-out."""
    bodies: list[tuple[str, dict]] = []

    async def fan_out(engine, team_id, event_id, event_type, payload):
        bodies.append((event_type, json.loads(payload)))
        return 1

    monkeypatch.setattr(outbound_webhooks, "fan_out", fan_out)
    return bodies


# The team's endpoints subscribe to every event.
EVERYTHING = outbound_webhooks.EVENT_TYPES


def process(services: SimpleNamespace) -> webhook_delivery.WebhookDelivery:
    """The event half of deliver-webhooks, with fake peers and no database (fan-out is faked)."""
    return webhook_delivery.WebhookDelivery(
        engine=None,
        services=services,
        sender=None,
        cipher=None,
        retry_schedule=[1.0],
        lease=None,
        poll_seconds=1.0,
        wakeup=asyncio.Event(),
    )


OCCURRED_AT = datetime(2026, 11, 24, tzinfo=UTC)


async def test_a_job_event_carries_the_job_exactly_as_get_jobs_answers_it(api_key_callers, fanned_out):
    job = completed_job()
    services = SimpleNamespace(generation=FakeGeneration(job), storage=FakeStorage())

    api_key_callers["k"] = api_keys.Caller("key-1", "team-1", frozenset({"read"}))
    app = create_app(SETTINGS)
    app.state.engine, app.state.services = None, services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        answered = await http.get("/api/jobs/job-1", headers={"Authorization": "Bearer k"})
    assert answered.status_code == 200, answered.text

    delivery = process(services)
    event = events_pb2.JobFinished(
        job_id="job-1", team_id="team-1", status=generation_pb2.JOB_STATUS_COMPLETED, type=job.type
    )
    await webhook_delivery.job_finished(delivery, event, "outbox-1", OCCURRED_AT, EVERYTHING)

    [(event_type, body)] = fanned_out
    assert event_type == "job.completed"
    assert (body["type"], body["timestamp"]) == ("job.completed", "2026-11-24T00:00:00Z")
    assert body["data"] == answered.json()
    assert delivery.wakeup.is_set()


class FakeModels:
    def __init__(self, status: int | None) -> None:
        self.status = status

    async def GetCustomModel(self, request: models_service_pb2.GetCustomModelRequest):
        assert (request.team_id, request.custom_model_id) == ("team-1", 12)
        if self.status is None:
            raise FakeNotFound()
        versions = [models_pb2.ModelVersion(version=3, status=self.status)]
        return models_service_pb2.GetCustomModelResponse(
            custom_model=models_pb2.CustomModel(versions=versions)
        )


class FakeNotFound(grpc.aio.AioRpcError):
    def __init__(self) -> None:
        super().__init__(grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), grpc.aio.Metadata(), "gone")


def finished_training() -> events_pb2.JobFinished:
    event = training(generation_pb2.JOB_STATUS_COMPLETED)
    event.job_id = "job-1"
    return event


async def test_model_ready_is_posted_once_models_made_the_version_ready(fanned_out):
    job = completed_job()
    job.type = generation_pb2.JOB_TYPE_MODEL_REFINEMENT
    del job.images[:]
    models = FakeModels(models_pb2.MODEL_VERSION_STATUS_TRAINING)
    delivery = process(SimpleNamespace(generation=FakeGeneration(job), storage=FakeStorage(), models=models))

    # models consumes the same event: until it has, the message comes back later.
    with pytest.raises(webhook_delivery.ModelNotReadyYet):
        await webhook_delivery.job_finished(
            delivery, finished_training(), "outbox-1", OCCURRED_AT, EVERYTHING
        )
    models.status = models_pb2.MODEL_VERSION_STATUS_READY
    fanned_out.clear()
    await webhook_delivery.job_finished(delivery, finished_training(), "outbox-1", OCCURRED_AT, EVERYTHING)
    assert [event_type for event_type, _ in fanned_out] == ["job.completed", "model.ready"]
    assert fanned_out[1][1]["data"] == {"customModelId": 12, "modelVersion": 3, "jobId": "job-1"}


@pytest.mark.parametrize("status", [models_pb2.MODEL_VERSION_STATUS_FAILED, None])
async def test_no_model_ready_for_a_version_that_never_became_ready_or_a_deleted_model(fanned_out, status):
    job = completed_job()
    job.type = generation_pb2.JOB_TYPE_MODEL_CREATION
    del job.images[:]
    services = SimpleNamespace(
        generation=FakeGeneration(job), storage=FakeStorage(), models=FakeModels(status)
    )
    await webhook_delivery.job_finished(
        process(services), finished_training(), "outbox-1", OCCURRED_AT, EVERYTHING
    )
    assert [event_type for event_type, _ in fanned_out] == ["job.completed"]


def image_job_finished(job_id: str, team_id: str) -> events_pb2.JobFinished:
    return events_pb2.JobFinished(
        job_id=job_id,
        team_id=team_id,
        status=generation_pb2.JOB_STATUS_COMPLETED,
        type=generation_pb2.JOB_TYPE_IMAGE_GENERATION,
    )


class FakeMsg:
    """A JetStream message as a batch hands it over: its body, headers and acknowledgement."""

    def __init__(self, event: events_pb2.JobFinished, sequence: int) -> None:
        self.subject = "generation.v1.job.finished"
        self.data = event.SerializeToString()
        self.headers = {"Nats-Msg-Id": f"outbox-{sequence}"}
        self.metadata = SimpleNamespace(timestamp=OCCURRED_AT)
        self.outcome: str | None = None

    async def ack(self) -> None:
        self.outcome = "ack"

    async def nak(self, delay: float | None = None) -> None:
        self.outcome = f"nak {delay}"


async def test_a_batch_builds_only_the_events_a_team_takes_and_acks_each_message_once_done(
    monkeypatch, fanned_out
):
    queried: list[set[str]] = []

    async def subscriptions(engine, team_ids):
        queried.append(set(team_ids))
        return {"team-1": {"job.completed", "model.ready"}, "team-2": {"job.failed"}}

    monkeypatch.setattr(outbound_webhooks, "subscriptions", subscriptions)
    job = completed_job()
    job.type = generation_pb2.JOB_TYPE_MODEL_CREATION
    del job.images[:]
    models = FakeModels(models_pb2.MODEL_VERSION_STATUS_TRAINING)
    delivery = process(SimpleNamespace(generation=FakeGeneration(job), storage=FakeStorage(), models=models))
    messages = [
        # team-1 takes job.completed: built, though model.ready must wait for models.
        FakeMsg(finished_training(), 1),
        # team-2 takes job.failed only; team-3 takes nothing.
        FakeMsg(image_job_finished("job-3", "team-2"), 2),
        FakeMsg(image_job_finished("job-4", "team-3"), 3),
    ]
    await webhook_delivery.jobs_finished(delivery, messages)

    assert queried == [{"team-1", "team-2", "team-3"}]
    assert [event_type for event_type, _ in fanned_out] == ["job.completed"]
    assert [msg.outcome for msg in messages] == [f"nak {webhook_delivery.RETRY_EVENT_SECONDS}", "ack", "ack"]


async def test_a_batch_whose_subscriptions_cannot_be_read_comes_back_whole(monkeypatch, fanned_out):
    async def subscriptions(engine, team_ids):
        raise OSError("Postgres is down")

    monkeypatch.setattr(outbound_webhooks, "subscriptions", subscriptions)
    messages = [FakeMsg(finished_training(), n) for n in range(2)]
    await webhook_delivery.jobs_finished(process(SimpleNamespace()), messages)
    assert [msg.outcome for msg in messages] == [f"nak {webhook_delivery.RETRY_EVENT_SECONDS}"] * 2
    assert fanned_out == []


# --- where webhooks may go ---------------------------------------------------------------------


PRODUCTION = EndpointTargets(allow_http=False, allowed_networks=[])


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.1/hook",
        "https://172.16.5.5/hook",
        "https://100.64.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_endpoints_on_loopback_private_or_metadata_addresses_are_refused(url):
    with pytest.raises(InvalidEndpointUrl, match="not public"):
        await PRODUCTION.check(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://8.8.8.8/hook", "https://"),
        ("ftp://8.8.8.8/hook", "https://"),
        ("https://user:pass@8.8.8.8/hook", "user name or password"),
        ("https:///hook", "no host"),
        ("not a url", "https://"),
    ],
)
async def test_endpoints_must_be_https_urls_without_credentials(url, reason):
    with pytest.raises(InvalidEndpointUrl, match=reason):
        await PRODUCTION.check(url)


async def test_a_public_https_endpoint_is_accepted_and_a_local_stack_may_allow_http_on_loopback():
    await PRODUCTION.check("https://8.8.8.8/hooks/imagegen")
    local = EndpointTargets(allow_http=True, allowed_networks=["127.0.0.0/8"])
    await local.check("http://127.0.0.1:8000/hook")
    with pytest.raises(InvalidEndpointUrl):
        await local.check("http://10.0.0.7/hook")


# --- the API without a database ----------------------------------------------------------------


@pytest.fixture
def admin(api_key_callers):
    api_key_callers["admin"] = api_keys.Caller("key-1", "team-1", frozenset(api_keys.SCOPES))


def client(settings: GatewaySettings) -> httpx.AsyncClient:
    app = create_app(settings)
    app.state.engine, app.state.settings = None, settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"Authorization": "Bearer admin"},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://8.8.8.8/hook", "events": ["job.completed"]}, "url"),
        ({"url": "https://169.254.169.254/", "events": ["job.completed"]}, "url"),
        ({"url": "https://8.8.8.8/hook", "events": ["job.started"]}, "events.0"),
        ({"url": "https://8.8.8.8/hook", "events": []}, "events"),
    ],
)
async def test_registering_a_refused_url_or_unknown_event_is_a_400_naming_the_field(admin, body, field):
    async with client(SETTINGS) as http:
        response = await http.post("/api/webhook-endpoints", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and field in error["details"], error


async def test_without_a_secrets_key_webhook_endpoints_answer_503(admin):
    unconfigured = SETTINGS.model_copy(update={"webhook_secrets_key": None})
    async with client(unconfigured) as http:
        response = await http.post(
            "/api/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["job.completed"]}
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhooks_unavailable"

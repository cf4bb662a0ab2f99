"""One job through the whole stack as processes: its metrics on every /metrics endpoint, and its
spans from every process, exported by OTLP to the in-memory collector, in one trace."""

import asyncio
import os
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

GENERATE = {
    "referenceModelId": 1,
    "prompt": "a red dress, observed",
    "resolution": "1024x1024",
    "quality": "hd",
    "numImages": 1,
}


@pytest.fixture(scope="module")
def team(stack) -> dict[str, str]:
    return stack.create_team("e2e-observability", "pro")


async def samples(http: httpx.AsyncClient, url: str) -> dict[tuple[str, frozenset], float]:
    response = await http.get(url)
    assert response.status_code == 200, url
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in found.items() if n == name and wanted <= have)


async def eventually(check, within: float = 20.0):
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


async def run_job(stack, team, headers: dict[str, str] | None = None) -> str:
    async with httpx.AsyncClient(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {team['apiKey']}"},
        timeout=30,
    ) as api:
        created = await api.post("/api/generate", json=GENERATE, headers=headers)
        assert created.status_code == 202, created.text
        job_id = created.json()["job"]["id"]

        async def finished():
            job = (await api.get(f"/api/generate/{job_id}")).json()
            assert job["status"] == "completed", job
            balance = (await api.get("/api/credits/balance")).json()
            assert balance["reservedCredits"] == 0, balance

        await eventually(finished, within=60)
        return job_id


async def test_a_job_shows_on_every_processes_metrics(stack, team):
    await run_job(stack, team)
    urls = stack.metrics_urls()
    async with httpx.AsyncClient(timeout=10) as http:

        async def all_counted():
            found = {name: await samples(http, url) for name, url in urls.items()}
            gateway, worker = found["gateway"], found["generation-worker"]
            assert value(gateway, "imagegen_http_requests_total", route="/api/generate", status="202") >= 1
            assert value(gateway, "imagegen_http_request_duration_seconds_count", route="/api/generate") >= 1
            assert (
                value(gateway, "imagegen_webhook_deliveries_total", provider="fal", outcome="accepted") >= 1
            )
            assert value(gateway, "imagegen_grpc_client_handled_total", code="OK") >= 1
            for service in ("models", "generation", "credits", "storage"):
                assert value(found[service], "imagegen_grpc_server_handled_total", code="OK") >= 1, service
            assert (
                value(
                    found["generation"],
                    "imagegen_grpc_server_handled_total",
                    method="/imagegen.generation.v1.GenerationService/CreateImageGenerationJob",
                    code="OK",
                )
                >= 1
            )
            assert value(worker, "imagegen_provider_calls_total", operation="submit", outcome="ok") >= 1
            assert value(worker, "imagegen_provider_call_duration_seconds_count", operation="submit") >= 1
            assert value(worker, "imagegen_jobs", status="completed") >= 1
            assert ("imagegen_queue_pending_messages", frozenset()) in worker
            assert ("imagegen_queue_oldest_job_age_seconds", frozenset()) in worker
            assert value(found["generation"], "imagegen_outbox_published_total") >= 1
            assert value(found["credits"], "imagegen_credits_moved_total", kind="reserved") >= 27
            assert value(found["credits"], "imagegen_credits_moved_total", kind="captured") >= 27
            credits = found["credits"]
            assert value(credits, "imagegen_events_consumed_total", consumer="credits-settlement") >= 1
            assert value(credits, "imagegen_event_batch_duration_seconds_count") >= 1

        await eventually(all_counted)


async def test_a_jobs_spans_from_every_process_form_one_trace(stack, team, trace_collector):
    trace_id = os.urandom(16).hex()
    await run_job(stack, team, {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"})

    async def whole_trace():
        spans = trace_collector.trace(trace_id)
        names = {(span.service, span.name) for span in spans}
        expected = {
            ("imagegen-gateway", "POST /api/generate"),
            ("imagegen-generation", "imagegen.generation.v1.GenerationService/CreateImageGenerationJob"),
            ("imagegen-credits", "imagegen.credits.v1.CreditsService/ReserveCredits"),
            ("imagegen-generation-worker", "provider submit"),
            # fal's webhook, back at the gateway, continues the job's trace.
            ("imagegen-gateway", "POST /api/webhooks/fal"),
            ("imagegen-generation", "imagegen.generation.v1.GenerationService/RecordProviderDelivery"),
            ("imagegen-storage", "imagegen.storage.v1.StorageService/ImportFile"),
        }
        assert expected <= names, sorted(names)
        services = {span.service for span in spans}
        # JobQueued consumed by the worker, JobFinished consumed by credits' settlement.
        assert {"imagegen-generation-worker", "imagegen-credits"} <= services
        consumed = {span.service for span in spans if span.name.endswith(" process")}
        assert {"imagegen-generation-worker", "imagegen-credits"} <= consumed, sorted(names)
        # Linked, not merely sharing an id: every span's parent is in the trace, bar the caller's.
        ids = {span.span_id for span in spans}
        orphans = [span for span in spans if span.parent_span_id not in ids]
        assert [span.name for span in orphans] == ["POST /api/generate"], orphans

    await eventually(whole_trace, within=30)

"""OpenTelemetry tracing: one tracer provider per process, W3C trace context across every hop.

Spans are recorded and exported only when OTEL_EXPORTER_OTLP_ENDPOINT is set, by OTLP over HTTP
(sampled as OTEL_TRACES_SAMPLER says, every trace by default). Without an exporter, recording them
would only cost CPU: spans are then not recorded, but still get ids and propagate, so log lines
and the services downstream carry the same trace ids.
The context travels in gRPC metadata (grpc_server / grpc_client interceptors), in NATS headers
(the outbox stores the `traceparent` of the transaction that wrote each event) and in the fal
webhook URL, so one job is one trace from its POST to its settlement.
"""

import os
from collections.abc import Iterable, Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

TRACEPARENT = "traceparent"

tracer = trace.get_tracer("imagegen")


def configure_tracing(service: str) -> TracerProvider | None:
    """Install this process's tracer provider (once); returns it, or None when one was already set."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return None
    resource = Resource.create({"service.name": f"imagegen-{service}"})
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    trace.set_tracer_provider(provider)
    return provider


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to store beside work that continues elsewhere."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject_metadata(metadata: list[tuple[str, str]]) -> None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    metadata.extend(carrier.items())


def extract(carrier: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> context.Context:
    """A context from headers or gRPC metadata (keys are lower case in both)."""
    if carrier is None:
        return context.Context()
    items = carrier.items() if isinstance(carrier, Mapping) else carrier
    return propagate.extract({key.lower(): value for key, value in items if isinstance(value, str)})


def context_from_traceparent(traceparent: str | None) -> context.Context:
    return extract({TRACEPARENT: traceparent} if traceparent else None)


def ids() -> dict[str, str]:
    """trace_id and span_id of the current span, as log fields; empty outside any span."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"traceId": f"{span_context.trace_id:032x}", "spanId": f"{span_context.span_id:016x}"}

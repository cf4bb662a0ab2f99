"""Metrics and traces of every HTTP request, webhook deliveries by outcome, and `/metrics`."""

import functools
import time

from fastapi import APIRouter, Response
from imagegen_platform import tracing
from imagegen_platform.metrics import HTTP_REQUESTS, HTTP_SECONDS
from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEBHOOK_DELIVERIES = Counter(
    "imagegen_webhook_deliveries",
    "Webhook deliveries the gateway answered, by sender and outcome "
    "(accepted, invalid_signature, rejected for another 4xx, failed for 5xx).",
    ["provider", "outcome"],
)

# Route templates of the webhook endpoints, by sender.
_WEBHOOK_ROUTES = {
    "/api/webhooks/fal": "fal",
    "/api/webhooks/stripe": "stripe",
    "/api/stripe/webhook": "stripe",
}
FAL_WEBHOOK_PATH = "/api/webhooks/fal"


@functools.cache
def _request_metrics(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The request counter and duration histogram of these labels: looking a child up by its labels
    takes a lock and validates them, on every request."""
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_SECONDS.labels(method, route)


def _webhook_outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    if status == 401:
        return "invalid_signature"
    return "rejected" if status < 500 else "failed"


def _fal_trace_context(scope: Scope) -> str | None:
    """fal calls back the webhook URL we gave it, where the submitting job's traceparent rides as a
    query parameter (fal signs the body, not the URL, so it costs no security)."""
    for pair in scope.get("query_string", b"").decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name == tracing.TRACEPARENT and value:
            return value
    return None


class ObservabilityMiddleware:
    """A server span and request metrics per request, labelled by route template, never by path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        parent = tracing.extract(headers)
        if (
            not trace.get_current_span(parent).get_span_context().is_valid
            and scope["path"] == FAL_WEBHOOK_PATH
        ):
            parent = tracing.context_from_traceparent(_fal_trace_context(scope))
        method = scope["method"]
        span = tracing.tracer.start_span(method, context=parent, kind=trace.SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        status = 500
        started = time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route_object = scope.get("route")
            route = getattr(route_object, "path", None) or "unmatched"
            requests, seconds = _request_metrics(method, route, status)
            requests.inc()
            seconds.observe(time.perf_counter() - started)
            if route in _WEBHOOK_ROUTES:
                WEBHOOK_DELIVERIES.labels(_WEBHOOK_ROUTES[route], _webhook_outcome(status)).inc()
            span.update_name(f"{method} {route}")
            span.set_attribute("http.request.method", method)
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.StatusCode.ERROR)
            span.end()
            otel_context.detach(token)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

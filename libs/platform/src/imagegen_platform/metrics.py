"""Prometheus metrics every process shares: RPCs, HTTP requests and the outbox.

Labels stay low-cardinality: methods and route templates, status codes and outcomes, never ids.
Service-specific metrics (jobs, queue, provider, credits, webhooks) live in each service's
`metrics.py`, in the same default registry, so one `/metrics` shows them all.
"""

import logging

from prometheus_client import Counter, Histogram, start_http_server

log = logging.getLogger(__name__)

# Seconds; from a cached read to a slow provider submission.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

GRPC_SERVER_HANDLED = Counter(
    "imagegen_grpc_server_handled",
    "RPCs this process served, by method and status code.",
    ["method", "code"],
)
GRPC_SERVER_SECONDS = Histogram(
    "imagegen_grpc_server_handling_seconds",
    "Time to serve an RPC.",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
GRPC_CLIENT_HANDLED = Counter(
    "imagegen_grpc_client_handled",
    "RPCs this process made to peers, by method and status code.",
    ["method", "code"],
)
GRPC_CLIENT_SECONDS = Histogram(
    "imagegen_grpc_client_handling_seconds",
    "Time a peer took to answer an RPC, as the caller sees it.",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "imagegen_http_requests",
    "HTTP requests the gateway answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "imagegen_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_PUBLISHED = Counter(
    "imagegen_outbox_published",
    "Outbox events relayed to JetStream, by subject.",
    ["subject"],
)
OUTBOX_FAILURES = Counter(
    "imagegen_outbox_relay_failures", "Outbox relay batches that failed and will retry."
)

EVENTS_CONSUMED = Counter(
    "imagegen_events_consumed",
    "JetStream messages handed to a batch consumer, by durable consumer.",
    ["consumer"],
)
EVENT_BATCH_SECONDS = Histogram(
    "imagegen_event_batch_duration_seconds",
    "Time a batch consumer took over one batch, by durable consumer.",
    ["consumer"],
    buckets=LATENCY_BUCKETS,
)
EVENT_BATCH_FAILURES = Counter(
    "imagegen_event_batch_failures",
    "Batches whose handler raised (their unacknowledged messages come back after the ack wait).",
    ["consumer"],
)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:
    """Serve the default registry at http://host:port/metrics from a thread; port 0 serves nothing."""
    if port:
        start_http_server(port, addr=host)
        log.info("metrics served", extra={"port": port})

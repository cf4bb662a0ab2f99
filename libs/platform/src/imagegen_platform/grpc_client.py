"""gRPC channels to peer services: request ids and trace context forwarded, a deadline on every
call, each call counted, timed and traced."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry import trace

from imagegen_platform import tracing
from imagegen_platform.context import REQUEST_ID_HEADER, request_id_var
from imagegen_platform.metrics import GRPC_CLIENT_HANDLED, GRPC_CLIENT_SECONDS

DEFAULT_TIMEOUT_SECONDS = 10.0


class _ContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the current request id, trace context and a default deadline to every unary call."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        with tracing.tracer.start_as_current_span(method.lstrip("/"), kind=trace.SpanKind.CLIENT) as span:
            metadata = list(client_call_details.metadata or ())
            request_id = request_id_var.get()
            if request_id:
                metadata.append((REQUEST_ID_HEADER, request_id))
            tracing.inject_metadata(metadata)
            details = grpc.aio.ClientCallDetails(
                method=client_call_details.method,
                timeout=client_call_details.timeout or self.timeout_seconds,
                metadata=grpc.aio.Metadata(*metadata),
                credentials=client_call_details.credentials,
                wait_for_ready=client_call_details.wait_for_ready,
            )
            started = time.perf_counter()
            code = "OK"
            try:
                # The call object resolves to the response; awaiting it here makes failures visible.
                call = await continuation(details, request)
                return await call
            except grpc.aio.AioRpcError as error:
                code = error.code().name
                span.set_attribute("rpc.grpc.status_code", code)
                raise
            finally:
                GRPC_CLIENT_HANDLED.labels(method, code).inc()
                GRPC_CLIENT_SECONDS.labels(method).observe(time.perf_counter() - started)


# A peer that was down is retried within a second of coming back. gRPC's default backoff grows to
# two minutes, during which every call fails at once although the peer is up again.
_RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def open_channel(address: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> grpc.aio.Channel:
    """Calls fail fast (UNAVAILABLE) while the peer is down, and carry a deadline and the request id."""
    return grpc.aio.insecure_channel(
        address, options=_RECONNECT_OPTIONS, interceptors=[_ContextInterceptor(timeout_seconds)]
    )


def error_reason(error: grpc.aio.AioRpcError) -> tuple[str | None, dict[str, str]]:
    """The ErrorInfo reason and metadata a peer attached to a failed call, if any."""
    status = rpc_status.from_call(error)
    if status is None:
        return None, {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason, dict(info.metadata)
    return None, {}

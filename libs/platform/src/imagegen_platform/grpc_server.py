"""A grpc.aio server with health checks, error mapping, request ids and a graceful stop."""

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from opentelemetry import context as otel_context
from opentelemetry import trace

from imagegen_platform import tracing
from imagegen_platform.context import REQUEST_ID_HEADER, request_id_var
from imagegen_platform.errors import DomainError, ErrorKind
from imagegen_platform.metrics import GRPC_SERVER_HANDLED, GRPC_SERVER_SECONDS

log = logging.getLogger(__name__)

ERROR_DOMAIN = "imagegen"

_CODES = {
    ErrorKind.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: code_pb2.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    ErrorKind.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    ErrorKind.ABORTED: code_pb2.ABORTED,
    ErrorKind.RESOURCE_EXHAUSTED: code_pb2.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: code_pb2.UNAVAILABLE,
}


def status_for(error: DomainError) -> status_pb2.Status:
    """A google.rpc.Status carrying the error's reason and details as ErrorInfo."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason,
        domain=ERROR_DOMAIN,
        metadata={key: str(value) for key, value in error.details.items()},
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=_CODES[error.kind], message=error.message, details=[detail])


# Codes that mean the server, not the caller, failed: errors in traces and in alerts.
SERVER_FAULTS = frozenset(
    {"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "DATA_LOSS", "UNIMPLEMENTED"}
)
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def _code_name(code: Any) -> str:
    """The name of a status code, whichever form grpc.aio hands it in (None before any is set)."""
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return code.name
    return _CODE_NAMES.get(code, str(code))


class ErrorAndContextInterceptor(grpc.aio.ServerInterceptor):
    """Sets the request id and trace context for logs, turns domain errors into rich statuses (bugs
    become INTERNAL), and counts and times every RPC."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        request_id = metadata.get(REQUEST_ID_HEADER)
        method = handler_call_details.method
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = request_id_var.set(request_id)
            trace_token = otel_context.attach(tracing.extract(metadata))
            started = time.perf_counter()
            span = tracing.tracer.start_span(method.lstrip("/"), kind=trace.SpanKind.SERVER)
            span_token = otel_context.attach(trace.set_span_in_context(span))
            try:
                return await inner(request, context)
            except DomainError as error:
                await context.abort_with_status(rpc_status.to_status(status_for(error)))
            except (grpc.aio.AbortError, asyncio.CancelledError):
                raise
            except grpc.aio.AioRpcError as error:
                # A peer failed: pass its status and details (the ErrorInfo reason) on unchanged.
                log.warning("downstream call failed", extra={"method": method, "code": str(error.code())})
                status = rpc_status.from_call(error)
                if status is not None:
                    await context.abort_with_status(rpc_status.to_status(status))
                await context.abort(error.code(), error.details() or "downstream call failed")
            except Exception:
                log.exception("unhandled error", extra={"method": method})
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                code_name = _code_name(context.code())
                GRPC_SERVER_HANDLED.labels(method, code_name).inc()
                GRPC_SERVER_SECONDS.labels(method).observe(time.perf_counter() - started)
                span.set_attribute("rpc.grpc.status_code", code_name)
                if code_name in SERVER_FAULTS:
                    span.set_status(trace.StatusCode.ERROR)
                span.end()
                otel_context.detach(span_token)
                otel_context.detach(trace_token)
                request_id_var.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def start_server(
    host: str, port: int, register: Callable[[grpc.aio.Server], Iterable[str]]
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """Start a server with the standard health service reporting SERVING for every registered service."""
    server = grpc.aio.server(interceptors=[ErrorAndContextInterceptor()])
    service_names = list(register(server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound_port = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    for name in [*service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("grpc server started", extra={"port": bound_port, "services": service_names})
    return server, health_servicer, bound_port


async def stop_server(
    server: grpc.aio.Server, health_servicer: health.aio.HealthServicer, grace: float
) -> None:
    # Report NOT_SERVING first so load balancers stop routing here while calls drain.
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace)


async def serve(
    *,
    host: str,
    port: int,
    register: Callable[[grpc.aio.Server], Iterable[str]],
    grace_seconds: float,
) -> None:
    """Run a server until SIGTERM or SIGINT. `register` adds servicers and returns their full names."""
    server, health_servicer, _ = await start_server(host, port, register)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("grpc server stopping")
    await stop_server(server, health_servicer, grace_seconds)

"""gRPC channels to peer services: request ids forwarded, a deadline on every call."""

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from imagegen_platform.context import REQUEST_ID_HEADER, request_id_var

DEFAULT_TIMEOUT_SECONDS = 10.0


class _ContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the current request id and a default deadline to every unary call."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or ())
        request_id = request_id_var.get()
        if request_id:
            metadata.append((REQUEST_ID_HEADER, request_id))
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout or self.timeout_seconds,
            metadata=grpc.aio.Metadata(*metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def open_channel(address: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, interceptors=[_ContextInterceptor(timeout_seconds)])


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

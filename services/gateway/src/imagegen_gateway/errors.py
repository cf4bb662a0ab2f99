"""One JSON error shape for every failure: {"error": {"code", "message", "details", "requestId"}}."""

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from imagegen_platform.context import request_id_var
from imagegen_platform.grpc_client import error_reason
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

# gRPC status to HTTP status (STYLE.md section 5).
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Reasons whose status differs from their gRPC code's usual mapping.
_HTTP_STATUS_BY_REASON = {"insufficient_credits": 402, "spend_cap_reached": 402}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "requestId": request_id_var.get(),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return error_response(error.status, error.code, error.message, error.details)


async def _rpc_error(request: Request, error: grpc.aio.AioRpcError) -> JSONResponse:
    reason, metadata = error_reason(error)
    status = _HTTP_STATUS_BY_REASON.get(reason or "") or _HTTP_STATUS.get(error.code(), 500)
    if status == 500:
        log.error("service call failed", extra={"code": str(error.code()), "details": error.details()})
        return error_response(500, "internal_error", "something went wrong on our side")
    if status in (503, 504):
        return error_response(status, "service_unavailable", "a service is unavailable; retry shortly")
    code = reason or error.code().name.lower()
    return error_response(status, code, error.details() or code, metadata)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    details = {
        ".".join(str(part) for part in issue["loc"] if part != "body") or "body": issue["msg"]
        for issue in error.errors()
    }
    return error_response(400, "invalid_request", "the request has invalid fields", details)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
    return error_response(
        error.status_code,
        codes.get(error.status_code, "http_error"),
        str(error.detail),
        headers=error.headers,
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "something went wrong on our side")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(grpc.aio.AioRpcError, _rpc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

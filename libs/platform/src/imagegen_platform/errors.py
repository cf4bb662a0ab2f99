"""Domain errors with a stable reason, independent of gRPC and HTTP.

Each service raises these from its domain and service layer; the gRPC interceptor maps the
kind to a status code and the gateway maps that to HTTP (see STYLE.md section 5).
"""

from enum import Enum
from typing import Any


class ErrorKind(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    ABORTED = "aborted"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    """A failure the caller can act on; `reason` is a stable snake_case code."""

    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details or {}


class InvalidArgument(DomainError):
    kind = ErrorKind.INVALID_ARGUMENT


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class FailedPrecondition(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION


class Unavailable(DomainError):
    kind = ErrorKind.UNAVAILABLE

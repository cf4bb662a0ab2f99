"""Per-request context carried through logs, gRPC metadata and NATS headers."""

from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

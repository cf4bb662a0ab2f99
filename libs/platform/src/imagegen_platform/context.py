"""Per-request context carried through logs, gRPC metadata and NATS headers."""

from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# The job the current work is about, so every log line of it can be found by job id.
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)

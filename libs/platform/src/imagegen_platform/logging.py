"""Structured JSON logs, one object per line, with the request id and trace ids of the current
context (job ids come as the `jobId` field of the lines about a job)."""

import json
import logging
import sys
from datetime import UTC, datetime

from imagegen_platform import tracing
from imagegen_platform.context import job_id_var, request_id_var

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        job_id = job_id_var.get()
        if job_id:
            entry["jobId"] = job_id
        entry.update(tracing.ids())
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: a line per provider call and image fetch is noise, and
    # formatting it is a measurable share of a busy worker's CPU. Failures are logged by the callers.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))

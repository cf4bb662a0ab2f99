import json
import logging

from imagegen_platform import tracing
from imagegen_platform.context import job_id_var, request_id_var
from imagegen_platform.logging import JsonFormatter


def format_line(message: str, **extra) -> dict:
    record = logging.LogRecord("imagegen.test", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return json.loads(JsonFormatter("generation").format(record))


def test_lines_carry_request_job_and_trace_ids():
    tracing.configure_tracing("test")
    request_token, job_token = request_id_var.set("req_1"), job_id_var.set("job-1")
    try:
        with tracing.tracer.start_as_current_span("work"):
            line = format_line("job submitted", providerRequestId="fal-1")
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)
    assert (line["service"], line["message"], line["requestId"], line["jobId"]) == (
        "generation",
        "job submitted",
        "req_1",
        "job-1",
    )
    assert len(line["traceId"]) == 32 and len(line["spanId"]) == 16
    assert line["providerRequestId"] == "fal-1"


def test_lines_outside_any_request_have_no_ids():
    line = format_line("started")
    assert not {"requestId", "jobId", "traceId"} & set(line)

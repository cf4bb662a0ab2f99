"""Request lifecycle: IN_QUEUE -> IN_PROGRESS -> COMPLETED, with fal's failure semantics.

Everything runs on the server's event loop, so the state below needs no locks: it is only
changed between awaits.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imagegen_fal_emulator.apps import App, InputError, JsonObject, OutputSink
from imagegen_fal_emulator.storage import FileFetcher, FileStore
from imagegen_fal_emulator.webhooks import WebhookSender

SLOW_MARKER = re.compile(r"\[\[slow:(\d+(?:\.\d+)?)\]\]")


class RequestState(enum.StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


# Not frozen: Python sets traceback attributes on exceptions it raises.
@dataclass(eq=False)
class RunFailure(Exception):
    """A run that ended without output: what the result endpoint and the webhook report."""

    status_code: int
    detail: Any
    message: str
    error_type: str | None = None

    def body(self) -> JsonObject:
        body: JsonObject = {"detail": self.detail}
        if self.error_type:
            body["error_type"] = self.error_type
        return body

    @classmethod
    def from_input_error(cls, error: InputError) -> RunFailure:
        return cls(422, error.detail, "Input validation failed")


CANCELLED = RunFailure(400, "Request was cancelled", "Request was cancelled", error_type="request_cancelled")


@dataclass
class QueuedRequest:
    request_id: str
    endpoint_id: str
    # `[namespace/]owner/alias`: status, result and cancel URLs are keyed by this.
    app_path: str
    payload: object
    origin: str
    webhook_url: str | None
    state: RequestState = RequestState.IN_QUEUE
    logs: list[JsonObject] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    output: JsonObject | None = None
    failure: RunFailure | None = None
    task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"{self.origin}/queue/{self.app_path}/requests/{self.request_id}"

    def urls(self) -> JsonObject:
        return {
            "request_id": self.request_id,
            "response_url": self.base_url,
            "status_url": f"{self.base_url}/status",
            "cancel_url": f"{self.base_url}/cancel",
        }


def log_entry(message: str, level: str = "INFO") -> JsonObject:
    return {
        "message": message,
        "level": level,
        "source": "user",
        "timestamp": datetime.now(UTC).isoformat(),
    }


class Runner:
    """Runs one model call, applying the latency and the [[fail]]/[[flaky]]/[[slow:N]] markers."""

    def __init__(self, apps: dict[str, App], files: FileStore, fetcher: FileFetcher, latency: float):
        self.apps = apps
        self._files = files
        self._fetcher = fetcher
        self._latency = latency
        # Inputs whose first run already failed through [[flaky]]; the next one succeeds.
        self._flaky_seen: set[str] = set()

    async def run(self, endpoint_id: str, payload: object, origin: str, logs: list[JsonObject]) -> JsonObject:
        """Return the model output or raise RunFailure."""
        try:
            job = await self.apps[endpoint_id].prepare(payload, self._fetcher)
        except InputError as exc:
            raise RunFailure.from_input_error(exc) from exc
        slow = SLOW_MARKER.search(job.marker_text)
        duration = float(slow.group(1)) if slow else self._latency
        messages = job.progress_messages()
        for message in messages:
            await asyncio.sleep(duration / len(messages))
            logs.append(log_entry(message))
        if "[[fail]]" in job.marker_text:
            raise RunFailure(
                422,
                [
                    {
                        "loc": ["body"],
                        "msg": "Emulated permanent failure ([[fail]] marker)",
                        "type": "value_error",
                    }
                ],
                "Emulated permanent failure ([[fail]] marker)",
            )
        fingerprint = _fingerprint(endpoint_id, payload)
        if "[[flaky]]" in job.marker_text and fingerprint not in self._flaky_seen:
            self._flaky_seen.add(fingerprint)
            raise RunFailure(
                503,
                "Emulated transient runner failure ([[flaky]] marker); retry the request",
                "Emulated transient runner failure ([[flaky]] marker)",
                error_type="runner_server_error",
            )
        return await job.produce(OutputSink(self._files, origin))


def _fingerprint(endpoint_id: str, payload: object) -> str:
    canonical = json.dumps([endpoint_id, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class RequestQueue:
    def __init__(self, runner: Runner, webhooks: WebhookSender, max_concurrent: int):
        self._runner = runner
        self._webhooks = webhooks
        self._max_concurrent = max_concurrent
        self._requests: dict[str, QueuedRequest] = {}
        self._waiting: deque[QueuedRequest] = deque()
        self._running = 0
        self._closing = False

    def submit(
        self,
        endpoint_id: str,
        app_path: str,
        payload: object,
        origin: str,
        webhook_url: str | None,
    ) -> QueuedRequest:
        request = QueuedRequest(str(uuid.uuid4()), endpoint_id, app_path, payload, origin, webhook_url)
        self._requests[request.request_id] = request
        self._waiting.append(request)
        self._start_waiting()
        return request

    def find(self, app_path: str, request_id: str) -> QueuedRequest | None:
        request = self._requests.get(request_id)
        if request is None or request.app_path != app_path:
            return None
        return request

    def queue_position(self, request: QueuedRequest) -> int:
        return self._waiting.index(request)

    def cancel(self, request: QueuedRequest) -> bool:
        """Return False when the request had already completed."""
        if request.state is RequestState.COMPLETED:
            return False
        if request.state is RequestState.IN_QUEUE:
            self._waiting.remove(request)
            self._finish(request, None, CANCELLED)
        elif request.task is not None:
            request.task.cancel()
        return True

    async def close(self) -> None:
        self._closing = True
        tasks = [r.task for r in self._requests.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start_waiting(self) -> None:
        while self._waiting and self._running < self._max_concurrent and not self._closing:
            request = self._waiting.popleft()
            self._running += 1
            request.state = RequestState.IN_PROGRESS
            request.started_at = time.monotonic()
            request.task = asyncio.create_task(self._execute(request))

    async def _execute(self, request: QueuedRequest) -> None:
        output: JsonObject | None = None
        failure: RunFailure | None = None
        try:
            output = await self._runner.run(
                request.endpoint_id, request.payload, request.origin, request.logs
            )
        except RunFailure as exc:
            failure = exc
        except asyncio.CancelledError:
            failure = CANCELLED
        finally:
            self._running -= 1
            self._finish(request, output, failure)
            self._start_waiting()

    def _finish(self, request: QueuedRequest, output: JsonObject | None, failure: RunFailure | None) -> None:
        request.state = RequestState.COMPLETED
        request.finished_at = time.monotonic()
        request.output = output
        request.failure = failure
        if failure is not None:
            request.logs.append(log_entry(failure.message, "ERROR"))
        if request.webhook_url:
            self._webhooks.schedule(request.webhook_url, request.request_id, webhook_payload(request))

    def status(self, request: QueuedRequest, with_logs: bool) -> JsonObject:
        body: JsonObject = {"status": request.state.value, **request.urls()}
        if request.state is RequestState.IN_QUEUE:
            body["queue_position"] = self.queue_position(request)
            return body
        body["logs"] = list(request.logs) if with_logs else None
        if request.state is RequestState.COMPLETED:
            if request.started_at is not None and request.finished_at is not None:
                body["metrics"] = {"inference_time": request.finished_at - request.started_at}
            if request.failure is not None:
                body["error"] = request.failure.message
                body["error_type"] = request.failure.error_type
        return body


def webhook_payload(request: QueuedRequest) -> JsonObject:
    if request.failure is None:
        return {
            "request_id": request.request_id,
            "gateway_request_id": request.request_id,
            "status": "OK",
            "payload": request.output,
            "error": None,
            "payload_error": None,
        }
    return {
        "request_id": request.request_id,
        "gateway_request_id": request.request_id,
        "status": "ERROR",
        "payload": request.failure.body(),
        "error": f"Invalid status code: {request.failure.status_code}",
        "payload_error": None,
    }

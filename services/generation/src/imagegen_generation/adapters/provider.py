"""fal.ai through the unmodified fal-client; the local stack points it at the emulator by env vars."""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import fal_client
import httpx
from imagegen_platform import tracing

from imagegen_generation.domain.jobs import progress_from_logs
from imagegen_generation.metrics import observed_provider_call

RETRYABLE_STATUS = {408, 409, 429}
# fal reports a failed run as "Invalid status code: NNN" (webhook) or an error_type (status).
_STATUS_IN_ERROR = re.compile(r"status code:?\s*(\d{3})", re.IGNORECASE)
_RETRYABLE_ERROR_TYPES = {"runner_server_error", "internal_server_error", "timeout"}


class ProviderError(Exception):
    """A failed call to the provider; `retryable` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool, code: str = "provider_error") -> None:
        super().__init__(message)
        self.retryable = retryable
        # The job's error code when this failure ends it.
        self.code = code


def is_retryable_failure(error: str, error_type: str | None = None) -> bool:
    """Whether a run that ended in an error may succeed if submitted again (5xx, 408, 409, 429)."""
    if error_type in _RETRYABLE_ERROR_TYPES:
        return True
    match = _STATUS_IN_ERROR.search(error or "")
    if match is None:
        return False
    status = int(match.group(1))
    return status >= 500 or status in RETRYABLE_STATUS


@dataclass(frozen=True)
class ProviderOutcome:
    """A finished request as a status poll sees it: the same facts a webhook carries."""

    ok: bool
    payload: Any
    error: str


@dataclass(frozen=True)
class ProviderRunning:
    """A request still queued or running at the provider, and how far it got (None: unknown)."""

    progress: float | None


def _http_error(error: fal_client.FalClientHTTPError) -> ProviderError:
    retryable = error.status_code >= 500 or error.status_code in RETRYABLE_STATUS
    return ProviderError(f"fal answered {error.status_code}: {error}", retryable=retryable)


class FalProvider:
    def __init__(self, key: str) -> None:
        self.client = fal_client.AsyncClient(key=key)

    @observed_provider_call("submit")
    async def submit(self, endpoint: str, arguments: dict[str, Any], webhook_url: str) -> str:
        """Queue a request at fal; its result arrives at webhook_url. Returns fal's request id."""
        # The webhook continues this job's trace: fal calls back exactly the URL it was given.
        traceparent = tracing.current_traceparent()
        if traceparent:
            separator = "&" if "?" in webhook_url else "?"
            webhook_url = f"{webhook_url}{separator}{tracing.TRACEPARENT}={quote(traceparent)}"
        try:
            handle = await self.client.submit(endpoint, arguments, webhook_url=webhook_url)
        except fal_client.FalClientHTTPError as error:
            raise _http_error(error) from error
        except httpx.HTTPError as error:
            raise ProviderError(f"fal could not be reached: {error}", retryable=True) from error
        return handle.request_id

    @observed_provider_call("status")
    async def outcome(self, endpoint: str, request_id: str) -> ProviderOutcome | ProviderRunning:
        """The request's result if it has finished (the fallback for a late webhook), else its progress."""
        try:
            status = await self.client.status(endpoint, request_id, with_logs=True)
            if isinstance(status, fal_client.InProgress):
                logs = status.logs or []
                messages = [entry.get("message", "") for entry in logs if isinstance(entry, dict)]
                return ProviderRunning(progress_from_logs(messages))
            if not isinstance(status, fal_client.Completed):
                return ProviderRunning(None)
            if status.error:
                return ProviderOutcome(False, {"error_type": status.error_type}, status.error)
            try:
                return ProviderOutcome(True, await self.client.result(endpoint, request_id), "")
            except fal_client.FalClientHTTPError as error:
                return ProviderOutcome(False, None, f"Invalid status code: {error.status_code}: {error}")
        except fal_client.FalClientHTTPError as error:
            raise _http_error(error) from error
        except httpx.HTTPError as error:
            raise ProviderError(f"fal could not be reached: {error}", retryable=True) from error

    @observed_provider_call("cancel")
    async def cancel(self, endpoint: str, request_id: str) -> None:
        """Ask fal to stop a request; one that already finished is fine too."""
        try:
            await self.client.cancel(endpoint, request_id)
        except fal_client.FalClientHTTPError as error:
            if error.status_code not in (400, 404):
                raise _http_error(error) from error
        except httpx.HTTPError as error:
            raise ProviderError(f"fal could not be reached: {error}", retryable=True) from error

"""fal.ai through the unmodified fal-client; the local stack points it at the emulator by env vars."""

from typing import Any

import fal_client
import httpx

RETRYABLE_STATUS = {408, 409, 429}


class ProviderError(Exception):
    """A failed call to the provider; `retryable` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class FalProvider:
    def __init__(self, key: str) -> None:
        self.client = fal_client.AsyncClient(key=key)

    async def submit(self, endpoint: str, arguments: dict[str, Any], webhook_url: str) -> str:
        """Queue a request at fal; its result arrives at webhook_url. Returns fal's request id."""
        try:
            handle = await self.client.submit(endpoint, arguments, webhook_url=webhook_url)
        except fal_client.FalClientHTTPError as error:
            retryable = error.status_code >= 500 or error.status_code in RETRYABLE_STATUS
            raise ProviderError(f"fal answered {error.status_code}: {error}", retryable=retryable) from error
        except httpx.HTTPError as error:
            raise ProviderError(f"fal could not be reached: {error}", retryable=True) from error
        return handle.request_id

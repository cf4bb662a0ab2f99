"""Downloads a file from a URL with a size cap and a time limit."""

import httpx
from imagegen_platform.errors import InvalidArgument, Unavailable


class HttpFetcher:
    def __init__(self, max_bytes: int, timeout_seconds: float) -> None:
        self.max_bytes = max_bytes
        # httpx trusts SSL_CERT_FILE, which is how the local stack trusts its fal emulator.
        self.client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=True)

    async def fetch(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise InvalidArgument("invalid_url", "only http and https URLs can be fetched")
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code >= 500:
                    raise Unavailable("source_unavailable", f"the source answered {response.status_code}")
                if response.status_code >= 400:
                    raise InvalidArgument("source_refused", f"the source answered {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise InvalidArgument("file_too_large", f"the file is over {self.max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as error:
            raise Unavailable("source_unreachable", f"the source could not be read: {error}") from error
        return b"".join(chunks)

    async def close(self) -> None:
        await self.client.aclose()

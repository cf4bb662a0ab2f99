"""Downloads a file from a URL with a size cap, a time limit and an SSRF guard.

Every hop (the URL and each redirect) is resolved first, and refused unless every address it
resolves to is public or in a network configuration allows (imagegen_platform.ssrf); the
connection then goes to the address that was checked, so a DNS answer that changes between check
and connect (rebinding) cannot reach an internal address.
"""

import asyncio
from collections.abc import Iterable

import httpx
from imagegen_platform.errors import InvalidArgument, Unavailable
from imagegen_platform.ssrf import AddressGuard, AddressNotAllowed, HostUnresolvable, IpAddress

MAX_REDIRECTS = 5


class HttpFetcher:
    def __init__(self, max_bytes: int, timeout_seconds: float, allowed_networks: Iterable[str] = ()) -> None:
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.guard = AddressGuard(allowed_networks)
        # httpx trusts SSL_CERT_FILE, which is how the local stack trusts its fal emulator.
        # Redirects are followed by hand so that each hop is checked.
        self.client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def _resolve(self, host: str, port: int) -> IpAddress:
        """The address to connect to, after checking every address the name resolves to."""
        try:
            return await self.guard.resolve(host, port)
        except HostUnresolvable as error:
            raise InvalidArgument("source_unresolvable", f"cannot resolve {host}") from error
        except AddressNotAllowed as error:
            raise InvalidArgument(
                "source_not_allowed", str(error), {"addresses": ",".join(error.refused)}
            ) from error

    async def _request(self, url: httpx.URL) -> httpx.Request:
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidArgument("invalid_url", "only http and https URLs can be fetched")
        address = await self._resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
        pinned = url.copy_with(host=str(address))
        headers = {"Host": url.netloc.decode("ascii")}
        # TLS still checks the certificate against the name, not the address.
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        return self.client.build_request("GET", pinned, headers=headers, extensions=extensions)

    async def fetch(self, url: str) -> bytes:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self._fetch(url)
        except TimeoutError:
            raise Unavailable(
                "source_timeout", f"the download took over {self.timeout_seconds} seconds"
            ) from None

    async def _fetch(self, url: str) -> bytes:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise InvalidArgument("invalid_url", "the URL is not valid") from error
        try:
            for _ in range(MAX_REDIRECTS + 1):
                request = await self._request(target)
                response = await self.client.send(request, stream=True)
                try:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise InvalidArgument("source_refused", "a redirect without a location")
                        target = target.join(location)
                        continue
                    return await self._body(response)
                finally:
                    await response.aclose()
        except httpx.HTTPError as error:
            raise Unavailable("source_unreachable", f"the source could not be read: {error}") from error
        raise InvalidArgument("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")

    async def _body(self, response: httpx.Response) -> bytes:
        if response.status_code >= 500:
            raise Unavailable("source_unavailable", f"the source answered {response.status_code}")
        if response.status_code >= 400:
            raise InvalidArgument("source_refused", f"the source answered {response.status_code}")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise InvalidArgument("file_too_large", f"the file is over {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise InvalidArgument("file_too_large", f"the file is over {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        await self.client.aclose()

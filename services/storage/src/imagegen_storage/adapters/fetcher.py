"""Downloads a file from a URL with a size cap, a time limit and an SSRF guard.

Every hop (the URL and each redirect) is resolved first, and refused unless every address it
resolves to is public or in a network configuration allows (imagegen_platform.ssrf); the
connection then goes to the address that was checked, so a DNS answer that changes between check
and connect (rebinding) cannot reach an internal address.

Connections are kept open and reused, but only for the same name at the same checked address:
each (scheme, host, port, address) has a connection pool of its own. One pool keyed by address
alone would send a request for one name over a TLS connection whose certificate was checked for
another name served from the same address (a CDN's, say).
"""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import httpx
from imagegen_platform.errors import InvalidArgument, Unavailable
from imagegen_platform.ssrf import AddressGuard, AddressNotAllowed, HostUnresolvable, IpAddress

MAX_REDIRECTS = 5
# Pools kept for this many origins; beyond it, the least recently used idle ones are closed.
MAX_POOLS = 32
# Idle connections are dropped before servers commonly drop them (uvicorn after 5 s), so a
# request is rarely sent down a connection the server is closing at that moment.
KEEPALIVE_SECONDS = 4.0
HEADERS = {"Accept": "*/*", "User-Agent": "imagegen-storage"}


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int
    address: IpAddress


@dataclass
class _Pool:
    transport: httpx.AsyncHTTPTransport
    leases: int = 0


class _Pools:
    """A connection pool per origin and checked address, at most `limit` of them when idle."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # httpx trusts SSL_CERT_FILE, which is how the local stack trusts its fal emulator. One
        # context for every pool: loading the CA bundle costs milliseconds.
        self.ssl_context: ssl.SSLContext = httpx.create_ssl_context()
        # Insertion order is recency: a leased pool moves to the end.
        self._pools: dict[_Origin, _Pool] = {}

    @contextlib.asynccontextmanager
    async def lease(self, origin: _Origin) -> AsyncIterator[httpx.AsyncHTTPTransport]:
        pool = self._pools.pop(origin, None) or _Pool(
            httpx.AsyncHTTPTransport(
                verify=self.ssl_context, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
            )
        )
        self._pools[origin] = pool
        pool.leases += 1
        try:
            yield pool.transport
        finally:
            pool.leases -= 1
            await self._trim()

    async def _trim(self) -> None:
        # Chosen and removed before any await, so no pool is leased again while it closes.
        excess = len(self._pools) - self.limit
        idle = [origin for origin, pool in self._pools.items() if not pool.leases][: max(excess, 0)]
        for transport in [self._pools.pop(origin).transport for origin in idle]:
            await transport.aclose()

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.transport.aclose()


class HttpFetcher:
    def __init__(self, max_bytes: int, timeout_seconds: float, allowed_networks: Iterable[str] = ()) -> None:
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.guard = AddressGuard(allowed_networks)
        self.timeouts = httpx.Timeout(timeout_seconds).as_dict()
        self.pools = _Pools(MAX_POOLS)

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

    async def _pin(self, url: httpx.URL) -> tuple[_Origin, httpx.Request]:
        """The origin to connect to, at its checked address, and the request to send there."""
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidArgument("invalid_url", "only http and https URLs can be fetched")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await self._resolve(url.host, port)
        extensions: dict = {"timeout": self.timeouts}
        if url.scheme == "https":
            # TLS still checks the certificate against the name, not the address.
            extensions["sni_hostname"] = url.host
        request = httpx.Request(
            "GET",
            url.copy_with(host=str(address)),
            headers={**HEADERS, "Host": url.netloc.decode("ascii")},
            extensions=extensions,
        )
        return _Origin(url.scheme, url.host, port, address), request

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
            # Redirects are followed by hand so that each hop is checked.
            for _ in range(MAX_REDIRECTS + 1):
                origin, request = await self._pin(target)
                async with self.pools.lease(origin) as transport:
                    response = await transport.handle_async_request(request)
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
        await self.pools.close()

"""Downloads a file from a URL with a size cap, a time limit and an SSRF guard.

Every hop (the URL and each redirect) is resolved first, and refused unless every address it
resolves to is public or in a network configuration allows; the connection then goes to the
address that was checked, so a DNS answer that changes between check and connect (rebinding)
cannot reach an internal address.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpx
from imagegen_platform.errors import InvalidArgument, Unavailable

MAX_REDIRECTS = 5
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local (cloud metadata at
    169.254.169.254 and fd00:ec2::254 included), shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


class HttpFetcher:
    def __init__(self, max_bytes: int, timeout_seconds: float, allowed_networks: Iterable[str] = ()) -> None:
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.allowed_networks: list[IpNetwork] = [
            ipaddress.ip_network(network, strict=False) for network in allowed_networks
        ]
        # httpx trusts SSL_CERT_FILE, which is how the local stack trusts its fal emulator.
        # Redirects are followed by hand so that each hop is checked.
        self.client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    def allowed(self, address: IpAddress) -> bool:
        return is_public(address) or any(address in network for network in self.allowed_networks)

    async def _resolve(self, host: str, port: int) -> IpAddress:
        """The address to connect to, after checking every address the name resolves to."""
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                raise InvalidArgument("source_unresolvable", f"cannot resolve {host}") from error
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        refused = [str(address) for address in addresses if not self.allowed(address)]
        if refused or not addresses:
            raise InvalidArgument(
                "source_not_allowed",
                f"{host} resolves to an address that is not public",
                {"addresses": ",".join(refused)},
            )
        return addresses[0]

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

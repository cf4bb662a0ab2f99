"""Posts webhooks to teams' endpoints: https to public addresses only, with a short time limit.

An endpoint's URL is checked when it is registered and again on every attempt (DNS may have
changed since); the POST goes to the address that was checked, never to a second lookup of the
name (the SSRF guard of imagegen_platform.ssrf). Redirects are not followed: a 3xx is a failed
attempt like any other non-2xx answer.
"""

import asyncio
import time
from dataclasses import dataclass

import httpx
from imagegen_platform.ssrf import AddressGuard, AddressNotAllowed, HostUnresolvable, IpAddress

# How much of an endpoint's answer the delivery log keeps.
MAX_SNIPPET_BYTES = 1024
USER_AGENT = "imagegen-webhooks/1"


class InvalidEndpointUrl(Exception):
    """Webhooks may not be sent to this URL; the message says why."""


@dataclass(frozen=True)
class AttemptResult:
    """One POST: the answer's status and start, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    response_snippet: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class EndpointTargets:
    """Which URLs webhooks may go to: https (http too where configuration allows) on public addresses."""

    def __init__(self, allow_http: bool, allowed_networks: list[str]) -> None:
        self.schemes = ("https", "http") if allow_http else ("https",)
        self.guard = AddressGuard(allowed_networks)

    def parse(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise InvalidEndpointUrl("the URL is not valid") from None
        if parsed.scheme not in self.schemes:
            raise InvalidEndpointUrl(
                f"the URL must start with {' or '.join(s + '://' for s in self.schemes)}"
            )
        if not parsed.host:
            raise InvalidEndpointUrl("the URL has no host")
        if parsed.userinfo:
            raise InvalidEndpointUrl("the URL may not carry a user name or password")
        return parsed

    async def resolve(self, url: httpx.URL) -> IpAddress:
        try:
            return await self.guard.resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
        except HostUnresolvable:
            raise InvalidEndpointUrl(f"cannot resolve {url.host}") from None
        except AddressNotAllowed as error:
            raise InvalidEndpointUrl(str(error)) from None

    async def check(self, url: str) -> None:
        """Raises InvalidEndpointUrl unless webhooks may be sent to `url` now."""
        await self.resolve(self.parse(url))


class WebhookSender:
    def __init__(self, targets: EndpointTargets, timeout_seconds: float) -> None:
        self.targets = targets
        self.timeout_seconds = timeout_seconds
        self.client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        """POST the body; never raises for the endpoint's faults, which are the attempt's result."""
        started = time.perf_counter()
        status_code: int | None = None
        snippet: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                target = self.targets.parse(url)
                address = await self.targets.resolve(target)
                request = self.client.build_request(
                    "POST",
                    target.copy_with(host=str(address)),
                    content=body,
                    headers={
                        **headers,
                        "Host": target.netloc.decode("ascii"),
                        "Content-Type": "application/json",
                        "User-Agent": USER_AGENT,
                    },
                    # TLS still checks the certificate against the name, not the address.
                    extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
                )
                response = await self.client.send(request, stream=True)
                try:
                    status_code = response.status_code
                    snippet = (await _read_start(response)).decode("utf-8", "replace")
                finally:
                    await response.aclose()
        except TimeoutError:
            error = f"no answer within {self.timeout_seconds:g} seconds"
        except InvalidEndpointUrl as refused:
            error = f"not sent: {refused}"
        except httpx.HTTPError as failed:
            error = f"{type(failed).__name__}: {failed}" if str(failed) else type(failed).__name__
        return AttemptResult(
            status_code=status_code,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000),
            response_snippet=snippet,
        )

    async def close(self) -> None:
        await self.client.aclose()


async def _read_start(response: httpx.Response) -> bytes:
    """The first MAX_SNIPPET_BYTES of the body; the rest is not downloaded."""
    start = b""
    async for chunk in response.aiter_bytes():
        start += chunk
        if len(start) >= MAX_SNIPPET_BYTES:
            break
    return start[:MAX_SNIPPET_BYTES]

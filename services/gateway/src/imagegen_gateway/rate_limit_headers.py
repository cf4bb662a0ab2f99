"""RateLimit-* headers (and Retry-After on a 429) on every response to an authenticated call."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Where the caller's dependency leaves the request's quota (in the ASGI scope's state).
RATE_LIMIT_QUOTA = "rate_limit_quota"


class RateLimitHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                quota = scope.get("state", {}).get(RATE_LIMIT_QUOTA)
                if quota is not None:
                    headers = MutableHeaders(scope=message)
                    for name, value in quota.headers().items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)

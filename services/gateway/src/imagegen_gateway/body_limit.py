"""Request bodies larger than the gateway accepts are refused before the app sees them."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagegen_gateway.errors import error_response


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length says so, else as soon as the
    streamed bytes pass it. A body within the limit is read here and handed on unchanged (the limit
    is small: training images go to S3 directly, never through the gateway)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, declared in scope["headers"]:
            if name == b"content-length" and declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_bytes} bytes",
            {"maxBytes": str(self.max_bytes)},
        )
        await response(scope, receive, send)

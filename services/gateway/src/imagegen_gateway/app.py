"""The FastAPI application: routers, error shape, request ids, and clients opened in the lifespan."""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from imagegen_platform import db, grpc_server
from imagegen_platform.context import REQUEST_ID_HEADER, request_id_var
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagegen_gateway import web
from imagegen_gateway.adapters.fal_webhooks import FalWebhookVerifier
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.body_limit import BodyLimitMiddleware
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.errors import install_error_handlers
from imagegen_gateway.observability import ObservabilityMiddleware
from imagegen_gateway.observability import router as metrics_router
from imagegen_gateway.rate_limit_headers import RateLimitHeadersMiddleware
from imagegen_gateway.routes import (
    audit,
    auth,
    credits,
    generate,
    images,
    jobs,
    keys,
    models,
    reference_models,
    team,
    uploads,
    webhook_endpoints,
    webhooks,
)

_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-Id if sane), for logs, peers and the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, raw in scope["headers"]:
            if name == _REQUEST_ID:
                given = raw.decode("latin-1")
        value = given if 0 < len(given) <= 128 and given.isprintable() else f"req_{secrets.token_hex(16)}"
        header = (_REQUEST_ID, value.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id_var.set(value)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class JsonByDefaultMiddleware:
    """Reads bodies sent as curl's default form type as JSON, which is all this API accepts.

    `curl -d '{...}'` labels JSON as application/x-www-form-urlencoded; honouring the label would
    turn the documented one-line examples into validation errors. A body that is not JSON still
    gets a clear 400.
    """

    FORM = b"application/x-www-form-urlencoded"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Most requests are not relabelled, and keep their header list.
        if scope["type"] == "http" and (b"content-type", self.FORM) in scope["headers"]:
            scope["headers"] = [
                (name, b"application/json" if name == b"content-type" and value == self.FORM else value)
                for name, value in scope["headers"]
            ]
        await self.app(scope, receive, send)


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = db.create_engine(settings.database_url)
        app.state.services = Services.connect(settings)
        health_server, health_servicer, _ = await grpc_server.start_server(
            settings.http_host, settings.grpc_port, lambda server: []
        )
        async with httpx.AsyncClient() as http:
            app.state.fal_verifier = FalWebhookVerifier(
                settings.fal_jwks_url, settings.fal_webhook_tolerance_seconds, http
            )
            yield
        await grpc_server.stop_server(health_server, health_servicer, grace=5)
        await app.state.services.close()
        await app.state.engine.dispose()

    app = FastAPI(
        title="imagegen API",
        description="Train LoRA image models on a reference catalog and generate images, paid with credits.",
        version="1.0.0",
        lifespan=lifespan,
        # ObservabilityMiddleware makes the request spans: it also continues a job's trace from
        # the fal webhook URL, which FastAPI's own spans (headers only) cannot.
        telemetry={"tracing": False},
    )
    # Known before the lifespan runs, so dependencies can read it in any app built from settings.
    app.state.settings = settings

    app.add_middleware(JsonByDefaultMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimitHeadersMiddleware)
    # The web app's origins may call the API from their pages with the session cookie (and read
    # the headers clients use); other origins get no CORS grant.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.web_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Prefer", "X-Request-Id"],
        expose_headers=[
            "X-Request-Id",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "Retry-After",
            "Preference-Applied",
        ],
        max_age=600,
    )
    app.add_middleware(RequestIdMiddleware)
    # Outermost, so its span and timing cover every other middleware.
    app.add_middleware(ObservabilityMiddleware)
    install_error_handlers(app)
    app.include_router(metrics_router)
    for router in (
        generate.router,
        jobs.router,
        images.router,
        credits.router,
        reference_models.router,
        models.router,
        uploads.router,
        keys.router,
        audit.router,
        auth.router,
        team.router,
        team.invitations_router,
        webhook_endpoints.router,
        webhooks.router,
        webhooks.seed_router,
    ):
        app.include_router(router)
    web.install(app)  # the web app at `/`, for paths no route above matched
    return app

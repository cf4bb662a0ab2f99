"""HTTP surface of the emulator: fal's queue, run, storage and JWKS endpoints on one TLS port.

Path prefixes keep the hosts apart: /queue (FAL_QUEUE_RUN_HOST), /run (FAL_RUN_HOST),
/rest (REST_URL and, optionally, CDN_URL) and /files (stored files and CDN uploads).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagegen_fal_emulator.apps import App, default_apps
from imagegen_fal_emulator.certs import ensure_tls_files, load_signing_key
from imagegen_fal_emulator.queue import RequestQueue, RequestState, RunFailure, Runner
from imagegen_fal_emulator.settings import EmulatorSettings
from imagegen_fal_emulator.storage import FileFetcher, FileStore
from imagegen_fal_emulator.webhooks import WebhookSender

APP_NAMESPACES = ("workflows", "comfy")
REQUEST_PATH = re.compile(
    r"(?P<app>(?:(?:workflows|comfy)/)?[^/]+/[^/]+)/requests/(?P<id>[^/]+)"
    r"(?:/(?P<action>status|cancel))?"
)
STORED_KEY = r"[0-9a-f]{32}/[^/]+"
MULTIPART_PART = re.compile(rf"(?P<key>{STORED_KEY})/multipart/(?P<upload>[0-9a-f]{{32}})/(?P<n>\d+)")
MULTIPART_COMPLETE = re.compile(rf"(?P<key>{STORED_KEY})/multipart/(?P<upload>[0-9a-f]{{32}})/complete")
CDN_TOKEN_LIFETIME = timedelta(hours=1)


def fal_json(body: Any, status_code: int = 200, request_id: str | None = None) -> JSONResponse:
    """Every fal answer carries x-fal-request-id; the client also uses it to skip retries."""
    return JSONResponse(body, status_code, headers={"x-fal-request-id": request_id or str(uuid.uuid4())})


def origin_of(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def split_app_path(path: str) -> tuple[str, str] | None:
    """Return (endpoint id, `[namespace/]owner/alias`) for a submit or run path."""
    parts = [part for part in path.split("/") if part]
    skip = 1 if parts and parts[0] in APP_NAMESPACES else 0
    if len(parts) < skip + 2:
        return None
    return "/".join(parts), "/".join(parts[: skip + 2])


class Emulator:
    def __init__(self, settings: EmulatorSettings, apps: dict[str, App]) -> None:
        self.settings = settings
        self.tls = ensure_tls_files(settings.cert_dir)
        self.files = FileStore()
        self.webhooks = WebhookSender(
            load_signing_key(settings.cert_dir),
            settings.user_id,
            settings.webhook_retry_delays,
            settings.webhook_timeout,
            str(self.tls.bundle),
        )
        fetcher = FileFetcher(str(self.tls.bundle))
        self.runner = Runner(apps, self.files, fetcher, settings.latency)
        self.queue = RequestQueue(self.runner, self.webhooks, settings.max_concurrent)
        self._cdn_tokens: set[str] = set()

    # -- auth ---------------------------------------------------------------

    def _key_ok(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme != "Key" or not credentials:
            return False
        return self.settings.key is None or hmac.compare_digest(credentials, self.settings.key)

    def _upload_auth_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer" and token:
            return self.settings.key is None or token in self._cdn_tokens
        return self._key_ok(request)

    @staticmethod
    def _unauthorized() -> Response:
        return fal_json({"detail": "Unauthorized: invalid or missing fal key"}, 401)

    # -- queue and run ------------------------------------------------------

    async def queue_endpoint(self, request: Request) -> Response:
        """Submit, status, result and cancel under the queue host (/queue)."""
        if not self._key_ok(request):
            return self._unauthorized()
        path = request.path_params["path"]
        if request.method == "POST":
            return await self._submit(request, path)
        match = REQUEST_PATH.fullmatch(path)
        if match is None:
            return fal_json({"detail": "Not found"}, 404)
        queued = self.queue.find(match["app"], match["id"])
        if queued is None:
            return fal_json({"detail": f"Request {match['id']} not found"}, 404)
        action = match["action"]
        if request.method == "GET" and action == "status":
            with_logs = request.query_params.get("logs", "").lower() in ("true", "1")
            status_code = 200 if queued.state is RequestState.COMPLETED else 202
            return fal_json(self.queue.status(queued, with_logs), status_code, queued.request_id)
        if request.method == "GET" and action is None:
            if queued.state is not RequestState.COMPLETED:
                return fal_json({"detail": "Request is still in progress"}, 400, queued.request_id)
            if queued.failure is not None:
                return self._failure_response(queued.failure, queued.request_id)
            return fal_json(queued.output, 200, queued.request_id)
        if request.method == "PUT" and action == "cancel":
            if not self.queue.cancel(queued):
                return fal_json({"status": "ALREADY_COMPLETED"}, 400, queued.request_id)
            return fal_json({"status": "CANCELLATION_REQUESTED"}, 202, queued.request_id)
        return fal_json({"detail": "Method not allowed"}, 405)

    async def _submit(self, request: Request, path: str) -> Response:
        app = self._resolve_app(path)
        if isinstance(app, Response):
            return app
        endpoint_id, app_path = app
        payload = await self._json_body(request)
        if isinstance(payload, Response):
            return payload
        webhook_url = request.query_params.get("fal_webhook")
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            return fal_json({"detail": "fal_webhook must be an http(s) URL"}, 400)
        queued = self.queue.submit(endpoint_id, app_path, payload, origin_of(request), webhook_url)
        position = self.queue.queue_position(queued) if queued.state is RequestState.IN_QUEUE else 0
        body = {
            **queued.urls(),
            "gateway_request_id": queued.request_id,
            "status": "IN_QUEUE",
            "queue_position": position,
        }
        return fal_json(body, 200, queued.request_id)

    async def run_endpoint(self, request: Request) -> Response:
        """Synchronous run: the model output in the response itself."""
        if not self._key_ok(request):
            return self._unauthorized()
        app = self._resolve_app(request.path_params["path"])
        if isinstance(app, Response):
            return app
        payload = await self._json_body(request)
        if isinstance(payload, Response):
            return payload
        request_id = str(uuid.uuid4())
        try:
            output = await self.runner.run(app[0], payload, origin_of(request), logs=[])
        except RunFailure as failure:
            return self._failure_response(failure, request_id)
        return fal_json(output, 200, request_id)

    def _resolve_app(self, path: str) -> tuple[str, str] | Response:
        parsed = split_app_path(path)
        if parsed is None or parsed[0] not in self.runner.apps:
            return fal_json({"detail": f"Application '{path}' not found"}, 404)
        return parsed

    @staticmethod
    async def _json_body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError:
            return fal_json(
                {"detail": [{"loc": ["body"], "msg": "invalid JSON", "type": "value_error.json"}]},
                422,
            )

    @staticmethod
    def _failure_response(failure: RunFailure, request_id: str) -> Response:
        response = fal_json(failure.body(), failure.status_code, request_id)
        if failure.error_type:
            response.headers["X-Fal-Error-Type"] = failure.error_type
        return response

    # -- storage ------------------------------------------------------------

    async def cdn_token(self, request: Request) -> Response:
        """Short-lived CDN upload token, as REST_URL/storage/auth/token hands out."""
        if not self._key_ok(request):
            return self._unauthorized()
        token = secrets.token_urlsafe(24)
        self._cdn_tokens.add(token)
        return fal_json(
            {
                "token": token,
                "token_type": "Bearer",
                "base_url": origin_of(request),
                # Must carry a UTC offset: fal-client compares it with an aware datetime.
                "expires_at": (datetime.now(UTC) + CDN_TOKEN_LIFETIME).isoformat(),
            }
        )

    async def initiate_upload(self, request: Request) -> Response:
        """Fallback storage upload: reserve a URL that the client then PUTs to."""
        if not self._key_ok(request):
            return self._unauthorized()
        payload = await self._json_body(request)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict):
            payload = {}
        key = self.files.reserve(
            str(payload.get("file_name") or "upload.bin"),
            str(payload.get("content_type") or "application/octet-stream"),
        )
        url = f"{origin_of(request)}/files/{key}"
        # The PUT target doubles as the public URL: a PUT fills it once, GETs read it.
        return fal_json({"upload_url": url, "file_url": url})

    async def upload(self, request: Request) -> Response:
        """Single-request CDN upload of raw bytes."""
        if not self._upload_auth_ok(request):
            return self._unauthorized()
        key = self.files.new_key(request.headers.get("x-fal-file-name", "upload.bin"))
        content_type = request.headers.get("content-type", "application/octet-stream")
        self.files.put(key, await request.body(), content_type)
        return fal_json({"access_url": f"{origin_of(request)}/files/{key}"})

    async def start_multipart(self, request: Request) -> Response:
        """Start a multipart CDN upload (used by fal-client above 100 MiB)."""
        if not self._upload_auth_ok(request):
            return self._unauthorized()
        key, upload_id = self.files.start_multipart(
            request.headers.get("x-fal-file-name", "upload.bin"),
            request.headers.get("content-type", "application/octet-stream"),
        )
        return fal_json({"access_url": f"{origin_of(request)}/files/{key}", "uploadId": upload_id})

    async def files_endpoint(self, request: Request) -> Response:
        """Stored files (GET) plus the upload targets that live under /files."""
        path = request.path_params["path"]
        if request.method in ("GET", "HEAD"):
            stored = self.files.get(path)
            if stored is None:
                return fal_json({"detail": "File not found"}, 404)
            return Response(stored.content, media_type=stored.content_type)
        if request.method == "POST" and path == "upload":
            return await self.upload(request)
        if request.method == "POST" and path == "upload/multipart":
            return await self.start_multipart(request)
        if request.method == "PUT" and (match := MULTIPART_PART.fullmatch(path)):
            return await self._upload_part(request, match)
        if request.method == "POST" and (match := MULTIPART_COMPLETE.fullmatch(path)):
            return await self._complete_multipart(request, match)
        if request.method == "PUT":
            if self.files.complete_reserved(path, await request.body()):
                return fal_json({"status": "OK"})
            return fal_json({"detail": "No upload was initiated for this URL"}, 404)
        return fal_json({"detail": "Not found"}, 404)

    async def _upload_part(self, request: Request, match: re.Match[str]) -> Response:
        if not self._upload_auth_ok(request):
            return self._unauthorized()
        content = await request.body()
        if not self.files.add_part(match["key"], match["upload"], int(match["n"]), content):
            return fal_json({"detail": "Unknown multipart upload"}, 404)
        response = fal_json({})
        # fal-client reads the ETag of every part to complete the upload.
        response.headers["ETag"] = f'"{hashlib.md5(content).hexdigest()}"'
        return response

    async def _complete_multipart(self, request: Request, match: re.Match[str]) -> Response:
        if not self._upload_auth_ok(request):
            return self._unauthorized()
        payload = await self._json_body(request)
        if isinstance(payload, Response):
            return payload
        parts = payload.get("parts", []) if isinstance(payload, dict) else []
        numbers = [int(part["partNumber"]) for part in parts if isinstance(part, dict)]
        if not self.files.finish_multipart(match["key"], match["upload"], numbers):
            return fal_json({"detail": "Unknown multipart upload or missing parts"}, 400)
        return fal_json({"access_url": f"{origin_of(request)}/files/{match['key']}"})

    # -- misc ---------------------------------------------------------------

    async def jwks(self, request: Request) -> Response:
        """Public keys that verify webhook signatures."""
        return JSONResponse(self.webhooks.jwks())

    async def deliveries(self, request: Request) -> Response:
        """Every webhook delivery attempt so far, for tests."""
        return JSONResponse(self.webhooks.deliveries())

    async def health(self, request: Request) -> Response:
        """Readiness probe."""
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        await self.queue.close()
        await self.webhooks.close()


def create_app(settings: EmulatorSettings, apps: dict[str, App] | None = None) -> Starlette:
    """Build the ASGI app; creates TLS files and the signing key in settings.cert_dir if missing."""
    emulator = Emulator(settings, apps if apps is not None else default_apps())
    routes = [
        Route("/health", emulator.health),
        Route("/_emulator/deliveries", emulator.deliveries),
        Route("/rest/.well-known/jwks.json", emulator.jwks),
        Route("/rest/storage/auth/token", emulator.cdn_token, methods=["POST"]),
        Route("/rest/storage/upload/initiate", emulator.initiate_upload, methods=["POST"]),
        # For CDN_URL pointed at /rest, as in the protocol notes; /files/upload also works.
        Route("/rest/files/upload", emulator.upload, methods=["POST"]),
        Route("/rest/files/upload/multipart", emulator.start_multipart, methods=["POST"]),
        Route("/files/{path:path}", emulator.files_endpoint, methods=["GET", "PUT", "POST"]),
        Route("/run/{path:path}", emulator.run_endpoint, methods=["POST"]),
        Route("/queue/{path:path}", emulator.queue_endpoint, methods=["GET", "POST", "PUT"]),
    ]
    app = Starlette(routes=routes, lifespan=emulator.lifespan)
    app.state.emulator = emulator
    return app

"""The web app (the top-level `web/` folder) at `/`: static files, a Content-Security-Policy, caching.

It answers only what no route matched, as the router's not-found fallback: every API route, `/docs`
and `/openapi.json` keep their answers (a wrong method on an API path is still a 405), `/api/...`
paths nobody serves are still the JSON 404, and the app stays out of the OpenAPI document. A GET of
any other path answers index.html, so the app's own routes (`/models/7`) survive a reload.

There is no build step: the files are served as they are, under `/assets/<hash of every file>/`
so they can be cached for a year (a change of any file changes every URL); index.html, which names
that hash, is revalidated on every load.
"""

import hashlib
import json
import mimetypes
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

# services/gateway/src/imagegen_gateway/web.py -> the repository root's web/.
_DEFAULT_ROOT = Path(__file__).resolve().parents[4] / "web"
# Paths the API owns: an unmatched one keeps its JSON 404.
_API_PREFIXES = ("/api/", "/docs/", "/redoc/", "/metrics/")
_API_PATHS = {"/api", "/docs", "/redoc", "/metrics", "/openapi.json"}
ASSETS_PREFIX = "/assets/"
_IMMUTABLE = "public, max-age=31536000, immutable"


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_WEB_", extra="ignore")

    # The app's files; the image sets it (its web/ is copied beside the venv).
    root: Path = _DEFAULT_ROOT
    # CSP sources the pages may show images from and PUT uploads to: the bucket or CDN that signed
    # URLs point at (e.g. https://imagegen.s3.us-east-1.amazonaws.com); the local stack adds its S3.
    media_origins: list[str] = Field(default_factory=lambda: ["https:"])
    # Stripe Payment Links (hosted Checkout pages) by plan, e.g. {"pro": "https://buy.stripe.com/..."};
    # the page adds the team as client_reference_id. Plans without a link cannot be bought here.
    checkout_links: dict[str, str] = Field(default_factory=dict)


def content_security_policy(settings: WebSettings) -> str:
    media = " ".join(settings.media_origins)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {media}",
            f"connect-src 'self' {media}",
            "manifest-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def _version(root: Path) -> str:
    """A short hash of every file's path and bytes: it changes whenever any file does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


class WebApp:
    """Answers GET and HEAD of paths no route matched; hands everything else to `fallback`."""

    def __init__(self, settings: WebSettings, fallback: ASGIApp) -> None:
        self.root = settings.root.resolve()
        if not (self.root / "index.html").is_file():
            raise RuntimeError(f"no web app at {self.root} (set GATEWAY_WEB_ROOT)")
        self.fallback = fallback
        self.version = _version(self.root)
        self.assets = f"{ASSETS_PREFIX}{self.version}/"
        # The page's settings travel inside index.html, as data the CSP lets no script run from.
        config = json.dumps({"checkoutLinks": settings.checkout_links}).replace("<", "\\u003c")
        self.index = (
            (self.root / "index.html")
            .read_text()
            .replace("{{ASSETS}}", self.assets.rstrip("/"))
            .replace("{{CONFIG}}", config)
            .encode()
        )
        self.index_etag = f'"{hashlib.sha256(self.index).hexdigest()[:16]}"'
        self.headers = {
            "Content-Security-Policy": content_security_policy(settings),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "X-Frame-Options": "DENY",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or path in _API_PATHS
            or path.startswith(_API_PREFIXES)
        ):
            await self.fallback(scope, receive, send)
            return
        response = self._asset(path) if path.startswith(ASSETS_PREFIX) else self._page(Request(scope))
        response.headers.update(self.headers)
        await response(scope, receive, send)

    def _asset(self, path: str) -> Response:
        relative = path.removeprefix(self.assets)
        file = (self.root / relative).resolve()
        # Another version's URL (a tab open across a deploy) is a 404: the page reloads itself.
        if relative == path or not file.is_file() or not file.is_relative_to(self.root):
            return PlainTextResponse("not found", status_code=404, headers={"Cache-Control": "no-store"})
        media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return FileResponse(file, media_type=media_type, headers={"Cache-Control": _IMMUTABLE})

    def _page(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-cache", "ETag": self.index_etag}
        if request.headers.get("if-none-match") == self.index_etag:
            return Response(status_code=304, headers=headers)
        return Response(self.index, media_type="text/html; charset=utf-8", headers=headers)


def install(app: FastAPI, settings: WebSettings | None = None) -> None:
    """Serve the web app from the router's not-found fallback (see the module's docstring)."""
    app.router.default = WebApp(settings or WebSettings(), app.router.default)

"""How the gateway serves the web app, on a bare FastAPI app (no stack): only GETs no route matched
reach it, assets are cached by version, and nothing outside the app's folder is served."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from imagegen_gateway import web
from imagegen_gateway.errors import install_error_handlers


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text('<script src="{{ASSETS}}/js/main.js"></script>{{CONFIG}}')
    (root / "js" / "main.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("not for the web")
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/things")
    def things() -> list[str]:
        return []

    settings = web.WebSettings(root=root, checkout_links={"pro": "https://buy.stripe.com/x</script>"})
    web.install(app, settings)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
        yield client


async def test_app_paths_answer_the_page_and_api_paths_keep_their_answers(client: httpx.AsyncClient):
    page = await client.get("/models/7")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assert "\\u003c/script>" in page.text  # settings cannot close the script element holding them
    again = await client.get("/models/7", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    assert (await client.get("/api/things")).json() == []
    assert (await client.get("/api/nothing")).json()["error"]["code"] == "not_found"
    assert (await client.post("/api/things")).status_code == 405
    assert (await client.post("/models")).status_code == 404


async def test_assets_are_cached_by_version_and_stay_inside_the_folder(client: httpx.AsyncClient):
    page = await client.get("/")
    version = page.text.split('src="/assets/')[1].split("/")[0]
    script = await client.get(f"/assets/{version}/js/main.js")
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert script.text == "console.log('hi')"
    assert "script-src 'self'" in script.headers["content-security-policy"]
    assert (await client.get("/assets/0123456789ab/js/main.js")).status_code == 404
    assert (await client.get(f"/assets/{version}/%2e%2e/secret.txt")).status_code == 404

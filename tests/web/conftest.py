"""Headless Chromium for the web app's tests: Debian's `chromium` driven by Playwright (never a
browser Playwright downloads). A missing browser fails the tests; `make test` installs it first.

Screenshots go to a temporary folder, or to IMAGEGEN_SCREENSHOTS when set (`make web-screenshots`
refreshes docs/screenshots/ that way).
"""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
DESKTOP = {"width": 1280, "height": 860}
# Long enough for a training or a job on the local stack, short enough to fail a hung page quickly.
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


# Per module, and after the stack: Playwright's sync API marks this thread's event loop as running
# while it is open, so nothing else here may call asyncio.run meanwhile (the stack's start does).
@pytest.fixture(scope="module")
def browser(stack) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no browser at {CHROMIUM}: `make browser` installs Debian's chromium (apt-get)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


def open_page(browser: Browser, base_url: str, viewport: dict[str, int]) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (no cookies) on the app; page errors fail the test that meets them."""
    context = browser.new_context(base_url=base_url, viewport=viewport, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


@pytest.fixture
def page(browser: Browser, stack) -> Iterator[Page]:
    context, page = open_page(browser, stack.gateway_url, DESKTOP)
    yield page
    context.close()
    assert not page.errors, page.errors  # type: ignore[attr-defined]


class Screenshots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str, full_page: bool = True) -> None:
        """`<name>.png` of the page from its top (all of it, or what the viewport shows), without
        passing toasts."""
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(
            path=self.folder / f"{name}.png",
            full_page=full_page,
            animations="disabled",
            caret="hide",
            style=".toasts { visibility: hidden; }",
        )


@pytest.fixture(scope="session")
def screenshots() -> Iterator[Screenshots]:
    chosen = os.environ.get("IMAGEGEN_SCREENSHOTS")
    if chosen:
        yield Screenshots(Path(chosen))
        return
    with tempfile.TemporaryDirectory(prefix="imagegen-screenshots-") as folder:
        yield Screenshots(Path(folder))

"""The web app in headless Chromium against the whole stack: a person signs up, upgrades through
(the local stand-in for) Stripe Checkout, trains a model from uploaded files, watches it train,
generates, watches the job, downloads an image and finds the charge on the credits screen."""

import re
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
PHONE = {"width": 390, "height": 844}
# Reference model 1 (complexity 1.5), 1024x1024 hd, one image: 5 x 2 x 1.5 x 1.5 x 1.2.
HD_IMAGE_CREDITS = "27.00"
STANDARD_IMAGE_CREDITS = "18.00"


def png(path: Path, n: int, size: tuple[int, int] = (640, 768)) -> Path:
    """A distinct picture per n (no two are duplicates)."""
    Image.new("RGB", size, ((n * 37) % 256, (n * 91) % 256, (n * 151) % 256)).save(path, "PNG")
    return path


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def sign_up(page: Page, team: str) -> str:
    email = f"web-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Team name").fill(team)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/models$"))
    expect(page.locator("#plan")).to_have_text("free")
    return email


def test_a_new_team_trains_a_model_generates_and_sees_the_charge(page: Page, tmp_path: Path, screenshots):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    screenshots.take(page, "sign-in")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    screenshots.take(page, "sign-up")
    sign_up(page, "Acme Studio")
    expect(page.locator("#balance")).to_have_text("0.00 credits")

    # Upgrade: the hosted Checkout page (locally, the devstack's stand-in) and back.
    nav(page, "Credits")
    page.get_by_role("link", name="Upgrade to pro").click()
    expect(page.get_by_role("heading", name="Subscribe to the pro plan")).to_be_visible()
    page.get_by_role("button", name="Subscribe").click()
    expect(page).to_have_url(re.compile(r"/credits\?checkout=success$"))
    expect(page.locator("#plan")).to_have_text("pro")
    expect(page.locator("#balance")).to_have_text("2,000.00 credits")

    nav(page, "Models")
    expect(page.locator("#catalog .model-card")).to_have_count(50)
    # Previews are rendered in the background when the models service starts: a fresh stack may
    # not have them yet, and the page shows what the catalog has when it opens.
    for _ in range(30):
        if page.locator("#catalog img.preview").count() == 50:
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("#catalog img.preview")).to_have_count(50)
    screenshots.take(page, "models", full_page=False)

    # Create a model: the dataset check names the image that cannot be used, nothing is charged.
    page.get_by_role("link", name="Train a model on Editorial Fashion").click()
    expect(page.get_by_label("Reference model")).to_have_value("1")
    page.get_by_label("Name", exact=True).fill("Autumn lookbook")
    page.get_by_label("Trigger word").fill("acme_look")
    good = [png(tmp_path / f"look-{n}.png", n) for n in range(1, 5)]
    small = png(tmp_path / "tiny.png", 99, (300, 300))
    page.locator("#training-files").set_input_files([*good, small])
    expect(page.locator(".file", has_text="uploaded")).to_have_count(5)
    submit = page.get_by_role("button", name=re.compile(r"^Pay .* credits and start training$"))
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.locator("#findings [role=alert]")).to_contain_text("nothing was charged")
    expect(page.locator(".file.invalid")).to_have_count(1)
    expect(page.locator(".file.invalid")).to_contain_text("tiny.png")
    screenshots.take(page, "create-model")
    expect(page.locator("#balance")).to_have_text("2,000.00 credits")

    page.get_by_role("button", name="Remove tiny.png").click()
    expect(page.locator(".file")).to_have_count(4)
    quote = page.locator("#quote-credits")
    expect(quote).to_have_text(re.compile(r"credits$"))
    page.get_by_role("button", name=f"Pay {quote.inner_text()} and start training").click()

    # Training runs to ready while the page polls the model.
    expect(page).to_have_url(re.compile(r"/models/\d+$"))
    version = page.locator("tr[data-version='1']")
    expect(version).to_be_visible()
    expect(version.locator(".badge.ready")).to_be_visible(timeout=60_000)
    expect(page.locator("h1 .badge")).to_have_text("ready")
    screenshots.take(page, "model-detail")

    # Generate from it: the quote follows the settings; the job is followed to its images.
    page.get_by_role("link", name="Generate with it").click()
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(re.compile(r"^custom:\d+$"))
    page.get_by_label("Prompt").fill("acme_look in a red coat, autumn park [[slow:2]]")
    expect(page.locator("#quote-credits")).to_have_text(f"{STANDARD_IMAGE_CREDITS} credits")
    page.get_by_label("HD").check()
    expect(page.locator("#quote-credits")).to_have_text(f"{HD_IMAGE_CREDITS} credits")
    page.get_by_role("button", name=f"Generate · {HD_IMAGE_CREDITS} credits").click()
    expect(page.locator("#current-job progress")).to_be_visible()  # running, with its progress
    expect(page.locator("#current-job [data-status]")).to_have_attribute("data-status", "completed")
    image = page.locator("#current-job .gallery img")
    expect(image).to_be_visible()
    expect(page.locator("#current-job")).to_contain_text(f"charged {HD_IMAGE_CREDITS}")
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) > 0
    with page.expect_download() as download:
        page.locator("#current-job .gallery").get_by_role("link", name=re.compile("^Download")).click()
    assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")
    expect(page.locator("#past-jobs tbody tr").first).to_contain_text("completed")
    screenshots.take(page, "generate")

    # The charge is on the credits screen, in the history and in its CSV export.
    nav(page, "Credits")
    capture = page.locator("#history tr[data-type='capture']")
    expect(capture).to_have_count(2)  # the training and the image
    expect(capture.first).to_contain_text(HD_IMAGE_CREDITS)
    expect(page.locator("#usage svg.chart rect.bar")).to_have_count(30)
    with page.expect_download() as export:
        page.get_by_role("button", name="Export CSV").click()
    csv = Path(export.value.path()).read_text()
    assert csv.startswith("id,createdAt,type,credits") and ",capture," in csv
    screenshots.take(page, "credits")

    # The same screens at a phone's width.
    page.set_viewport_size(PHONE)
    screens = [
        ("/models", "models", "#custom-models .model-card"),
        ("/generate", "generate", "#quote-credits"),
        ("/credits", "credits", "#usage svg"),
    ]
    for path, name, loaded in screens:
        page.goto(path)
        expect(page.locator(loaded).first).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"
        screenshots.take(page, f"phone-{name}", full_page=False)


def test_keys_and_webhook_endpoints_are_managed_from_the_app(page: Page, screenshots):
    sign_up(page, "Key Team")
    nav(page, "Keys & webhooks")

    page.get_by_label("Name", exact=True).fill("ci pipeline")
    page.get_by_label("generate").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#key-created code")
    expect(secret).to_have_text(re.compile(r"^ig_"))
    row = page.locator("#keys tbody tr", has_text="ci pipeline")
    expect(row).to_contain_text("read, generate")
    assert secret.inner_text() not in page.locator("#keys").inner_text()  # listed without its secret

    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_label("Description").fill("orders service")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#webhook-created code")).to_have_text(re.compile(r"^whsec_"))
    endpoint = page.locator("#webhook-endpoints article", has_text="http://127.0.0.1:9/hooks")
    expect(endpoint.locator(".badge")).to_have_text("active")
    endpoint.get_by_role("button", name="Show deliveries").click()
    expect(endpoint).to_contain_text("Nothing delivered yet.")
    screenshots.take(page, "keys-and-webhooks")

    endpoint.get_by_role("button", name="Pause").click()
    expect(endpoint.locator(".badge")).to_have_text("paused")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(row.locator(".badge")).to_have_text("revoked")


def test_signing_in_again_restores_the_team_and_a_wrong_password_is_refused(page: Page):
    email = sign_up(page, "Return Team")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/models$"))
    expect(page.locator("#team-select")).to_contain_text("Return Team (owner)")


def test_the_app_is_served_beside_the_api_with_its_headers(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        index = client.get("/models/42")  # an app route: index.html, so a reload keeps the page
        api_404 = client.get("/api/no-such-thing")
        wrong_method = client.delete("/api/credits/balance")
        docs = client.get("/openapi.json")
        asset = re.search(r'src="(/assets/[0-9a-f]+/js/main\.js)"', index.text)
        assert asset, index.text
        script = client.get(asset.group(1))
        stale = client.get(re.sub(r"/assets/[0-9a-f]+/", "/assets/000000000000/", asset.group(1)))

    assert (index.status_code, index.headers["cache-control"]) == (200, "no-cache")
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert script.status_code == 200
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert stale.status_code == 404
    assert (api_404.status_code, api_404.json()["error"]["code"]) == (404, "not_found")
    assert wrong_method.status_code == 405
    assert not [path for path in docs.json()["paths"] if not path.startswith("/api")]

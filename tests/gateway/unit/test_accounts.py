"""Accounts for people without a database: the password policy and hashes, the CSRF origin check,
the settings that drive cookies and origins, and the scopes a session's role gives."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from imagegen_gateway import csrf, passwords
from imagegen_gateway.adapters import accounts, api_keys, sessions
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.deps import SESSION_COOKIE
from pydantic import ValidationError

ADDRESSES = {
    "database_url": "postgresql+asyncpg://unused/unused",
    "models_addr": "unused:1",
    "generation_addr": "unused:1",
    "credits_addr": "unused:1",
    "storage_addr": "unused:1",
}
SETTINGS = GatewaySettings(**ADDRESSES)
WEB_ORIGIN = "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pass!", "must be at least 12 characters"),
        ("x" * 1025, "must be at most 1024 characters"),
        ("Ada@Example.com ", "must not be your email address"),
        ("twelve chars", None),
        ("correct horse battery staple", None),
    ],
)
def test_the_password_policy_names_what_is_wrong(password, problem):
    assert passwords.policy_problem(password, "ada@example.com") == problem


async def test_passwords_are_hashed_with_argon2id_and_verified():
    hashed = await passwords.hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert await passwords.verify_password(hashed, "correct horse battery staple")
    assert not await passwords.verify_password(hashed, "correct horse battery stapler")
    assert not await passwords.verify_password("not a hash", "correct horse battery staple")


async def test_an_unknown_email_costs_a_hash_verification_like_a_wrong_password(monkeypatch):
    verified = []
    hasher = passwords._hasher

    class Spy:
        hash = hasher.hash

        def verify(self, password_hash, password):
            verified.append(password_hash)
            return hasher.verify(password_hash, password)

    monkeypatch.setattr(passwords, "_hasher", Spy())
    # The dummy hash's own password must not sign anybody in either.
    assert not await passwords.verify_password(None, "no account has this password")
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://App.Example.com/", "https://app.example.com"),
        ("https://app.example.com:443/path?q=1", "https://app.example.com"),
        ("http://127.0.0.1:8080/docs", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("ftp://example.com", None),
        ("https://example.com:notaport", None),
    ],
)
def test_origin_of_is_what_a_browser_sends(url, origin):
    assert csrf.origin_of(url) == origin


def test_the_sending_origin_is_the_origin_header_else_the_referers():
    assert csrf.sending_origin("https://app.example.com", "https://evil.example") == "https://app.example.com"
    assert csrf.sending_origin(None, "https://app.example.com/team?x=1") == "https://app.example.com"
    assert csrf.sending_origin("null", None) == "null"
    assert csrf.sending_origin(None, None) is None


def test_locally_cookies_are_not_secure_and_the_gateways_own_origin_is_trusted():
    assert SETTINGS.public_url == WEB_ORIGIN
    assert SETTINGS.web_origins == [WEB_ORIGIN]
    assert not SETTINGS.session_cookie_secure


def test_elsewhere_cookies_are_secure_and_no_origin_is_trusted_until_configured():
    unconfigured = GatewaySettings(**ADDRESSES, http_host="0.0.0.0")
    assert unconfigured.session_cookie_secure and unconfigured.web_origins == []
    configured = GatewaySettings(
        **ADDRESSES,
        http_host="0.0.0.0",
        public_url="https://imagegen.example.com",
        web_origins=["https://App.Example.com/", "https://admin.example.com:443"],
    )
    assert configured.session_cookie_secure
    assert configured.web_origins == ["https://app.example.com", "https://admin.example.com"]
    with pytest.raises(ValidationError):
        GatewaySettings(**ADDRESSES, web_origins=["app.example.com"])


def test_owners_hold_every_scope_and_members_all_but_billing_and_admin():
    assert accounts.ROLE_SCOPES["owner"] == set(api_keys.SCOPES)
    assert accounts.ROLE_SCOPES["member"] == {"read", "generate", "train"}


@pytest.fixture
def signed_in(monkeypatch, api_key_callers):
    """Session tokens to sessions, in place of the database; API key `read-only` holds `read`."""
    expires_at = datetime.now(UTC) + timedelta(days=14)
    known = {
        "owner": sessions.Session("s-1", "user-1", "team-1", "owner", expires_at),
        "member": sessions.Session("s-2", "user-2", "team-1", "member", expires_at),
        "teamless": sessions.Session("s-3", "user-3", None, None, expires_at),
    }

    async def live_session(engine, token):
        return known.get(token)

    monkeypatch.setattr(sessions, "live_session", live_session)
    api_key_callers["read-only"] = api_keys.Caller("key-1", "team-1", frozenset({"read"}))


def client(session: str | None = None) -> httpx.AsyncClient:
    app = create_app(SETTINGS)
    app.state.engine = None
    app.state.settings = SETTINGS
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8080",
        cookies={SESSION_COOKIE: session} if session else None,
    )


async def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/x"}],
)
async def test_a_cookie_write_not_from_our_web_origin_is_refused(signed_in, headers):
    async with client("owner") as http:
        response = await http.post("/api/keys", json={}, headers=headers)
    assert await error_of(response) == (403, "csrf_failed")


async def test_a_cookie_write_from_our_web_origin_goes_on_to_the_scope_check(signed_in):
    async with client("member") as http:
        by_origin = await http.post("/api/keys", json={}, headers={"Origin": WEB_ORIGIN})
        by_referer = await http.post("/api/keys", json={}, headers={"Referer": f"{WEB_ORIGIN}/team"})
        read = await http.get("/api/keys")
    for response in (by_origin, by_referer, read):
        assert await error_of(response) == (403, "insufficient_scope")
        assert response.json()["error"]["details"]["requiredScope"] == "admin"
    assert "your role (member)" in read.json()["error"]["message"]


async def test_an_api_key_needs_no_origin_and_wins_over_a_cookie(signed_in):
    async with client("owner") as http:
        response = await http.post("/api/keys", json={}, headers={"Authorization": "Bearer read-only"})
    assert await error_of(response) == (403, "insufficient_scope")


async def test_an_unknown_session_is_401_and_a_session_without_a_team_403(signed_in):
    async with client("ended") as http:
        assert await error_of(await http.get("/api/jobs")) == (401, "unauthenticated")
    async with client("teamless") as http:
        assert await error_of(await http.get("/api/jobs")) == (403, "no_current_team")


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/signup"])
async def test_signing_in_from_another_sites_page_is_refused(path):
    async with client() as http:
        response = await http.post(path, json={}, headers={"Origin": "https://evil.example"})
    assert await error_of(response) == (403, "csrf_failed")

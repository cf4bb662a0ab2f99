"""Accounts for people on a real Postgres, through the gateway's HTTP API (credits faked in memory):
sign-up and sign-in, sessions (expiry, sliding, revocation, switching team), members with the
last-owner rule, and invitations."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from imagegen.credits.v1 import credits_pb2, credits_service_pb2
from imagegen_gateway.adapters import accounts
from imagegen_gateway.adapters.tables import invitation, user_account, user_session
from imagegen_gateway.adapters.tokens import hash_secret
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.deps import SESSION_COOKIE
from imagegen_platform import db
from sqlalchemy import func, select, update

ORIGIN = "http://127.0.0.1:8080"
PASSWORD = "correct horse battery staple"


class FakeCredits:
    def __init__(self) -> None:
        self.accounts: dict[str, int] = {}

    async def CreateAccount(self, request):
        self.accounts[request.team_id] = request.plan
        return credits_service_pb2.CreateAccountResponse()


@pytest.fixture
async def engine(infrastructure):
    engine = db.create_engine(infrastructure.database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
def credits() -> FakeCredits:
    return FakeCredits()


Browser = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def browser(infrastructure, engine, credits) -> AsyncIterator[Browser]:
    """Opens a browser on the web app: its own cookie jar, and our Origin on every request."""
    settings = GatewaySettings(
        database_url=infrastructure.database_url,
        models_addr="unused:1",
        generation_addr="unused:1",
        credits_addr="unused:1",
        storage_addr="unused:1",
    )
    app = create_app(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.services = SimpleNamespace(credits=credits)
    opened: list[httpx.AsyncClient] = []

    def open_browser() -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=ORIGIN, headers={"Origin": ORIGIN}
        )
        opened.append(client)
        return client

    yield open_browser
    for client in opened:
        await client.aclose()


def new_email() -> str:
    return f"person-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up(http: httpx.AsyncClient, email: str | None = None, team: str = "Acme") -> dict:
    response = await http.post(
        "/api/auth/signup", json={"email": email or new_email(), "password": PASSWORD, "teamName": team}
    )
    assert response.status_code == 201, response.text
    return response.json()


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def invite(http: httpx.AsyncClient, email: str, role: str = "member") -> dict:
    response = await http.post("/api/team/invitations", json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    return response.json()


async def join(owner: httpx.AsyncClient, person: httpx.AsyncClient, role: str = "member") -> dict:
    """Signs `person` up and has them accept the owner's invitation; their sign-up answer."""
    email = new_email()
    token = (await invite(owner, email, role))["token"]
    signed_up = await sign_up(person, email, "Their own")
    accepted = await person.post("/api/invitations/accept", json={"token": token})
    assert accepted.status_code == 200, accepted.text
    return signed_up


async def test_signing_up_makes_the_user_owner_of_a_free_team_with_credits_and_signs_them_in(
    browser, engine, credits
):
    http = browser()
    email = new_email()
    response = await http.post(
        "/api/auth/signup", json={"email": f"  {email.upper()} ", "password": PASSWORD, "teamName": "Acme"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["email"] == email
    team = body["team"]
    assert (team["name"], team["role"]) == ("Acme", "owner")
    assert credits.accounts == {team["id"]: credits_pb2.PLAN_FREE}

    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie, "a plain-http local gateway cannot keep a Secure cookie"
    session = (await http.get("/api/auth/session")).json()
    assert session["user"] == body["user"]
    assert session["teams"] == [team] and session["currentTeam"] == team

    async with engine.connect() as connection:
        stored = (
            await connection.execute(
                select(user_account.c.password_hash).where(user_account.c.email == email)
            )
        ).scalar_one()
        token_hashes = (
            (
                await connection.execute(
                    select(user_session.c.token_hash).where(user_session.c.user_id == body["user"]["id"])
                )
            )
            .scalars()
            .all()
        )
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token = http.cookies[SESSION_COOKIE]
    assert len(token_hashes) == 1 and token not in token_hashes[0]


async def test_an_email_has_one_account_however_it_is_typed_and_a_taken_one_opens_no_team(browser, credits):
    email = new_email()
    await sign_up(browser(), email)
    again = await browser().post(
        "/api/auth/signup", json={"email": f" {email.upper()}", "password": PASSWORD, "teamName": "Again"}
    )
    assert error(again) == (409, "email_taken")
    assert len(credits.accounts) == 1


async def test_a_short_password_is_refused_naming_the_field(browser, credits):
    response = await browser().post(
        "/api/auth/signup", json={"email": new_email(), "password": "too short", "teamName": "Acme"}
    )
    assert error(response) == (400, "invalid_request")
    assert response.json()["error"]["details"] == {"password": "must be at least 12 characters"}
    assert credits.accounts == {}


async def test_signing_in_answers_the_users_teams_and_refuses_wrong_emails_and_passwords_alike(browser):
    email = new_email()
    signed_up = await sign_up(browser(), email)

    http = browser()
    wrong_password = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD + "!"})
    unknown_email = await http.post("/api/auth/login", json={"email": new_email(), "password": PASSWORD})
    for refused in (wrong_password, unknown_email):
        assert error(refused) == (401, "invalid_credentials")
        assert "set-cookie" not in refused.headers
    assert wrong_password.json()["error"]["message"] == unknown_email.json()["error"]["message"]

    response = await http.post("/api/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["user"]["id"] == signed_up["user"]["id"]
    assert session["teams"] == [signed_up["team"]] and session["currentTeam"] == signed_up["team"]
    assert (await http.get("/api/auth/session")).status_code == 200


async def test_a_session_ends_at_logout_or_expiry_and_only_that_one(browser, engine):
    email = new_email()
    first = browser()
    await sign_up(first, email)
    second, third = browser(), browser()
    for http in (second, third):
        assert (
            await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        ).status_code == 200

    logout = await first.post("/api/auth/logout")
    assert logout.status_code == 204
    assert "Max-Age=0" in logout.headers["set-cookie"]
    assert SESSION_COOKIE not in first.cookies
    async with engine.begin() as connection:
        await connection.execute(
            update(user_session)
            .where(user_session.c.token_hash == hash_secret(third.cookies[SESSION_COOKIE]))
            .values(expires_at=func.now() - timedelta(seconds=1))
        )
    assert error(await third.get("/api/auth/session")) == (401, "unauthenticated")
    assert (await second.get("/api/auth/session")).status_code == 200


async def test_a_revoked_session_cookie_replayed_is_refused(browser):
    http = browser()
    await sign_up(http)
    token = http.cookies[SESSION_COOKIE]
    assert (await http.post("/api/auth/logout")).status_code == 204
    replay = browser()
    replay.cookies.set(SESSION_COOKIE, token)
    assert error(await replay.get("/api/auth/session")) == (401, "unauthenticated")
    assert error(await replay.get("/api/team/members")) == (401, "unauthenticated")


async def test_a_session_in_use_slides_its_expiry_and_renews_its_cookie(browser, engine):
    http = browser()
    await sign_up(http)
    token_hash = hash_secret(http.cookies[SESSION_COOKIE])
    async with engine.begin() as connection:
        await connection.execute(
            update(user_session)
            .where(user_session.c.token_hash == token_hash)
            .values(expires_at=func.now() + timedelta(days=1))
        )
    response = await http.get("/api/auth/session")
    assert response.status_code == 200
    expires_at = datetime.fromisoformat(response.json()["expiresAt"])
    assert expires_at > datetime.now(UTC) + timedelta(days=13)
    assert "Max-Age=1209" in response.headers["set-cookie"]
    # Used again at once: the expiry stays, so reads are no writes.
    assert "set-cookie" not in (await http.get("/api/auth/session")).headers


async def test_switching_team_works_only_for_the_users_teams(browser):
    owner, person = browser(), browser()
    owners = await sign_up(owner, team="Owners")
    own = await join(owner, person)
    outsider = await sign_up(browser(), team="Elsewhere")

    refused = await person.post("/api/auth/session/team", json={"teamId": outsider["team"]["id"]})
    assert error(refused) == (404, "team_not_found")
    switched = await person.post("/api/auth/session/team", json={"teamId": owners["team"]["id"]})
    assert switched.status_code == 200, switched.text
    session = switched.json()
    assert session["currentTeam"] == {**owners["team"], "role": "member"}
    assert [team["id"] for team in session["teams"]] == [own["team"]["id"], owners["team"]["id"]]
    assert (await person.get("/api/auth/session")).json()["currentTeam"]["id"] == owners["team"]["id"]


async def test_a_member_acts_with_their_roles_scopes_and_keys_made_by_a_user_name_them(browser):
    owner, person = browser(), browser()
    owners = await sign_up(owner)
    await join(owner, person)
    await person.post("/api/auth/session/team", json={"teamId": owners["team"]["id"]})

    members = await person.get("/api/team/members")
    assert members.status_code == 200
    denied = await person.post("/api/keys", json={"name": "mine", "scopes": ["read"]})
    assert error(denied) == (403, "insufficient_scope")
    assert error(await person.post("/api/team/invitations", json={"email": new_email()})) == (
        403,
        "insufficient_scope",
    )

    created = await owner.post("/api/keys", json={"name": "ci", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    key = created.json()
    assert (key["createdBy"], key["createdByType"]) == (owners["user"]["id"], "user")


async def test_members_are_listed_and_the_last_owner_can_be_neither_demoted_nor_removed(browser):
    owner, person = browser(), browser()
    owners = await sign_up(owner)
    owner_id = owners["user"]["id"]
    person_id = (await join(owner, person))["user"]["id"]

    listed = (await owner.get("/api/team/members")).json()
    assert [(m["userId"], m["role"]) for m in listed["items"]] == [(person_id, "member"), (owner_id, "owner")]
    assert listed["nextCursor"] is None
    first = (await owner.get("/api/team/members", params={"limit": 1})).json()
    rest = (await owner.get("/api/team/members", params={"limit": 1, "cursor": first["nextCursor"]})).json()
    assert [m["userId"] for m in first["items"] + rest["items"]] == [person_id, owner_id]

    assert error(await owner.patch(f"/api/team/members/{owner_id}", json={"role": "member"})) == (
        409,
        "last_owner",
    )
    assert error(await owner.delete(f"/api/team/members/{owner_id}")) == (409, "last_owner")

    promoted = await owner.patch(f"/api/team/members/{person_id}", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    demoted = await owner.patch(f"/api/team/members/{owner_id}", json={"role": "member"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "member"
    # The demotion holds from the next request on: the former owner manages nothing any more.
    assert error(await owner.get("/api/keys")) == (403, "insufficient_scope")
    await person.post("/api/auth/session/team", json={"teamId": owners["team"]["id"]})
    assert error(await person.patch(f"/api/team/members/{person_id}", json={"role": "member"})) == (
        409,
        "last_owner",
    )


async def test_a_removed_member_keeps_their_session_but_no_longer_acts_for_the_team(browser):
    owner, person = browser(), browser()
    owners = await sign_up(owner)
    person_id = (await join(owner, person))["user"]["id"]
    await person.post("/api/auth/session/team", json={"teamId": owners["team"]["id"]})
    assert (await person.get("/api/team/members")).status_code == 200

    assert (await owner.delete(f"/api/team/members/{person_id}")).status_code == 204
    assert error(await owner.delete(f"/api/team/members/{person_id}")) == (404, "member_not_found")
    assert error(await person.get("/api/team/members")) == (403, "no_current_team")
    session = (await person.get("/api/auth/session")).json()
    assert session["currentTeam"] is None
    assert owners["team"]["id"] not in [team["id"] for team in session["teams"]]


async def test_another_teams_members_and_invitations_are_not_found(browser):
    owner, person, stranger = browser(), browser(), browser()
    await sign_up(owner)
    person_id = (await join(owner, person))["user"]["id"]
    pending = await invite(owner, new_email())
    await sign_up(stranger)

    assert error(await stranger.patch(f"/api/team/members/{person_id}", json={"role": "owner"})) == (
        404,
        "member_not_found",
    )
    assert error(await stranger.delete(f"/api/team/members/{person_id}")) == (404, "member_not_found")
    assert error(await stranger.delete(f"/api/team/invitations/{pending['id']}")) == (
        404,
        "invitation_not_found",
    )
    listed = await stranger.get("/api/team/invitations")
    assert listed.json()["items"] == []
    assert person_id not in (await stranger.get("/api/team/members")).text


async def test_an_invitation_is_accepted_once_by_its_email_only(browser):
    owner, invited, someone_else = browser(), browser(), browser()
    owners = await sign_up(owner)
    email = new_email()
    created = await invite(owner, email, "owner")
    assert created["token"].startswith("igi_")
    assert (created["email"], created["role"], created["status"]) == (email, "owner", "pending")
    assert (created["invitedBy"], created["invitedByType"]) == (owners["user"]["id"], "user")
    expires_at = datetime.fromisoformat(created["expiresAt"])
    assert timedelta(days=6, hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=7)

    await sign_up(someone_else)
    wrong = await someone_else.post("/api/invitations/accept", json={"token": created["token"]})
    assert error(wrong) == (403, "invitation_email_mismatch")
    assert error(await browser().post("/api/invitations/accept", json={"token": created["token"]})) == (
        401,
        "unauthenticated",
    )

    await sign_up(invited, email)
    accepted = await invited.post("/api/invitations/accept", json={"token": created["token"]})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {**owners["team"], "role": "owner"}
    again = await invited.post("/api/invitations/accept", json={"token": created["token"]})
    assert error(again) == (404, "invitation_not_found")

    listed = (await owner.get("/api/team/invitations")).json()["items"]
    assert [(i["id"], i["status"]) for i in listed] == [(created["id"], "accepted")]
    assert "token" not in listed[0] and created["token"] not in str(listed)
    assert error(await owner.delete(f"/api/team/invitations/{created['id']}")) == (409, "invitation_accepted")
    assert error(await owner.post("/api/team/invitations", json={"email": email})) == (409, "already_member")


async def test_revoked_expired_and_unknown_invitations_cannot_be_accepted(browser, engine):
    owner, invited = browser(), browser()
    await sign_up(owner)
    email = new_email()
    await sign_up(invited, email)
    revoked, expired = await invite(owner, email), await invite(owner, email)

    first = await owner.delete(f"/api/team/invitations/{revoked['id']}")
    assert first.status_code == 200 and first.json()["status"] == "revoked"
    second = await owner.delete(f"/api/team/invitations/{revoked['id']}")
    assert second.json()["revokedAt"] == first.json()["revokedAt"]
    async with engine.begin() as connection:
        await connection.execute(
            update(invitation)
            .where(invitation.c.id == expired["id"])
            .values(expires_at=func.now() - timedelta(seconds=1))
        )
    statuses = {i["id"]: i["status"] for i in (await owner.get("/api/team/invitations")).json()["items"]}
    assert statuses == {revoked["id"]: "revoked", expired["id"]: "expired"}

    for token in (revoked["token"], expired["token"], "igi_unknown"):
        response = await invited.post("/api/invitations/accept", json={"token": token})
        assert error(response) == (404, "invitation_not_found")
    assert len((await invited.get("/api/auth/session")).json()["teams"]) == 1


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(browser, engine):
    owner, person = browser(), browser()
    owners = await sign_up(owner)
    team_id, owner_id = owners["team"]["id"], owners["user"]["id"]
    person_id = (await join(owner, person, "owner"))["user"]["id"]

    results = await asyncio.gather(
        accounts.set_role(engine, team_id, owner_id, "member"),
        accounts.set_role(engine, team_id, person_id, "member"),
        return_exceptions=True,
    )
    assert sum(isinstance(result, accounts.LastOwner) for result in results) == 1
    members = await accounts.list_members(engine, team_id, 10, None)
    assert [member.role for member in members].count("owner") == 1

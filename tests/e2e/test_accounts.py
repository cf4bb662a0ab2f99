"""Accounts for people over HTTP with cookies, against the whole stack: sign up, the session, CSRF on
cookie writes, inviting a second person who signs up and joins, switching team, a member's limits,
and signing out."""

import uuid

import httpx

PASSWORD = "a long enough password"


def browser(stack) -> httpx.Client:
    """A browser's cookie jar; requests name no origin unless given one."""
    return httpx.Client(base_url=stack.gateway_url, timeout=30)


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_people_sign_up_invite_join_switch_team_and_sign_out(stack):
    web = {"Origin": stack.gateway_url}
    ada_email, bob_email = (f"{name}-{uuid.uuid4().hex[:10]}@example.com" for name in ("ada", "bob"))
    with browser(stack) as ada, browser(stack) as bob:
        signed_up = ada.post(
            "/api/auth/signup",
            json={"email": ada_email.upper(), "password": PASSWORD, "teamName": "Ada's studio"},
            headers=web,
        )
        assert signed_up.status_code == 201, signed_up.text
        ada_user, team = signed_up.json()["user"], signed_up.json()["team"]
        assert (ada_user["email"], team["name"], team["role"]) == (ada_email, "Ada's studio", "owner")

        session = ada.get("/api/auth/session")
        assert session.status_code == 200
        assert session.json()["currentTeam"] == team and session.json()["teams"] == [team]
        # The team's credit account exists, on the free plan; the session reads it like a key would.
        assert ada.get("/api/credits/balance").json()["plan"] == "free"

        key = {"name": "ci", "scopes": ["read"]}
        assert error_code(ada.post("/api/keys", json=key)) == (403, "csrf_failed")
        assert error_code(ada.post("/api/keys", json=key, headers={"Origin": "https://evil.example"})) == (
            403,
            "csrf_failed",
        )
        created = ada.post("/api/keys", json=key, headers=web)
        assert created.status_code == 201, created.text
        assert (created.json()["createdBy"], created.json()["createdByType"]) == (ada_user["id"], "user")

        invited = ada.post("/api/team/invitations", json={"email": bob_email}, headers=web)
        assert invited.status_code == 201, invited.text
        invitation = invited.json()
        assert (invitation["role"], invitation["status"]) == ("member", "pending")

        bob_signed_up = bob.post(
            "/api/auth/signup",
            json={"email": bob_email, "password": PASSWORD, "teamName": "Bob's own"},
            headers=web,
        )
        assert bob_signed_up.status_code == 201, bob_signed_up.text
        bob_id = bob_signed_up.json()["user"]["id"]
        joined = bob.post("/api/invitations/accept", json={"token": invitation["token"]}, headers=web)
        assert joined.status_code == 200, joined.text
        assert joined.json() == {**team, "role": "member"}
        assert error_code(
            bob.post("/api/invitations/accept", json={"token": invitation["token"]}, headers=web)
        ) == (404, "invitation_not_found")

        switched = bob.post("/api/auth/session/team", json={"teamId": team["id"]}, headers=web)
        assert switched.status_code == 200, switched.text
        assert switched.json()["currentTeam"] == {**team, "role": "member"}
        members = bob.get("/api/team/members").json()["items"]
        assert {(m["userId"], m["role"]) for m in members} == {(ada_user["id"], "owner"), (bob_id, "member")}
        assert bob.get("/api/credits/balance").status_code == 200

        for refused in (
            bob.get("/api/keys"),
            bob.post("/api/keys", json=key, headers=web),
            bob.delete(f"/api/team/members/{ada_user['id']}", headers=web),
        ):
            assert error_code(refused) == (403, "insufficient_scope")

        assert bob.post("/api/auth/logout", headers=web).status_code == 204
        assert error_code(bob.get("/api/auth/session")) == (401, "unauthenticated")
        assert error_code(bob.get("/api/team/members")) == (401, "unauthenticated")
        assert ada.get("/api/auth/session").status_code == 200

        again = bob.post("/api/auth/login", json={"email": bob_email, "password": PASSWORD}, headers=web)
        assert again.status_code == 200, again.text
        assert {t["id"] for t in again.json()["teams"]} == {team["id"], bob_signed_up.json()["team"]["id"]}

"""Accounts for people: sign up, sign in and out, the session and its current team.

These routes need no API key (their OpenAPI operations declare no scope): signing up and in take an
email and password, the others the session cookie they set. The session then works on every other
route as the user's role in the current team allows (see `deps.get_caller`).
"""

from dataclasses import replace

from fastapi import APIRouter, Depends, Request, Response

from imagegen_gateway import passwords, schemas
from imagegen_gateway.adapters import accounts, sessions, teams
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.deps import (
    ServicesDep,
    SessionDep,
    SettingsDep,
    clear_session_cookie,
    refuse_foreign_origin,
    set_session_cookie,
)
from imagegen_gateway.errors import ApiError

router = APIRouter(prefix="/api/auth", tags=["accounts"])

# New teams start on the free plan; a Stripe checkout upgrades them.
SIGNUP_PLAN = "free"


def _user_public(user: accounts.User) -> schemas.UserPublic:
    return schemas.UserPublic(id=user.id, email=user.email, created_at=user.created_at)


def team_public(team: accounts.UserTeam) -> schemas.UserTeamPublic:
    return schemas.UserTeamPublic(id=team.id, name=team.name, role=team.role)


async def _session_public(request: Request, session: sessions.Session) -> schemas.SessionPublic:
    engine = request.app.state.engine
    user = await accounts.get_user(engine, session.user_id)
    assert user is not None
    user_teams = await accounts.teams_of(engine, user.id)
    current = next((team for team in user_teams if team.id == session.team_id), None)
    return schemas.SessionPublic(
        user=_user_public(user),
        teams=[team_public(team) for team in user_teams],
        current_team=team_public(current) if current else None,
        expires_at=session.expires_at,
    )


async def _sign_in(
    request: Request, response: Response, settings: GatewaySettings, user_id: str, team_id: str | None
) -> sessions.Session:
    engine = request.app.state.engine
    token = await sessions.start_session(engine, user_id, team_id)
    session = await sessions.live_session(engine, token)
    assert session is not None
    set_session_cookie(response, settings, token, session.expires_at)
    return session


@router.post(
    "/signup",
    status_code=201,
    response_model=schemas.UserCreated,
    response_model_by_alias=True,
    dependencies=[Depends(refuse_foreign_origin)],
)
async def sign_up(
    body: schemas.UserCreate,
    request: Request,
    response: Response,
    services: ServicesDep,
    settings: SettingsDep,
) -> schemas.UserCreated:
    """A new user and their own team on the free plan, which they own; signs them in (session cookie).

    400 with `details.password` for a password under 12 characters; 409 `email_taken`.
    """
    problem = passwords.policy_problem(body.password, body.email)
    if problem:
        raise ApiError(400, "invalid_request", "the request has invalid fields", {"password": problem})
    engine = request.app.state.engine
    # Checked first so a taken email opens no team; create_owner checks again, against races.
    if await accounts.find_user(engine, body.email) is not None:
        raise _email_taken()
    password_hash = await passwords.hash_password(body.password)
    team_id = await teams.create_team(engine, services.credits, body.team_name, SIGNUP_PLAN)
    try:
        user = await accounts.create_owner(engine, body.email, password_hash, team_id)
    except accounts.EmailTaken:
        raise _email_taken() from None
    await _sign_in(request, response, settings, user.id, team_id)
    return schemas.UserCreated(
        user=_user_public(user), team=schemas.UserTeamPublic(id=team_id, name=body.team_name, role="owner")
    )


def _email_taken() -> ApiError:
    return ApiError(409, "email_taken", "an account with this email exists: sign in instead")


@router.post(
    "/login",
    response_model=schemas.SessionPublic,
    response_model_by_alias=True,
    dependencies=[Depends(refuse_foreign_origin)],
)
async def log_in(
    body: schemas.SessionCreate, request: Request, response: Response, settings: SettingsDep
) -> schemas.SessionPublic:
    """Sign in with email and password: sets the session cookie, acting for the user's first team.

    401 `invalid_credentials` for an unknown email or a wrong password alike.
    """
    engine = request.app.state.engine
    found = await accounts.find_user(engine, body.email)
    # Verified even for an unknown email (against a dummy hash), so both refusals take as long.
    valid = await passwords.verify_password(found[1] if found else None, body.password)
    if found is None or not valid:
        raise ApiError(401, "invalid_credentials", "the email or password is wrong")
    user = found[0]
    user_teams = await accounts.teams_of(engine, user.id)
    session = await _sign_in(request, response, settings, user.id, user_teams[0].id if user_teams else None)
    return await _session_public(request, session)


@router.post("/logout", status_code=204)
async def log_out(session: SessionDep, request: Request, response: Response, settings: SettingsDep) -> None:
    """End the session: its cookie stops working at once, here and wherever it was copied."""
    await sessions.end_session(request.app.state.engine, session.id)
    clear_session_cookie(response, settings)


@router.get("/session", response_model=schemas.SessionPublic, response_model_by_alias=True)
async def get_session(session: SessionDep, request: Request) -> schemas.SessionPublic:
    """The signed-in user, their teams with their role in each, and the session's current team."""
    return await _session_public(request, session)


@router.post("/session/team", response_model=schemas.SessionPublic, response_model_by_alias=True)
async def switch_team(
    body: schemas.SessionTeamUpdate, session: SessionDep, request: Request
) -> schemas.SessionPublic:
    """Act for another of the user's teams from now on; 404 for a team they are not in."""
    engine = request.app.state.engine
    if not await sessions.switch_team(engine, session.id, session.user_id, body.team_id):
        raise ApiError(404, "team_not_found", "you are not a member of this team")
    return await _session_public(request, replace(session, team_id=body.team_id))

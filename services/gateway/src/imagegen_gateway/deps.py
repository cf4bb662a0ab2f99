"""Typed dependencies: who calls (an API key, or a signed-in user's session) holding the scopes the
operation needs, the session cookie, and the clients."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from imagegen_gateway import csrf
from imagegen_gateway.adapters import accounts, api_keys, rate_limits, sessions
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.errors import ApiError
from imagegen_gateway.rate_limit_headers import RATE_LIMIT_QUOTA

SESSION_COOKIE = "imagegen_session"
# Where get_caller keeps the request's caller, and who holds its scopes, in the ASGI scope's state.
_CALLER = "caller"


# Dependencies are `async def` even without I/O: FastAPI runs a plain `def` dependency in a worker
# thread, a hand-off between threads per request that costs far more CPU than the function.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_settings(request: Request) -> GatewaySettings:
    return _settings(request)


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


# Declared as a security scheme so the OpenAPI document shows, per operation, the scope it needs
# (`security: [{"apiKey": ["read"]}]`). A session cookie is accepted in its place, with the scopes of
# the user's role; it is not declared, so every operation keeps exactly one scope in the document.
_bearer = HTTPBearer(
    scheme_name="apiKey",
    bearerFormat="ig_...",
    description=(
        "A team API key: `Authorization: Bearer <key>`. Each operation lists the scope it needs: "
        "read, generate, train, billing, or admin (managing the team's keys and members). "
        "A browser signed in through `POST /api/auth/login` sends its session cookie instead and acts "
        "for its current team: owners hold every scope, members read, generate and train."
    ),
    auto_error=False,
)


def set_session_cookie(
    response: Response, settings: GatewaySettings, token: str, expires_at: datetime
) -> None:
    # HttpOnly: page scripts never see it; Lax: not sent with cross-site subrequests or form posts.
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int((expires_at - datetime.now(UTC)).total_seconds()),
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: GatewaySettings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=settings.session_cookie_secure, httponly=True, samesite="lax"
    )


def _sending_origin(request: Request) -> str | None:
    return csrf.sending_origin(request.headers.get("origin"), request.headers.get("referer"))


async def refuse_foreign_origin(request: Request) -> None:
    """Refuses signing up or in from another site's page (login CSRF: that page would sign the browser
    in to an account of its choosing). Programs, which name no origin, are not affected."""
    sent = _sending_origin(request)
    if sent is not None and sent not in _settings(request).web_origins:
        raise ApiError(403, "csrf_failed", f"requests from {sent} are not accepted")


async def get_session(request: Request, response: Response) -> sessions.Session:
    """The live session of the request's cookie (401), whose writes come from one of our web origins
    (403 `csrf_failed`)."""
    token = request.cookies.get(SESSION_COOKIE)
    session = await sessions.live_session(request.app.state.engine, token) if token else None
    if session is None:
        raise ApiError(401, "unauthenticated", "sign in, or send an API key as 'Authorization: Bearer <key>'")
    settings = _settings(request)
    if request.method not in csrf.SAFE_METHODS and _sending_origin(request) not in settings.web_origins:
        raise ApiError(
            403,
            "csrf_failed",
            "a write signed in by cookie must come from the web app, with its Origin header",
        )
    if session.renewed:
        set_session_cookie(response, settings, token, session.expires_at)
    return session


async def get_caller(
    security_scopes: SecurityScopes,
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> api_keys.Caller:
    """Who calls, holding every scope the operation declares (401, then 403): the live key of
    `Authorization: Bearer`, else the session cookie's user acting for their current team.

    Found once per request, however many dependencies ask, and one request is taken from its rate
    limits then; RateLimitHeadersMiddleware reports what is left."""
    state = request.scope.setdefault("state", {})
    found = state.get(_CALLER)
    if found is None:
        found = state[_CALLER] = await _authenticate(request, response, credentials, state)
    caller, holder = found
    missing = [scope for scope in security_scopes.scopes if scope not in caller.scopes]
    if missing:
        raise ApiError(
            403,
            "insufficient_scope",
            f"{holder} lacks the {', '.join(missing)} scope",
            {"requiredScope": missing[0], "requiredScopes": security_scopes.scopes},
        )
    return caller


async def _authenticate(
    request: Request,
    response: Response,
    credentials: HTTPAuthorizationCredentials | None,
    state: dict[str, Any],
) -> tuple[api_keys.Caller, str]:
    """The caller and who holds its scopes (401 for neither key nor session), with this request
    taken from its rate limits (429 when they are used up)."""
    settings = _settings(request)
    key_limit = rate_limits.RateLimit(settings.rate_limit_per_key_per_minute, 60)
    team_limit = rate_limits.RateLimit(settings.rate_limit_per_team_per_minute, 60)
    secret = credentials.credentials.strip() if credentials is not None else ""
    if secret:
        # The key's lookup and its rate limits are one statement.
        authenticated = await api_keys.authenticate(request.app.state.engine, secret, key_limit, team_limit)
        if authenticated is None:
            raise ApiError(401, "unauthenticated", "the API key is not valid")
        caller, quota = authenticated
        holder = "this API key"
    elif SESSION_COOKIE in request.cookies:
        session = await get_session(request, response)
        if session.team_id is None or session.role is None:
            raise ApiError(
                403, "no_current_team", "you are in no team yet: choose one with POST /api/auth/session/team"
            )
        caller = api_keys.Caller(
            key_id=None,
            team_id=session.team_id,
            scopes=accounts.ROLE_SCOPES[session.role],
            user_id=session.user_id,
        )
        holder = f"your role ({session.role})"
        quota = await rate_limits.take(
            request.app.state.engine, f"user:{session.user_id}", key_limit, caller.team_id, team_limit
        )
    else:
        raise ApiError(401, "unauthenticated", "send your API key as 'Authorization: Bearer <key>'")
    state[RATE_LIMIT_QUOTA] = quota
    if not quota.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests: retry in {quota.retry_after_seconds} s",
            {"retryAfterSeconds": str(quota.retry_after_seconds)},
        )
    return caller, holder


async def get_team_id(caller: Annotated[api_keys.Caller, Security(get_caller)]) -> str:
    return caller.team_id


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
# The signed-in user's session (public auth routes; not a scope in the OpenAPI document).
SessionDep = Annotated[sessions.Session, Depends(get_session)]
# The team of a caller holding the operation's scope.
ReadTeamIdDep = Annotated[str, Security(get_team_id, scopes=["read"])]
GenerateTeamIdDep = Annotated[str, Security(get_team_id, scopes=["generate"])]
TrainTeamIdDep = Annotated[str, Security(get_team_id, scopes=["train"])]
BillingTeamIdDep = Annotated[str, Security(get_team_id, scopes=["billing"])]
# A caller holding the operation's scope, for routes that record who acts or spends.
GenerateCallerDep = Annotated[api_keys.Caller, Security(get_caller, scopes=["generate"])]
TrainCallerDep = Annotated[api_keys.Caller, Security(get_caller, scopes=["train"])]
# A caller that may manage the team's API keys and members.
AdminCallerDep = Annotated[api_keys.Caller, Security(get_caller, scopes=["admin"])]

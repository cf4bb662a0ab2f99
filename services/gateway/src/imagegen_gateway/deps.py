"""Typed dependencies: the current team from its API key and the scopes it needs, and the clients."""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from imagegen_gateway.adapters import api_keys
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.errors import ApiError


def get_services(request: Request) -> Services:
    return request.app.state.services


# Declared as a security scheme so the OpenAPI document shows, per operation, the scope it needs
# (`security: [{"apiKey": ["read"]}]`).
_bearer = HTTPBearer(
    scheme_name="apiKey",
    bearerFormat="ig_...",
    description=(
        "A team API key: `Authorization: Bearer <key>`. Each operation lists the scope it needs: "
        "read, generate, train, billing, or admin (managing the team's keys)."
    ),
    auto_error=False,
)


async def get_caller(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> api_keys.Caller:
    """The live key of the request, holding every scope the operation declares (401, then 403)."""
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "unauthenticated", "send your API key as 'Authorization: Bearer <key>'")
    caller = await api_keys.caller_for_key(request.app.state.engine, credentials.credentials.strip())
    if caller is None:
        raise ApiError(401, "unauthenticated", "the API key is not valid")
    missing = [scope for scope in security_scopes.scopes if scope not in caller.scopes]
    if missing:
        raise ApiError(
            403,
            "insufficient_scope",
            f"this API key lacks the {', '.join(missing)} scope",
            {"requiredScope": missing[0], "requiredScopes": security_scopes.scopes},
        )
    return caller


async def get_team_id(caller: Annotated[api_keys.Caller, Security(get_caller)]) -> str:
    return caller.team_id


ServicesDep = Annotated[Services, Depends(get_services)]
# The team of a key holding the operation's scope.
ReadTeamIdDep = Annotated[str, Security(get_team_id, scopes=["read"])]
GenerateTeamIdDep = Annotated[str, Security(get_team_id, scopes=["generate"])]
TrainTeamIdDep = Annotated[str, Security(get_team_id, scopes=["train"])]
BillingTeamIdDep = Annotated[str, Security(get_team_id, scopes=["billing"])]
# A key that may manage the team's API keys.
AdminCallerDep = Annotated[api_keys.Caller, Security(get_caller, scopes=["admin"])]

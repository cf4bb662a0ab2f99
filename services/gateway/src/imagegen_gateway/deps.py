"""Typed dependencies: the current team from its API key, and the process-wide clients."""

from typing import Annotated

from fastapi import Depends, Request

from imagegen_gateway.adapters import api_keys
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.errors import ApiError


def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_team_id(request: Request) -> str:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise ApiError(401, "unauthenticated", "send your API key as 'Authorization: Bearer <key>'")
    team_id = await api_keys.team_for_key(request.app.state.engine, secret.strip())
    if team_id is None:
        raise ApiError(401, "unauthenticated", "the API key is not valid")
    return team_id


ServicesDep = Annotated[Services, Depends(get_services)]
TeamIdDep = Annotated[str, Depends(get_team_id)]

"""The team's API keys: create (the secret is shown once), list, revoke.

Managing keys needs a key with the `admin` scope; the admin CLI's first key of a team has every
scope, including `admin`.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from imagegen.generation.v1 import generation_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.adapters import api_keys, audit
from imagegen_gateway.deps import AdminCallerDep, ServicesDep
from imagegen_gateway.errors import ApiError
from imagegen_gateway.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/keys", tags=["api keys"])


def _public(key: api_keys.KeyInfo) -> schemas.ApiKeyPublic:
    cap = key.monthly_spend_cap_hundredths
    created_by, created_by_type = api_keys.acted_by(key.created_by, key.created_by_user_id)
    return schemas.ApiKeyPublic(
        id=key.id,
        prefix=key.prefix,
        name=key.name,
        scopes=key.scopes,
        monthly_spend_cap=None if cap is None else translate.credits(cap),
        created_by=created_by,
        created_by_type=created_by_type,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.post("", status_code=201, response_model=schemas.ApiKeyCreated, response_model_by_alias=True)
async def create_key(
    body: schemas.ApiKeyCreate, caller: AdminCallerDep, request: Request
) -> schemas.ApiKeyCreated:
    """A new key of the team with the given scopes (`read`, `generate`, `train`, `billing`, `admin`).

    `key` is the secret and is shown only in this response; store it now. `monthlySpendCap` (credits)
    stops the key's new jobs (402 `spend_cap_reached`) once its spend this UTC month would pass it.
    Needs the `admin` scope.
    """
    engine = request.app.state.engine
    cap = None if body.monthly_spend_cap is None else int(body.monthly_spend_cap * 100)
    new = await api_keys.create_key(engine, caller.team_id, body.name, body.scopes, cap, created_by=caller)
    info = await api_keys.get_key(engine, caller.team_id, new.id)
    assert info is not None
    await audit.record(
        engine, caller, "api_key.created", "api_key", new.id, {"name": body.name, "scopes": info.scopes}
    )
    return schemas.ApiKeyCreated(**_public(info).model_dump(), key=new.secret)


@router.get("", response_model=schemas.ApiKeyPage, response_model_by_alias=True)
async def list_keys(
    caller: AdminCallerDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.ApiKeyPage:
    """The team's keys, revoked ones included, newest first: prefix, name, scopes, last use; never secrets.

    Needs the `admin` scope.
    """
    keys = await api_keys.list_keys(
        request.app.state.engine, caller.team_id, limit + 1, decode_cursor(cursor) if cursor else None
    )
    page = keys[:limit]
    return schemas.ApiKeyPage(
        items=[_public(key) for key in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(keys) > limit else None,
    )


@router.delete("/{key_id}", response_model=schemas.ApiKeyPublic, response_model_by_alias=True)
async def revoke_key(key_id: str, caller: AdminCallerDep, request: Request) -> schemas.ApiKeyPublic:
    """Revoke a key of the team: it stops working at once. Revoking again answers the same key.

    Needs the `admin` scope.
    """
    key, revoked_now = await api_keys.revoke_key(request.app.state.engine, caller.team_id, key_id)
    if key is None:
        raise ApiError(404, "api_key_not_found", "no such API key")
    if revoked_now:
        await audit.record(
            request.app.state.engine, caller, "api_key.revoked", "api_key", key_id, {"name": key.name}
        )
    return _public(key)


@router.get("/usage", response_model=schemas.KeyUsagePage, response_model_by_alias=True)
async def team_key_usage(
    caller: AdminCallerDep,
    services: ServicesDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.KeyUsagePage:
    """What each of the team's keys spent, by UTC day and model (the last 30 days unless
    `since`/`until` say otherwise; at most 366 days). Needs the `admin` scope."""
    return await _usage(services, caller.team_id, None, since, until)


@router.get("/{key_id}/usage", response_model=schemas.KeyUsagePage, response_model_by_alias=True)
async def key_usage(
    key_id: str,
    caller: AdminCallerDep,
    request: Request,
    services: ServicesDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> schemas.KeyUsagePage:
    """What one key spent, by UTC day and model. Needs the `admin` scope."""
    if await api_keys.get_key(request.app.state.engine, caller.team_id, key_id) is None:
        raise ApiError(404, "api_key_not_found", "no such API key")
    return await _usage(services, caller.team_id, key_id, since, until)


async def _usage(
    services, team_id: str, key_id: str | None, since: datetime | None, until: datetime | None
) -> schemas.KeyUsagePage:
    response = await services.generation.ListKeyUsage(
        generation_service_pb2.ListKeyUsageRequest(
            team_id=team_id,
            api_key_id=key_id or "",
            since=translate.timestamp("since", since),
            until=translate.timestamp("until", until),
        )
    )
    return schemas.KeyUsagePage(
        items=[
            schemas.KeyUsagePublic(
                api_key_id=usage.api_key_id,
                day=usage.day,
                reference_model_id=usage.reference_model_id,
                custom_model_id=usage.custom_model_id or None,
                jobs=usage.jobs,
                charged_credits=translate.credits(usage.charged_hundredths),
                reserved_credits=translate.credits(usage.reserved_hundredths),
            )
            for usage in response.usages
        ]
    )

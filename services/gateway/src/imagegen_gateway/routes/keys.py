"""The team's API keys: create (the secret is shown once), list, revoke.

Managing keys needs a key with the `admin` scope; the admin CLI's first key of a team has every
scope, including `admin`.
"""

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from imagegen_gateway import schemas, translate
from imagegen_gateway.adapters import api_keys
from imagegen_gateway.deps import AdminCallerDep
from imagegen_gateway.errors import ApiError

router = APIRouter(prefix="/api/keys", tags=["api keys"])


def _public(key: api_keys.KeyInfo) -> schemas.ApiKeyPublic:
    cap = key.monthly_spend_cap_hundredths
    return schemas.ApiKeyPublic(
        id=key.id,
        prefix=key.prefix,
        name=key.name,
        scopes=key.scopes,
        monthly_spend_cap=None if cap is None else translate.credits(cap),
        created_by=key.created_by,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _cursor(key: api_keys.KeyInfo) -> str:
    return base64.urlsafe_b64encode(f"{key.created_at.isoformat()}|{key.id}".encode()).decode()


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, key_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), key_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            400, "invalid_request", "the cursor is not valid", {"cursor": "from nextCursor"}
        ) from None


@router.post("", status_code=201, response_model=schemas.ApiKeyCreated, response_model_by_alias=True)
async def create_key(
    body: schemas.ApiKeyCreate, caller: AdminCallerDep, request: Request
) -> schemas.ApiKeyCreated:
    """A new key of the team with the given scopes (`read`, `generate`, `train`, `billing`, `admin`).

    `key` is the secret and is shown only in this response; store it now. `monthlySpendCap` (credits)
    is stored and listed, but not enforced yet: a key can still start jobs past it.
    Needs the `admin` scope.
    """
    engine = request.app.state.engine
    cap = None if body.monthly_spend_cap is None else int(body.monthly_spend_cap * 100)
    new = await api_keys.create_key(
        engine, caller.team_id, body.name, body.scopes, cap, created_by=caller.key_id
    )
    info = await api_keys.get_key(engine, caller.team_id, new.id)
    assert info is not None
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
        request.app.state.engine, caller.team_id, limit + 1, _after(cursor) if cursor else None
    )
    page = keys[:limit]
    return schemas.ApiKeyPage(
        items=[_public(key) for key in page],
        next_cursor=_cursor(page[-1]) if len(keys) > limit else None,
    )


@router.delete("/{key_id}", response_model=schemas.ApiKeyPublic, response_model_by_alias=True)
async def revoke_key(key_id: str, caller: AdminCallerDep, request: Request) -> schemas.ApiKeyPublic:
    """Revoke a key of the team: it stops working at once. Revoking again answers the same key.

    Needs the `admin` scope.
    """
    key = await api_keys.revoke_key(request.app.state.engine, caller.team_id, key_id)
    if key is None:
        raise ApiError(404, "api_key_not_found", "no such API key")
    return _public(key)

"""The team's audit log."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from imagegen_gateway import schemas
from imagegen_gateway.adapters import audit
from imagegen_gateway.deps import AdminCallerDep
from imagegen_gateway.errors import ApiError

router = APIRouter(prefix="/api/audit-log", tags=["audit"])


@router.get("", response_model=schemas.AuditEventPage, response_model_by_alias=True)
async def list_audit_events(
    request: Request,
    caller: AdminCallerDep,
    action: Annotated[
        list[str] | None, Query(description="e.g. api_key.created, custom_model.deleted, plan.changed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.AuditEventPage:
    """Who did what, newest first: keys created and revoked, models deleted, members, webhook
    endpoints and plan changes."""
    if cursor is not None and not cursor.isdigit():
        raise ApiError(400, "invalid_request", "the cursor is not valid", {"cursor": "from nextCursor"})
    actions = [name for value in action or [] for name in value.split(",") if name]
    rows, last_id = await audit.page(
        request.app.state.engine, caller.team_id, actions, limit, int(cursor) if cursor else None
    )
    return schemas.AuditEventPage(
        items=[
            schemas.AuditEventPublic(
                id=str(row.id),
                actor=schemas.AuditActor(type=row.actor_type, id=row.actor_id),
                action=row.action,
                target=schemas.AuditTarget(type=row.target_type, id=row.target_id),
                details=row.details,
                request_id=row.request_id,
                created_at=row.created_at,
            )
            for row in rows
        ],
        next_cursor=str(last_id) if last_id is not None else None,
    )

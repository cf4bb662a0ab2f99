"""The caller's team: its members and their roles, and invitations to join it.

Reading members needs `read`; changing roles, removing members and managing invitations need
`admin` (owners hold it; so can an API key). A team keeps at least one owner. We send no mail: an
invitation's one-time token is in the creation response and the accept link in the log.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request

from imagegen_gateway import schemas
from imagegen_gateway.adapters import accounts, api_keys, audit
from imagegen_gateway.deps import AdminCallerDep, ReadTeamIdDep, SessionDep, SettingsDep
from imagegen_gateway.errors import ApiError
from imagegen_gateway.pagination import decode_cursor, encode_cursor
from imagegen_gateway.routes.auth import team_public

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/team", tags=["team"])
# Accepting is done by the invited person, who is not in the team yet: signed in, with no scope.
invitations_router = APIRouter(prefix="/api/invitations", tags=["team"])


def _member(member: accounts.Member) -> schemas.MemberPublic:
    return schemas.MemberPublic(
        user_id=member.user_id, email=member.email, role=member.role, joined_at=member.joined_at
    )


def _invitation(invitation: accounts.Invitation) -> schemas.InvitationPublic:
    invited_by, invited_by_type = api_keys.acted_by(
        invitation.invited_by_key_id, invitation.invited_by_user_id
    )
    return schemas.InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        status=invitation.status,
        invited_by=invited_by,
        invited_by_type=invited_by_type,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        accepted_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )


def _last_owner() -> ApiError:
    return ApiError(
        409, "last_owner", "the team's only owner cannot be removed or demoted; make another owner first"
    )


def _already_member() -> ApiError:
    return ApiError(409, "already_member", "this person is already a member of the team")


@router.get("/members", response_model=schemas.MemberPage, response_model_by_alias=True)
async def list_members(
    team_id: ReadTeamIdDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.MemberPage:
    """The team's members with their roles, newest first."""
    members = await accounts.list_members(
        request.app.state.engine, team_id, limit + 1, decode_cursor(cursor) if cursor else None
    )
    page = members[:limit]
    last = page[-1] if len(members) > limit else None
    return schemas.MemberPage(
        items=[_member(member) for member in page],
        next_cursor=encode_cursor(last.joined_at, last.user_id) if last else None,
    )


@router.patch("/members/{user_id}", response_model=schemas.MemberPublic, response_model_by_alias=True)
async def update_member(
    user_id: str, body: schemas.MemberUpdate, caller: AdminCallerDep, request: Request
) -> schemas.MemberPublic:
    """Change a member's role (`owner` or `member`); 409 `last_owner` for demoting the only owner.

    Needs the `admin` scope.
    """
    engine = request.app.state.engine
    try:
        member = (
            await accounts.set_role(engine, caller.team_id, user_id, body.role)
            if body.role
            else await accounts.get_member(engine, caller.team_id, user_id)
        )
    except accounts.LastOwner:
        raise _last_owner() from None
    if member is None:
        raise ApiError(404, "member_not_found", "no such member of the team")
    if body.role:
        await audit.record(engine, caller, "member.role_changed", "user", user_id, {"role": body.role})
    return _member(member)


@router.delete("/members/{user_id}", status_code=204)
async def remove_member(user_id: str, caller: AdminCallerDep, request: Request) -> None:
    """Remove a member from the team; 409 `last_owner` for its only owner.

    Needs the `admin` scope.
    """
    try:
        removed = await accounts.remove_member(request.app.state.engine, caller.team_id, user_id)
    except accounts.LastOwner:
        raise _last_owner() from None
    if not removed:
        raise ApiError(404, "member_not_found", "no such member of the team")
    await audit.record(request.app.state.engine, caller, "member.removed", "user", user_id)


@router.post(
    "/invitations", status_code=201, response_model=schemas.InvitationCreated, response_model_by_alias=True
)
async def create_invitation(
    body: schemas.InvitationCreate, caller: AdminCallerDep, request: Request, settings: SettingsDep
) -> schemas.InvitationCreated:
    """Invite someone by email, with a role; valid 7 days. `token` is shown only in this response:
    they accept it with `POST /api/invitations/accept` once signed in with that email.

    Needs the `admin` scope.
    """
    try:
        invitation, token = await accounts.create_invitation(
            request.app.state.engine, caller.team_id, body.email, body.role, caller
        )
    except accounts.AlreadyMember:
        raise _already_member() from None
    await audit.record(
        request.app.state.engine,
        caller,
        "invitation.created",
        "invitation",
        invitation.id,
        {"email": invitation.email, "role": invitation.role},
    )
    # No mail server: the link goes to the log, for whoever runs the gateway to pass on.
    log.info(
        "invitation created",
        extra={
            "invitationId": invitation.id,
            "teamId": caller.team_id,
            "acceptUrl": f"{settings.public_url or ''}/invitations/accept?token={token}",
        },
    )
    return schemas.InvitationCreated(**_invitation(invitation).model_dump(), token=token)


@router.get("/invitations", response_model=schemas.InvitationPage, response_model_by_alias=True)
async def list_invitations(
    caller: AdminCallerDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> schemas.InvitationPage:
    """The team's invitations, newest first, with their status (`pending`, `accepted`, `revoked`,
    `expired`); never their tokens.

    Needs the `admin` scope.
    """
    invitations = await accounts.list_invitations(
        request.app.state.engine, caller.team_id, limit + 1, decode_cursor(cursor) if cursor else None
    )
    page = invitations[:limit]
    last = page[-1] if len(invitations) > limit else None
    return schemas.InvitationPage(
        items=[_invitation(invitation) for invitation in page],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


@router.delete(
    "/invitations/{invitation_id}", response_model=schemas.InvitationPublic, response_model_by_alias=True
)
async def revoke_invitation(
    invitation_id: str, caller: AdminCallerDep, request: Request
) -> schemas.InvitationPublic:
    """Revoke an invitation: its token stops working. Revoking again answers the same invitation;
    an accepted one answers 409 `invitation_accepted` (remove the member instead).

    Needs the `admin` scope.
    """
    try:
        invitation = await accounts.revoke_invitation(request.app.state.engine, caller.team_id, invitation_id)
    except accounts.InvitationAccepted:
        raise ApiError(
            409, "invitation_accepted", "the invitation was accepted; remove the member instead"
        ) from None
    if invitation is None:
        raise ApiError(404, "invitation_not_found", "no such invitation")
    return _invitation(invitation)


@invitations_router.post("/accept", response_model=schemas.UserTeamPublic, response_model_by_alias=True)
async def accept_invitation(
    body: schemas.InvitationAccept, session: SessionDep, request: Request
) -> schemas.UserTeamPublic:
    """Join the team of an invitation addressed to the signed-in user's email; answers the team.

    404 `invitation_not_found` for an unknown, expired, revoked or used token; 403
    `invitation_email_mismatch` when it is addressed to another email; 409 `already_member`.
    """
    engine = request.app.state.engine
    user = await accounts.get_user(engine, session.user_id)
    assert user is not None
    try:
        joined = await accounts.accept_invitation(engine, body.token, user)
    except accounts.InvitationForAnotherEmail:
        raise ApiError(
            403, "invitation_email_mismatch", "this invitation is for another email; sign in with that one"
        ) from None
    except accounts.AlreadyMember:
        raise _already_member() from None
    if joined is None:
        raise ApiError(404, "invitation_not_found", "no pending invitation has this token")
    return team_public(joined)

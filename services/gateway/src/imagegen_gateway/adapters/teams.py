"""Teams: the gateway's row and the team's credit account, opened together by sign-up and by
`imagegen-admin create-team`."""

import uuid

from imagegen.credits.v1 import credits_pb2, credits_service_pb2, credits_service_pb2_grpc
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_gateway.adapters.tables import team

PLANS = {
    "free": credits_pb2.PLAN_FREE,
    "basic": credits_pb2.PLAN_BASIC,
    "pro": credits_pb2.PLAN_PRO,
    "enterprise": credits_pb2.PLAN_ENTERPRISE,
}


async def create_team(
    engine: AsyncEngine, credits: credits_service_pb2_grpc.CreditsServiceStub, name: str, plan: str
) -> str:
    """A new team with its credit account on `plan`; its id.

    Callers give the team its first key or owner only after this returns, so nobody can act for a
    team without credits. A failed CreateAccount leaves a team row nobody can reach.
    """
    team_id = str(uuid.uuid4())
    async with engine.begin() as connection:
        await connection.execute(insert(team).values(id=team_id, name=name))
    await credits.CreateAccount(credits_service_pb2.CreateAccountRequest(team_id=team_id, plan=PLANS[plan]))
    return team_id

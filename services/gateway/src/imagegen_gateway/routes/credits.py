"""The team's credit balance."""

from fastapi import APIRouter
from imagegen.credits.v1 import credits_pb2, credits_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.deps import ServicesDep, TeamIdDep

router = APIRouter(prefix="/api/credits", tags=["credits"])

_PLAN = {
    credits_pb2.PLAN_FREE: "free",
    credits_pb2.PLAN_BASIC: "basic",
    credits_pb2.PLAN_PRO: "pro",
    credits_pb2.PLAN_ENTERPRISE: "enterprise",
}


@router.get("/balance", response_model=schemas.BalancePublic, response_model_by_alias=True)
async def get_balance(team_id: TeamIdDep, services: ServicesDep) -> schemas.BalancePublic:
    """Available, reserved and bonus credits, and when the plan next replenishes them."""
    response = await services.credits.GetBalance(credits_service_pb2.GetBalanceRequest(team_id=team_id))
    balance = response.balance
    return schemas.BalancePublic(
        plan=_PLAN[balance.plan],
        available_credits=translate.credits(balance.available_hundredths),
        reserved_credits=translate.credits(balance.reserved_hundredths),
        bonus_credits=translate.credits(balance.bonus_hundredths),
        total_allocated=translate.credits(balance.total_allocated_hundredths),
        next_replenishment_at=translate.utc(balance.next_replenishment_at),
        max_concurrent_jobs=balance.max_concurrent_jobs,
    )

"""CreditsService over gRPC: translates between wire messages and the handlers."""

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.credits.v1 import credits_pb2, credits_service_pb2, credits_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.domain.model import PLAN_LIMITS, Account, Plan
from imagegen_credits.service_layer import handlers

_PLAN_TO_WIRE = {
    Plan.FREE: credits_pb2.PLAN_FREE,
    Plan.BASIC: credits_pb2.PLAN_BASIC,
    Plan.PRO: credits_pb2.PLAN_PRO,
    Plan.ENTERPRISE: credits_pb2.PLAN_ENTERPRISE,
}
_PLAN_FROM_WIRE = {wire: plan for plan, wire in _PLAN_TO_WIRE.items()}


def balance_message(acct: Account) -> credits_pb2.Balance:
    next_replenishment_at = Timestamp()
    next_replenishment_at.FromDatetime(acct.next_replenishment_at)
    return credits_pb2.Balance(
        team_id=acct.team_id,
        plan=_PLAN_TO_WIRE[acct.plan],
        available_hundredths=acct.available_hundredths,
        reserved_hundredths=acct.reserved_hundredths,
        bonus_hundredths=acct.bonus_hundredths,
        total_allocated_hundredths=acct.total_allocated_hundredths,
        next_replenishment_at=next_replenishment_at,
        max_concurrent_jobs=PLAN_LIMITS[acct.plan].max_concurrent_jobs,
    )


class CreditsServicer(credits_service_pb2_grpc.CreditsServiceServicer):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def CreateAccount(self, request, context: grpc.aio.ServicerContext):
        """Open a team's account with its plan's allocation."""
        plan = _PLAN_FROM_WIRE.get(request.plan)
        if plan is None or not request.team_id:
            raise InvalidArgument("invalid_account", "team_id and a plan are required")
        acct = await handlers.create_account(self.engine, request.team_id, plan)
        return credits_service_pb2.CreateAccountResponse(balance=balance_message(acct))

    async def GetBalance(self, request, context: grpc.aio.ServicerContext):
        """Return a team's balance."""
        acct = await handlers.get_account(self.engine, request.team_id)
        return credits_service_pb2.GetBalanceResponse(balance=balance_message(acct))

    async def QuoteImageGeneration(self, request, context: grpc.aio.ServicerContext):
        """Price an image generation with the current pricing config."""
        quote = await handlers.quote_image(
            self.engine,
            resolution=request.resolution,
            quality=request.quality,
            model_complexity_hundredths=request.model_complexity_hundredths,
            num_images=request.num_images,
        )
        return credits_service_pb2.QuoteImageGenerationResponse(
            quote=credits_pb2.Quote(
                amount_hundredths=quote.amount_hundredths,
                pricing_version=quote.pricing_version,
                breakdown=quote.breakdown,
            )
        )

    async def ReserveCredits(self, request, context: grpc.aio.ServicerContext):
        """Hold credits for a job, once per key."""
        acct = await handlers.reserve(
            self.engine, request.team_id, request.amount_hundredths, request.idempotency_key
        )
        return credits_service_pb2.ReserveCreditsResponse(balance=balance_message(acct))

    async def CaptureCredits(self, request, context: grpc.aio.ServicerContext):
        """Spend a reservation's final charge and release the rest, once per key."""
        captured, released = await handlers.settle(
            self.engine, request.idempotency_key, request.amount_hundredths
        )
        return credits_service_pb2.CaptureCreditsResponse(
            captured_hundredths=captured, released_hundredths=released
        )

    async def ReleaseCredits(self, request, context: grpc.aio.ServicerContext):
        """Return a whole reservation, once per key."""
        _, released = await handlers.settle(self.engine, request.idempotency_key, None)
        return credits_service_pb2.ReleaseCreditsResponse(released_hundredths=released)

"""CreditsService over gRPC: translates between wire messages and the handlers."""

from datetime import UTC

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.credits.v1 import credits_pb2, credits_service_pb2, credits_service_pb2_grpc
from imagegen_platform.errors import InvalidArgument
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_credits.domain.model import PLAN_LIMITS, Account, LedgerKind
from imagegen_credits.domain.pricing import (
    Operation,
    PriceQuote,
    quote_image_generation,
    quote_model_creation,
    quote_model_refinement,
)
from imagegen_credits.service_layer import handlers, ledger, stripe_events
from imagegen_credits.service_layer.pricing import PricingConfigs, current_pricing

_PLAN_TO_WIRE = handlers.PLAN_TO_WIRE
_PLAN_FROM_WIRE = {wire: plan for plan, wire in _PLAN_TO_WIRE.items()}
_KIND_TO_WIRE = {kind: getattr(credits_pb2, f"LEDGER_ENTRY_KIND_{kind.name}") for kind in LedgerKind}
_KIND_FROM_WIRE = {wire: kind for kind, wire in _KIND_TO_WIRE.items()}


def _timestamp(value) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def balance_message(acct: Account) -> credits_pb2.Balance:
    return credits_pb2.Balance(
        team_id=acct.team_id,
        plan=_PLAN_TO_WIRE[acct.effective_plan],
        available_hundredths=acct.available_hundredths,
        reserved_hundredths=acct.reserved_hundredths,
        bonus_hundredths=acct.bonus_hundredths,
        total_allocated_hundredths=acct.total_allocated_hundredths,
        next_replenishment_at=_timestamp(acct.next_replenishment_at),
        max_concurrent_jobs=PLAN_LIMITS[acct.effective_plan].max_concurrent_jobs,
        period_start=_timestamp(acct.period_start),
        low_balance_threshold_hundredths=acct.low_balance_threshold_hundredths,
        below_low_balance=acct.below_low_balance,
        subscription_status=acct.subscription_status or "",
    )


def quote_message(quote: PriceQuote) -> credits_pb2.Quote:
    return credits_pb2.Quote(
        amount_hundredths=quote.amount_hundredths,
        pricing_version=quote.pricing_version,
        breakdown=quote.breakdown,
    )


def _page_token(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise InvalidArgument("invalid_cursor", "the cursor is not one this API handed out")
    return int(value)


class CreditsServicer(credits_service_pb2_grpc.CreditsServiceServicer):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.pricing = PricingConfigs(engine)

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
        quote = quote_image_generation(
            await current_pricing(self.pricing, Operation.IMAGE_GENERATION),
            resolution=request.resolution,
            quality=request.quality,
            model_complexity_hundredths=request.model_complexity_hundredths,
            num_images=request.num_images,
        )
        return credits_service_pb2.QuoteImageGenerationResponse(quote=quote_message(quote))

    async def QuoteModelCreation(self, request, context: grpc.aio.ServicerContext):
        """Price training a new model with the current pricing config."""
        quote = quote_model_creation(
            await current_pricing(self.pricing, Operation.MODEL_CREATION),
            reference_complexity_hundredths=request.reference_complexity_hundredths,
            num_training_images=request.num_training_images,
        )
        return credits_service_pb2.QuoteModelCreationResponse(quote=quote_message(quote))

    async def QuoteModelRefinement(self, request, context: grpc.aio.ServicerContext):
        """Price training a model's next version with the current pricing config."""
        quote = quote_model_refinement(
            await current_pricing(self.pricing, Operation.MODEL_REFINEMENT),
            model_complexity_hundredths=request.model_complexity_hundredths,
            iteration=request.iteration,
        )
        return credits_service_pb2.QuoteModelRefinementResponse(quote=quote_message(quote))

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

    async def ListLedgerEntries(self, request, context: grpc.aio.ServicerContext):
        """Page through a team's ledger, newest first."""
        if not 0 <= request.page_size <= ledger.MAX_PAGE_SIZE:
            raise InvalidArgument("invalid_page_size", f"limit must be between 1 and {ledger.MAX_PAGE_SIZE}")
        unknown = [kind for kind in request.kinds if kind not in _KIND_FROM_WIRE]
        if unknown:
            raise InvalidArgument("invalid_kind", "unknown ledger entry kind")
        rows, next_sequence = await ledger.history(
            self.engine,
            request.team_id,
            kinds=[_KIND_FROM_WIRE[kind] for kind in request.kinds],
            since=request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None,
            until=request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None,
            page_size=request.page_size or 20,
            before_sequence=_page_token(request.page_token),
        )
        return credits_service_pb2.ListLedgerEntriesResponse(
            entries=[
                credits_pb2.LedgerEntry(
                    id=row.id,
                    kind=_KIND_TO_WIRE[LedgerKind(row.kind)],
                    amount_hundredths=row.amount_hundredths,
                    bonus_hundredths=row.bonus_hundredths,
                    available_after_hundredths=row.available_after_hundredths,
                    reserved_after_hundredths=row.reserved_after_hundredths,
                    idempotency_key=row.idempotency_key,
                    description=row.description or "",
                    created_at=_timestamp(row.created_at),
                )
                for row in rows
            ],
            next_page_token="" if next_sequence is None else str(next_sequence),
        )

    async def SetLowBalanceThreshold(self, request, context: grpc.aio.ServicerContext):
        """Set or clear the balance under which the team is warned."""
        threshold = request.threshold_hundredths if request.HasField("threshold_hundredths") else None
        acct = await handlers.set_low_balance_threshold(self.engine, request.team_id, threshold)
        return credits_service_pb2.SetLowBalanceThresholdResponse(balance=balance_message(acct))

    async def RecordStripeEvent(self, request, context: grpc.aio.ServicerContext):
        """Store a verified Stripe event once; it is processed asynchronously."""
        if not request.event_id or not request.type:
            raise InvalidArgument("invalid_stripe_event", "event_id and type are required")
        new = await stripe_events.record_event(
            self.engine, request.event_id, request.type, request.payload_json
        )
        return credits_service_pb2.RecordStripeEventResponse(duplicate=not new)

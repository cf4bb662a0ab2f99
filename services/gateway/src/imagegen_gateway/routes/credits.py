"""Credits: balance, estimates, history (JSON or CSV) and the low-balance threshold."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse
from imagegen.credits.v1 import credits_pb2, credits_service_pb2
from imagegen.generation.v1 import generation_pb2, generation_service_pb2

from imagegen_gateway import schemas, translate
from imagegen_gateway.adapters.services import Services
from imagegen_gateway.deps import BillingTeamIdDep, ReadTeamIdDep, ServicesDep
from imagegen_gateway.errors import ApiError

router = APIRouter(prefix="/api/credits", tags=["credits"])

_PLAN = {
    credits_pb2.PLAN_FREE: "free",
    credits_pb2.PLAN_BASIC: "basic",
    credits_pb2.PLAN_PRO: "pro",
    credits_pb2.PLAN_ENTERPRISE: "enterprise",
}
_TYPES = {
    "allocation": credits_pb2.LEDGER_ENTRY_KIND_ALLOCATION,
    "bonus": credits_pb2.LEDGER_ENTRY_KIND_BONUS,
    "reserve": credits_pb2.LEDGER_ENTRY_KIND_RESERVE,
    "capture": credits_pb2.LEDGER_ENTRY_KIND_CAPTURE,
    "release": credits_pb2.LEDGER_ENTRY_KIND_RELEASE,
    "expiry": credits_pb2.LEDGER_ENTRY_KIND_EXPIRY,
    "adjustment": credits_pb2.LEDGER_ENTRY_KIND_ADJUSTMENT,
}
_TYPE_NAMES = {wire: name for name, wire in _TYPES.items()}
CSV_COLUMNS = [
    "id",
    "createdAt",
    "type",
    "credits",
    "bonusCredits",
    "availableAfter",
    "reservedAfter",
    "reference",
    "description",
]
CSV_MAX_PAGES = 1000


def balance_public(balance: credits_pb2.Balance) -> schemas.BalancePublic:
    threshold = (
        balance.low_balance_threshold_hundredths
        if balance.HasField("low_balance_threshold_hundredths")
        else None
    )
    return schemas.BalancePublic(
        plan=_PLAN[balance.plan],
        available_credits=translate.credits(balance.available_hundredths),
        reserved_credits=translate.credits(balance.reserved_hundredths),
        bonus_credits=translate.credits(balance.bonus_hundredths),
        total_allocated=translate.credits(balance.total_allocated_hundredths),
        period_start=translate.utc(balance.period_start),
        next_replenishment_at=translate.utc(balance.next_replenishment_at),
        max_concurrent_jobs=balance.max_concurrent_jobs,
        low_balance_threshold=None if threshold is None else translate.credits(threshold),
        below_low_balance_threshold=balance.below_low_balance,
        subscription_status=balance.subscription_status or None,
    )


@router.get("/balance", response_model=schemas.BalancePublic, response_model_by_alias=True)
async def get_balance(team_id: ReadTeamIdDep, services: ServicesDep) -> schemas.BalancePublic:
    """Available, reserved and bonus credits, the plan in effect, and when it next replenishes."""
    response = await services.credits.GetBalance(credits_service_pb2.GetBalanceRequest(team_id=team_id))
    return balance_public(response.balance)


@router.put("/low-balance-threshold", response_model=schemas.BalancePublic, response_model_by_alias=True)
async def set_low_balance_threshold(
    body: schemas.LowBalanceThresholdUpdate, team_id: BillingTeamIdDep, services: ServicesDep
) -> schemas.BalancePublic:
    """Warn (an event, and a flag on the balance) when available credits fall below this; null clears it."""
    request = credits_service_pb2.SetLowBalanceThresholdRequest(team_id=team_id)
    if body.credits is not None:
        request.threshold_hundredths = int(body.credits * 100)
    response = await services.credits.SetLowBalanceThreshold(request)
    return balance_public(response.balance)


@router.post("/estimate", response_model=schemas.EstimatePublic, response_model_by_alias=True)
async def estimate(
    body: Annotated[
        schemas.ImageGenerationEstimate | schemas.ModelCreationEstimate | schemas.ModelRefinementEstimate,
        Body(discriminator="operation"),
    ],
    team_id: ReadTeamIdDep,
    services: ServicesDep,
) -> schemas.EstimatePublic:
    """What an operation would cost now, with the formula's factors, without running anything."""
    if isinstance(body, schemas.ImageGenerationEstimate):
        request = generation_service_pb2.EstimateCostRequest(
            team_id=team_id,
            image_generation=generation_pb2.ImageGenerationInput(
                reference_model_id=body.reference_model_id or 0,
                custom_model_id=body.custom_model_id or 0,
                model_version=body.model_version or 0,
                resolution=body.resolution,
                quality=body.quality,
                num_images=body.num_images,
            ),
        )
    elif isinstance(body, schemas.ModelCreationEstimate):
        request = generation_service_pb2.EstimateCostRequest(
            team_id=team_id,
            model_creation=generation_service_pb2.ModelCreationEstimateInput(
                reference_model_id=body.reference_model_id, num_training_images=len(body.training_images)
            ),
        )
    else:
        request = generation_service_pb2.EstimateCostRequest(
            team_id=team_id,
            model_refinement=generation_service_pb2.ModelRefinementEstimateInput(
                team_id=team_id, custom_model_id=body.custom_model_id
            ),
        )
    response = await services.generation.EstimateCost(request)
    return schemas.EstimatePublic(
        operation=body.operation,
        credits=translate.credits(response.amount_hundredths),
        pricing_version=response.pricing_version,
        breakdown=dict(response.breakdown),
    )


def _entry_public(entry: credits_pb2.LedgerEntry) -> schemas.LedgerEntryPublic:
    return schemas.LedgerEntryPublic(
        id=entry.id,
        type=_TYPE_NAMES[entry.kind],
        credits=translate.credits(entry.amount_hundredths),
        bonus_credits=translate.credits(entry.bonus_hundredths),
        available_after=translate.credits(entry.available_after_hundredths),
        reserved_after=translate.credits(entry.reserved_after_hundredths),
        reference=entry.idempotency_key,
        description=entry.description or None,
        created_at=translate.utc(entry.created_at),
    )


async def _csv_rows(
    services: Services,
    request: credits_service_pb2.ListLedgerEntriesRequest,
    response: credits_service_pb2.ListLedgerEntriesResponse,
) -> AsyncIterator[str]:
    """Every matching entry, page by page from the first one given, as CSV lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for _ in range(CSV_MAX_PAGES):
        for entry in map(_entry_public, response.entries):
            row = entry.model_dump(by_alias=True)
            writer.writerow(["" if row[column] is None else row[column] for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not response.next_page_token:
            return
        request.page_token = response.next_page_token
        response = await services.credits.ListLedgerEntries(request)


@router.get(
    "/history",
    response_model=schemas.LedgerPage,
    response_model_by_alias=True,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON page, or every entry as CSV"}},
)
async def history(
    request: Request,
    team_id: BillingTeamIdDep,
    services: ServicesDep,
    type: Annotated[
        list[str] | None,
        Query(description="allocation, bonus, reserve, capture, release, expiry, adjustment"),
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
):
    """Every credit movement, newest first; `Accept: text/csv` exports all that match as CSV."""
    names = [name for value in type or [] for name in value.split(",") if name]
    unknown = [name for name in names if name not in _TYPES]
    if unknown:
        raise ApiError(400, "invalid_request", "unknown entry type", {"type": f"one of {', '.join(_TYPES)}"})
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                400, "invalid_request", "times need a UTC offset", {name: "RFC 3339 with an offset"}
            )
    grpc_request = credits_service_pb2.ListLedgerEntriesRequest(
        team_id=team_id,
        kinds=[_TYPES[name] for name in names],
        since=translate.timestamp("since", since),
        until=translate.timestamp("until", until),
        page_size=limit,
        page_token=cursor or "",
    )
    if "text/csv" in request.headers.get("accept", ""):
        grpc_request.page_size = 100
        grpc_request.page_token = ""
        # The first page is read before answering, so a bad request still gets a JSON error.
        first = await services.credits.ListLedgerEntries(grpc_request)
        return StreamingResponse(
            _csv_rows(services, grpc_request, first),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="credit-history.csv"'},
        )
    response = await services.credits.ListLedgerEntries(grpc_request)
    return schemas.LedgerPage(
        items=[_entry_public(entry) for entry in response.entries],
        next_cursor=response.next_page_token or None,
    )

"""The CreditsService contract over a real gRPC server and a real Postgres."""

import grpc
import pytest
from imagegen.credits.v1 import credits_pb2, credits_service_pb2, credits_service_pb2_grpc
from imagegen_credits.adapters.tables import credit_pricing_config
from imagegen_credits.entrypoints.grpc_servicer import CreditsServicer
from imagegen_platform.db import create_engine
from imagegen_platform.grpc_client import error_reason, open_channel
from imagegen_platform.grpc_server import ErrorAndContextInterceptor
from sqlalchemy import delete, insert, select


@pytest.fixture
async def credits_stub(infrastructure):
    engine = create_engine(infrastructure.database_url)
    server = grpc.aio.server(interceptors=[ErrorAndContextInterceptor()])
    credits_service_pb2_grpc.add_CreditsServiceServicer_to_server(CreditsServicer(engine), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    yield credits_service_pb2_grpc.CreditsServiceStub(channel)
    await channel.close()
    await server.stop(None)
    await engine.dispose()


async def test_quote_uses_the_seeded_pricing(credits_stub):
    response = await credits_stub.QuoteImageGeneration(
        credits_service_pb2.QuoteImageGenerationRequest(
            resolution="1024x1024", quality="hd", model_complexity_hundredths=150, num_images=1
        )
    )
    assert response.quote.amount_hundredths == 27_00
    assert response.quote.pricing_version == 1


async def test_a_new_pricing_version_prices_the_very_next_quote(credits_stub, infrastructure):
    request = credits_service_pb2.QuoteImageGenerationRequest(
        resolution="1024x1024", quality="hd", model_complexity_hundredths=150, num_images=1
    )
    assert (await credits_stub.QuoteImageGeneration(request)).quote.pricing_version == 1
    engine = create_engine(infrastructure.database_url)
    image, version = credit_pricing_config.c.operation == "image_generation", credit_pricing_config.c.version
    try:
        async with engine.begin() as connection:
            seeded = (
                await connection.execute(select(credit_pricing_config.c.config).where(image, version == 1))
            ).scalar()
            await connection.execute(
                insert(credit_pricing_config).values(
                    operation="image_generation", version=2, config={**seeded, "baseCost": "10"}
                )
            )
        quote = (await credits_stub.QuoteImageGeneration(request)).quote
        assert (quote.pricing_version, quote.amount_hundredths) == (2, 54_00)
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(credit_pricing_config).where(image, version == 2))
        await engine.dispose()
    # Other tests of this session price with the seed.
    assert (await credits_stub.QuoteImageGeneration(request)).quote.pricing_version == 1


async def test_insufficient_credits_is_failed_precondition_with_a_reason(credits_stub, team_id):
    await credits_stub.CreateAccount(
        credits_service_pb2.CreateAccountRequest(team_id=team_id, plan=credits_pb2.PLAN_FREE)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await credits_stub.ReserveCredits(
            credits_service_pb2.ReserveCreditsRequest(
                team_id=team_id, amount_hundredths=27_00, idempotency_key=team_id
            )
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(caught.value) == (
        "insufficient_credits",
        {"neededCredits": "27.00", "availableCredits": "0.00"},
    )


async def test_bad_input_is_invalid_argument_listing_the_fields(credits_stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await credits_stub.QuoteImageGeneration(
            credits_service_pb2.QuoteImageGenerationRequest(resolution="1x1", quality="hd", num_images=1)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, details = error_reason(caught.value)
    assert reason == "invalid_pricing_input"
    assert set(details) == {"resolution", "modelComplexity"}


async def test_reserve_capture_round_trip_reports_the_balance(credits_stub, team_id):
    created = await credits_stub.CreateAccount(
        credits_service_pb2.CreateAccountRequest(team_id=team_id, plan=credits_pb2.PLAN_PRO)
    )
    assert created.balance.available_hundredths == 2_000_00
    assert created.balance.max_concurrent_jobs == 3
    reserved = await credits_stub.ReserveCredits(
        credits_service_pb2.ReserveCreditsRequest(
            team_id=team_id, amount_hundredths=27_00, idempotency_key=team_id
        )
    )
    assert (reserved.balance.available_hundredths, reserved.balance.reserved_hundredths) == (
        1_973_00,
        27_00,
    )
    captured = await credits_stub.CaptureCredits(
        credits_service_pb2.CaptureCreditsRequest(idempotency_key=team_id, amount_hundredths=27_00)
    )
    assert (captured.captured_hundredths, captured.released_hundredths) == (27_00, 0)
    balance = await credits_stub.GetBalance(credits_service_pb2.GetBalanceRequest(team_id=team_id))
    assert (balance.balance.available_hundredths, balance.balance.reserved_hundredths) == (
        1_973_00,
        0,
    )


async def test_unknown_team_is_not_found(credits_stub, team_id):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await credits_stub.GetBalance(credits_service_pb2.GetBalanceRequest(team_id=team_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

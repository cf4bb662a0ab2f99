"""The ModelsService contract over a real gRPC server and a real, seeded Postgres."""

import grpc
import pytest
from imagegen.models.v1 import models_service_pb2
from imagegen_models.domain.catalog import REFERENCE_MODELS
from imagegen_models.service_layer.handlers import seed_catalog
from imagegen_platform.grpc_client import error_reason


@pytest.fixture
def models_stub(service):
    return service.stub, service.engine


async def test_reference_model_one_is_the_seeds_complexity_1_5_model(models_stub):
    stub, _ = models_stub
    response = await stub.GetReferenceModel(models_service_pb2.GetReferenceModelRequest(id=1))
    model = response.reference_model
    assert (model.complexity_hundredths, model.provider_endpoint) == (150, "fal-ai/flux-lora")
    assert dict(model.default_parameters) == {"guidance_scale": 3.5}


async def test_seeding_again_changes_nothing(models_stub):
    stub, engine = models_stub
    await seed_catalog(engine)
    response = await stub.ListReferenceModels(models_service_pb2.ListReferenceModelsRequest(page_size=100))
    assert [model.id for model in response.reference_models] == [model.id for model in REFERENCE_MODELS]


async def test_pages_follow_each_other_in_id_order(models_stub):
    stub, _ = models_stub
    seen, token = [], ""
    while True:
        page = await stub.ListReferenceModels(
            models_service_pb2.ListReferenceModelsRequest(page_size=2, page_token=token)
        )
        seen += [model.id for model in page.reference_models]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(model.id for model in REFERENCE_MODELS)


@pytest.mark.parametrize(
    ("request_fields", "code", "reason"),
    [
        ({"category": "cars"}, grpc.StatusCode.INVALID_ARGUMENT, "invalid_category"),
        ({"page_token": "not-ours"}, grpc.StatusCode.INVALID_ARGUMENT, "invalid_cursor"),
        ({"page_size": 101}, grpc.StatusCode.INVALID_ARGUMENT, "invalid_page_size"),
    ],
)
async def test_bad_listing_requests_are_invalid_arguments(models_stub, request_fields, code, reason):
    stub, _ = models_stub
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListReferenceModels(models_service_pb2.ListReferenceModelsRequest(**request_fields))
    assert caught.value.code() == code
    assert error_reason(caught.value)[0] == reason


async def test_an_unknown_model_is_not_found(models_stub):
    stub, _ = models_stub
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetReferenceModel(models_service_pb2.GetReferenceModelRequest(id=9999))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(caught.value)[0] == "reference_model_not_found"


async def test_the_catalog_has_ten_models_in_each_of_five_categories(models_stub):
    stub, _ = models_stub
    for category in ("fashion", "fitness", "beauty", "lifestyle", "business"):
        page = await stub.ListReferenceModels(
            models_service_pb2.ListReferenceModelsRequest(category=category, page_size=100)
        )
        assert len(page.reference_models) == 10
        assert all(model.complexity_hundredths > 0 and model.tags for model in page.reference_models)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("running", {"Trail Running"}),
        ("perfume", {"Fragrance Still Life"}),
        ("beach swimwear", {"Swimwear Beach"}),
    ],
)
async def test_text_search_matches_names_descriptions_and_tags(models_stub, query, expected):
    stub, _ = models_stub
    page = await stub.ListReferenceModels(
        models_service_pb2.ListReferenceModelsRequest(query=query, page_size=100)
    )
    assert {model.name for model in page.reference_models} == expected

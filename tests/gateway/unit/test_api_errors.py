"""The gateway's one error shape, status mapping and request ids, with fake service stubs."""

import grpc
import httpx
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from imagegen_gateway.adapters import api_keys
from imagegen_gateway.app import create_app
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.deps import get_caller, get_services


def rpc_error(code: grpc.StatusCode, message: str, reason: str | None = None) -> grpc.aio.AioRpcError:
    trailing = grpc.aio.Metadata()
    if reason:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.ErrorInfo(reason=reason, domain="imagegen", metadata={"neededCredits": "27.00"})
        )
        status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=[detail])
        trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=message)


class FailingGeneration:
    def __init__(self, error: grpc.aio.AioRpcError) -> None:
        self.error = error

    async def CreateImageGenerationJob(self, request):
        raise self.error

    async def GetJob(self, request):
        raise self.error


class FakeServices:
    def __init__(self, error: grpc.aio.AioRpcError) -> None:
        self.generation = FailingGeneration(error)


SETTINGS = GatewaySettings(
    database_url="postgresql+asyncpg://unused/unused",
    models_addr="unused:1",
    generation_addr="unused:1",
    credits_addr="unused:1",
    storage_addr="unused:1",
)
VALID_BODY = {
    "referenceModelId": 1,
    "prompt": "a red dress",
    "resolution": "1024x1024",
    "quality": "hd",
}


def client(error: grpc.aio.AioRpcError | None = None, authenticated: bool = True) -> httpx.AsyncClient:
    app = create_app(SETTINGS)
    app.dependency_overrides[get_services] = lambda: FakeServices(
        error or rpc_error(grpc.StatusCode.INTERNAL, "x")
    )
    if authenticated:
        app.dependency_overrides[get_caller] = lambda: api_keys.Caller(
            "key-1", "team-1", frozenset(api_keys.SCOPES)
        )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["requestId"] == response.headers["x-request-id"]
    return error


async def test_missing_api_key_is_401_with_the_error_shape():
    async with client(authenticated=False) as http:
        response = await http.post("/api/generate", json=VALID_BODY)
    assert_error_shape(response, 401, "unauthenticated")


async def test_every_invalid_field_is_listed_in_one_400():
    async with client() as http:
        response = await http.post(
            "/api/generate",
            json={"referenceModelId": 0, "prompt": "", "quality": "ultra", "numImages": 9},
        )
    error = assert_error_shape(response, 400, "invalid_request")
    assert set(error["details"]) == {"referenceModelId", "prompt", "quality", "numImages"}


async def test_unknown_fields_are_refused_rather_than_ignored():
    async with client() as http:
        response = await http.post("/api/generate", json={**VALID_BODY, "styleStrength": 5})
    assert "styleStrength" in assert_error_shape(response, 400, "invalid_request")["details"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (
            rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "needs 27.00", "insufficient_credits"),
            402,
            "insufficient_credits",
        ),
        (
            rpc_error(grpc.StatusCode.NOT_FOUND, "no such model", "reference_model_not_found"),
            404,
            "reference_model_not_found",
        ),
        (
            rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad resolution", "invalid_pricing_input"),
            400,
            "invalid_pricing_input",
        ),
        (rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused"), 503, "service_unavailable"),
        (rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline"), 504, "service_unavailable"),
        (rpc_error(grpc.StatusCode.INTERNAL, "traceback: secret"), 500, "internal_error"),
    ],
)
async def test_service_errors_map_to_http_statuses(error, status, code):
    async with client(error) as http:
        response = await http.post("/api/generate", json=VALID_BODY)
    body = assert_error_shape(response, status, code)
    assert "traceback" not in body["message"]


async def test_reason_metadata_is_passed_on_as_details():
    error = rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "needs 27.00", "insufficient_credits")
    async with client(error) as http:
        response = await http.post("/api/generate", json=VALID_BODY)
    assert response.json()["error"]["details"] == {"neededCredits": "27.00"}


async def test_a_callers_request_id_is_echoed_and_a_missing_one_is_made():
    async with client() as http:
        given = await http.get("/api/nowhere", headers={"X-Request-Id": "trace-123"})
        made = await http.get("/api/nowhere")
    assert given.headers["x-request-id"] == "trace-123"
    assert_error_shape(given, 404, "not_found")
    assert made.headers["x-request-id"].startswith("req_")


async def test_json_sent_with_curls_default_form_type_is_read_as_json():
    error = rpc_error(grpc.StatusCode.NOT_FOUND, "no such model", "reference_model_not_found")
    async with client(error) as http:
        as_curl_sends_it = await http.post(
            "/api/generate",
            content=b'{"referenceModelId": 1, "prompt": "a red dress"}',
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        not_json = await http.post(
            "/api/generate",
            content=b"prompt=a+red+dress",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    # The body was parsed and reached the (fake) generation service.
    assert_error_shape(as_curl_sends_it, 404, "reference_model_not_found")
    assert_error_shape(not_json, 400, "invalid_request")


async def test_ids_beyond_int64_are_400_not_500():
    async with client() as http:
        body = await http.post("/api/generate", json={**VALID_BODY, "referenceModelId": 2**64})
        path = await http.get(f"/api/reference-models/{2**64}")
    assert "referenceModelId" in assert_error_shape(body, 400, "invalid_request")["details"]
    assert_error_shape(path, 400, "invalid_request")


async def test_the_openapi_document_lists_every_public_route():
    async with client() as http:
        response = await http.get("/openapi.json")
    paths = response.json()["paths"]
    assert {
        "/api/generate",
        "/api/generate/{job_id}",
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/credits/balance",
        "/api/credits/estimate",
        "/api/credits/history",
        "/api/credits/low-balance-threshold",
        "/api/reference-models",
        "/api/reference-models/{model_id}",
        "/api/webhooks/fal",
        "/api/webhooks/stripe",
        "/api/stripe/webhook",
    } <= set(paths)


async def test_a_body_over_the_limit_is_refused_with_413_whether_declared_or_streamed():
    too_big = b"{" + b" " * SETTINGS.max_body_bytes + b"}"
    async with client() as http:
        declared = await http.post(
            "/api/generate", content=too_big, headers={"content-type": "application/json"}
        )

        async def chunks():
            for start in range(0, len(too_big), 64 * 1024):
                yield too_big[start : start + 64 * 1024]

        streamed = await http.post(
            "/api/generate", content=chunks(), headers={"content-type": "application/json"}
        )
    for response in (declared, streamed):
        error = assert_error_shape(response, 413, "payload_too_large")
        assert error["details"]["maxBytes"] == str(SETTINGS.max_body_bytes)


async def test_the_web_apps_origin_gets_cors_and_others_do_not():
    web_origin = "https://app.imagegen.example"
    app = create_app(SETTINGS.model_copy(update={"web_origins": [web_origin]}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        ours = await http.options(
            "/api/generate", headers={"Origin": web_origin, "Access-Control-Request-Method": "POST"}
        )
        foreign = await http.options(
            "/api/generate",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert ours.headers["access-control-allow-origin"] == web_origin
    assert ours.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in foreign.headers

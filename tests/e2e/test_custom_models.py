"""Custom models through the gateway of the running stack: a training set checked before any charge,
training to `ready` with the weights in our bucket, refinement into version 2, generation from both
versions, a failed training refunded in full, and deletion. Credits match the formulas at each step."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest

# Reference model 1 has complexity 1.5: ten images cost 50 x 1.5 x 1.5 + (10 - 5) x 0.5 = 115.00,
# the first refinement 30 x 1.2 x 1.5 x 1.1 = 59.40, the second 71.28, and one 1024px hd image 27.00.
CREATION_CREDITS = 115.0
FIRST_REFINEMENT_CREDITS = 59.4
SECOND_REFINEMENT_CREDITS = 71.28
IMAGE_CREDITS = 27.0
PRO_ALLOCATION = 2000.0


@pytest.fixture(scope="module")
def team(stack) -> dict[str, str]:
    return stack.create_team("e2e-models", "pro")


@pytest.fixture
def api(stack, team):
    with httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=60
    ) as client:
        yield client


def eventually(read, done, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds}s: {value}")
        time.sleep(0.2)


def wait_for_version(api: httpx.Client, model_id: int, version: int) -> dict:
    """The model once the version has finished training (ready, failed or cancelled)."""

    def read():
        response = api.get(f"/api/models/{model_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def finished(model):
        versions = {v["version"]: v for v in model["versions"]}
        return versions.get(version, {}).get("status") in ("ready", "failed", "cancelled")

    return eventually(read, finished, f"version {version} of model {model_id} finishing")


def wait_for_balance(api: httpx.Client, available: float) -> dict:
    return eventually(
        lambda: api.get("/api/credits/balance").json(),
        lambda balance: balance["availableCredits"] == available and balance["reservedCredits"] == 0,
        f"available credits becoming {available}",
    )


def upload(api: httpx.Client, data: bytes) -> str:
    """A training image through a presigned upload: the bytes go straight to the bucket."""
    created = api.post("/api/uploads", json={"contentType": "image/png", "sizeBytes": len(data)})
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["method"] == "PUT"
    put = httpx.put(ticket["uploadUrl"], content=data, headers=ticket["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return ticket["id"]


def generate(api: httpx.Client, **model) -> httpx.Response:
    return api.post(
        "/api/generate",
        json={"prompt": "woman in red dress", "resolution": "1024x1024", "quality": "hd", **model},
        headers={"Prefer": "wait=30"},
    )


def test_a_bad_training_set_lists_every_problem_and_costs_nothing(api, image_server):
    before = api.get("/api/credits/balance").json()
    response = api.post(
        "/api/models",
        json={
            "referenceModelId": 1,
            "name": "Broken set",
            "trainingImages": [
                *image_server.urls(range(100, 102)),
                f"{image_server.base_url}/small.png",
                f"{image_server.base_url}/text.png",
                f"{image_server.base_url}/missing.png",
                image_server.urls(range(100, 101))[0],
            ],
            "triggerWord": "brk",
        },
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_training_set"
    details = error["details"]
    assert "too_small" in details["trainingImages[2]"]
    assert "not_an_image" in details["trainingImages[3]"]
    assert "unreachable" in details["trainingImages[4]"]
    assert "duplicate" in details["trainingImages[5]"]
    assert "trainingImages[0]" not in details and "trainingImages[1]" not in details
    after = api.get("/api/credits/balance").json()
    assert (after["availableCredits"], after["reservedCredits"]) == (
        before["availableCredits"],
        before["reservedCredits"],
    )
    assert all(model["name"] != "Broken set" for model in api.get("/api/models").json()["items"])

    too_few = api.post(
        "/api/models",
        json={
            "referenceModelId": 1,
            "name": "Too few",
            "trainingImages": image_server.urls(range(110, 112)),
            "triggerWord": "few",
        },
    )
    assert too_few.status_code == 400
    assert "too_few_images" in too_few.json()["error"]["details"]["trainingImages"]


def test_a_model_trains_refines_and_generates_from_each_version_at_the_formulas_prices(
    api, image_server, stack
):
    images = [*image_server.urls(range(1, 10)), upload(api, image_server.png(10))]
    estimate = api.post(
        "/api/credits/estimate",
        json={"operation": "model_creation", "referenceModelId": 1, "trainingImages": images},
    )
    assert estimate.json()["credits"] == CREATION_CREDITS

    body = {
        "referenceModelId": 1,
        "name": "Autumn catalogue",
        "description": "Knitwear on location",
        "trainingImages": images,
        "triggerWord": "ohwx knit",
        "trainingSteps": 400,
    }
    created = api.post("/api/models", json=body, headers={"Idempotency-Key": "autumn-1"})
    assert created.status_code == 202, created.text
    model, job = created.json()["customModel"], created.json()["job"]
    assert model["status"] in ("pending", "training")
    assert (job["type"], job["estimatedCredits"]) == ("model_creation", CREATION_CREDITS)
    assert job["input"]["customModelId"] == model["id"] and job["input"]["numTrainingImages"] == 10
    # A retried request returns the same model and job, and charges once.
    again = api.post("/api/models", json=body, headers={"Idempotency-Key": "autumn-1"})
    assert (again.json()["customModel"]["id"], again.json()["job"]["id"]) == (model["id"], job["id"])

    # Generating before a version is ready is refused with the reason.
    early = generate(api, customModelId=model["id"])
    if early.status_code != 200:  # unless training already finished
        assert early.status_code == 409, early.text
        assert early.json()["error"]["code"] == "model_not_ready"

    model = wait_for_version(api, model["id"], 1)
    [first] = model["versions"]
    assert (model["status"], model["currentVersion"], first["status"]) == ("ready", 1, "ready")
    assert first["chargedCredits"] == CREATION_CREDITS and first["progress"] == 1.0
    assert first["weightsFileId"] and first["configFileId"] and len(first["trainingImageIds"]) == 10
    trained = api.get(f"/api/jobs/{first['jobId']}").json()
    assert trained["status"] == "completed" and trained["result"] == {
        "customModelId": model["id"],
        "modelVersion": 1,
    }
    spent = CREATION_CREDITS

    from_v1 = generate(api, customModelId=model["id"])
    assert from_v1.status_code == 200, from_v1.text
    image_job = from_v1.json()["job"]
    assert image_job["status"] == "completed", image_job
    assert (image_job["input"]["customModelId"], image_job["input"]["modelVersion"]) == (model["id"], 1)
    assert image_job["chargedCredits"] == IMAGE_CREDITS
    spent += IMAGE_CREDITS

    refinement_quote = api.post(
        "/api/credits/estimate", json={"operation": "model_refinement", "customModelId": model["id"]}
    )
    assert refinement_quote.json()["credits"] == FIRST_REFINEMENT_CREDITS
    refined = api.post(
        f"/api/models/{model['id']}/refine", json={"trainingImages": image_server.urls(range(11, 13))}
    )
    assert refined.status_code == 202, refined.text
    assert refined.json()["job"]["type"] == "model_refinement"
    assert refined.json()["job"]["estimatedCredits"] == FIRST_REFINEMENT_CREDITS
    model = wait_for_version(api, model["id"], 2)
    second = model["versions"][1]
    assert (second["status"], second["parentVersion"], model["currentVersion"]) == ("ready", 1, 2)
    assert (
        len(second["trainingImageIds"]) == 12 and second["trainingImageIds"][:10] == first["trainingImageIds"]
    )
    spent += FIRST_REFINEMENT_CREDITS
    assert (
        api.post(
            "/api/credits/estimate", json={"operation": "model_refinement", "customModelId": model["id"]}
        ).json()["credits"]
        == SECOND_REFINEMENT_CREDITS
    )

    current = generate(api, customModelId=model["id"]).json()["job"]
    pinned = generate(api, customModelId=model["id"], modelVersion=1).json()["job"]
    assert (current["input"]["modelVersion"], pinned["input"]["modelVersion"]) == (2, 1)
    assert current["status"] == pinned["status"] == "completed"
    spent += 2 * IMAGE_CREDITS
    missing = generate(api, customModelId=model["id"], modelVersion=9)
    assert missing.status_code == 404, missing.text

    # The current version can be set back to any ready version.
    patched = api.patch(f"/api/models/{model['id']}", json={"currentVersion": 1, "name": "Autumn v1"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["currentVersion"], patched.json()["name"]) == (1, "Autumn v1")
    listed = api.get("/api/jobs", params={"customModelId": model["id"], "type": "model_refinement"}).json()
    assert [j["id"] for j in listed["items"]] == [second["jobId"]]

    wait_for_balance(api, round(PRO_ALLOCATION - spent, 2))

    assert api.delete(f"/api/models/{model['id']}").status_code == 204
    assert api.get(f"/api/models/{model['id']}").status_code == 404
    assert generate(api, customModelId=model["id"]).status_code == 404
    assert api.delete(f"/api/models/{model['id']}").status_code == 404
    check = subprocess.run(
        [sys.executable, "-m", "imagegen_credits", "check-ledger"],
        env={**os.environ, **stack.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@contextmanager
def basic_team_training(stack, image_server, name: str, trigger_word: str, first_image: int):
    """A new basic team's client and the 202 answer of its model trained on ten served images."""
    team = stack.create_team(f"e2e-models-{name.lower()}", "basic")
    with httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {team['apiKey']}"}, timeout=60
    ) as api:
        created = api.post(
            "/api/models",
            json={
                "referenceModelId": 1,
                "name": name,
                "trainingImages": image_server.urls(range(first_image, first_image + 10)),
                "triggerWord": trigger_word,
            },
        )
        assert created.status_code == 202, created.text
        yield api, created.json()


def test_a_failed_training_is_refunded_in_full_and_says_why(stack, image_server):
    with basic_team_training(stack, image_server, "Doomed", "dmd [[fail]]", 200) as (api, created):
        model = wait_for_version(api, created["customModel"]["id"], 1)
        [version] = model["versions"]
        assert (model["status"], version["status"], model["currentVersion"]) == ("failed", "failed", None)
        assert "failure" in version["failureReason"].lower()
        assert version["chargedCredits"] == 0
        job = api.get(f"/api/jobs/{version['jobId']}").json()
        assert (job["status"], job["refundedCredits"]) == ("failed", CREATION_CREDITS)
        wait_for_balance(api, 500.0)
        refused = api.post(f"/api/models/{model['id']}/refine", json={"trainingSteps": 500})
        assert refused.status_code == 409, refused.text


def test_deleting_a_model_mid_training_cancels_and_refunds_it(stack, image_server):
    with basic_team_training(stack, image_server, "Slow", "slw [[slow:16]]", 300) as (api, created):
        model_id, job_id = created["customModel"]["id"], created["job"]["id"]
        # Training progress shows on the model while it trains (from the trainer's step logs).
        training = eventually(
            lambda: api.get(f"/api/models/{model_id}").json(),
            lambda model: 0 < model["versions"][0]["progress"] < 1,
            "training progress showing",
        )
        assert (training["status"], training["versions"][0]["status"]) == ("training", "training")
        assert api.delete(f"/api/models/{model_id}").status_code == 204
        job = api.get(f"/api/jobs/{job_id}").json()
        assert (job["status"], job["refundedCredits"]) == ("cancelled", CREATION_CREDITS)
        wait_for_balance(api, 500.0)
        assert api.get("/api/models").json()["items"] == []

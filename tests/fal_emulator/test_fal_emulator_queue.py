"""The queue and run protocol, driven through an unmodified fal-client."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from PIL import Image

FLUX = "fal-ai/flux-lora"


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def wait_completed(handle: Any, fal: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = handle.status(with_logs=True)
        if isinstance(status, fal.Completed):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{handle.request_id} did not complete")


def download_image(fal_emulator: Any, url: str) -> tuple[bytes, Image.Image]:
    response = fal_emulator.http.get(url)
    assert response.status_code == 200
    data = response.content
    return data, Image.open(io.BytesIO(data))


def test_submit_status_result_renders_deterministic_png_of_requested_size(
    fal: Any, fal_sync: Any, fal_emulator: Any
) -> None:
    arguments = {
        "prompt": unique("a lighthouse at dusk"),
        "seed": 1234,
        "image_size": {"width": 320, "height": 200},
        "output_format": "png",
        "loras": [{"path": "https://example.com/lora.safetensors", "scale": 0.8}],
    }
    handle = fal_sync.submit(FLUX, arguments)

    status = wait_completed(handle, fal)
    output = handle.get()

    assert status.error is None
    assert any(entry["message"].startswith("Step ") for entry in status.logs)
    assert status.metrics["inference_time"] >= 0.2
    assert output["seed"] == 1234
    assert output["prompt"] == arguments["prompt"]
    assert output["has_nsfw_concepts"] == [False]
    [image] = output["images"]
    assert image["url"].startswith(f"{fal_emulator.base_url}/files/")
    assert (image["width"], image["height"], image["content_type"]) == (320, 200, "image/png")
    first_bytes, picture = download_image(fal_emulator, image["url"])
    assert picture.format == "PNG" and picture.size == (320, 200)

    again = fal_sync.subscribe(FLUX, arguments)
    other_seed = fal_sync.subscribe(FLUX, {**arguments, "seed": 1235})

    assert again["images"][0]["url"] != image["url"]
    assert download_image(fal_emulator, again["images"][0]["url"])[0] == first_bytes
    assert download_image(fal_emulator, other_seed["images"][0]["url"])[0] != first_bytes


def test_module_level_calls_rebuild_urls_from_app_id(fal: Any, fal_sync: Any) -> None:
    handle = fal_sync.submit(FLUX, {"prompt": unique("rebuilt urls"), "image_size": "square"})
    wait_completed(handle, fal)

    # fal-client drops the subpath of the app id when it rebuilds queue URLs.
    status = fal_sync.status(f"{FLUX}/some/subpath", handle.request_id, with_logs=False)
    output = fal_sync.result(FLUX, handle.request_id)
    with pytest.raises(fal.FalClientHTTPError) as already_done:
        fal_sync.cancel(FLUX, handle.request_id)

    assert isinstance(status, fal.Completed) and status.logs is None
    assert output == handle.get()
    assert already_done.value.status_code == 400
    assert json.loads(already_done.value.response.text) == {"status": "ALREADY_COMPLETED"}


def test_subscribe_reports_queue_updates_and_picks_a_seed(fal: Any, fal_sync: Any) -> None:
    updates: list[Any] = []

    output = fal_sync.subscribe(
        FLUX,
        {"prompt": unique("two foxes"), "num_images": 2},
        with_logs=True,
        on_queue_update=updates.append,
    )

    assert isinstance(updates[-1], fal.Completed)
    assert any(isinstance(update, fal.InProgress) for update in updates)
    assert isinstance(output["seed"], int)
    assert [(i["width"], i["height"], i["content_type"]) for i in output["images"]] == [
        (1024, 768, "image/jpeg")
    ] * 2


async def test_async_client_submit_and_get(fal: Any) -> None:
    async_client = fal.AsyncClient()

    handle = await async_client.submit(FLUX, {"prompt": unique("async"), "sync_mode": True})
    output = await handle.get()

    assert output["images"][0]["url"].startswith("data:image/jpeg;base64,")


def test_sync_run_returns_output_directly(fal_sync: Any) -> None:
    output = fal_sync.run(FLUX, {"prompt": unique("sync run"), "image_size": "portrait_16_9"})

    assert (output["images"][0]["width"], output["images"][0]["height"]) == (576, 1024)


def test_missing_prompt_is_a_422_with_field_detail(fal: Any, fal_sync: Any) -> None:
    expected = [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}]

    with pytest.raises(fal.FalClientHTTPError) as sync_error:
        fal_sync.run(FLUX, {"num_images": 1})
    handle = fal_sync.submit(FLUX, {"num_images": 9})
    status = wait_completed(handle, fal)
    with pytest.raises(fal.FalClientHTTPError) as queued_error:
        handle.get()

    assert sync_error.value.status_code == 422
    assert sync_error.value.message == expected
    assert status.error is not None
    assert queued_error.value.status_code == 422
    assert expected[0] in queued_error.value.message
    assert {"loc": ["body", "num_images"], "msg": "ensure this value is less than or equal to 4",
            "type": "value_error.number.not_le"} in queued_error.value.message  # fmt: skip


def test_wrong_key_is_rejected_with_401(fal: Any) -> None:
    with pytest.raises(fal.FalClientHTTPError) as error:
        fal.SyncClient(key="wrong:key").submit(FLUX, {"prompt": "x"})

    assert error.value.status_code == 401


def test_unknown_request_is_404(fal: Any, fal_sync: Any) -> None:
    with pytest.raises(fal.FalClientHTTPError) as error:
        fal_sync.status(FLUX, str(uuid.uuid4()))

    assert error.value.status_code == 404


def test_cancel_removes_queued_and_stops_running_requests(fal: Any, fal_sync: Any) -> None:
    # The emulator runs at most two requests at once, so the third one waits in the queue.
    running = [fal_sync.submit(FLUX, {"prompt": unique("[[slow:30]] busy")}) for _ in range(2)]
    queued = fal_sync.submit(FLUX, {"prompt": unique("[[slow:30]] waiting")})

    queued_status = queued.status()
    queued.cancel()
    for handle in running:
        assert isinstance(handle.status(), fal.InProgress)
        handle.cancel()

    assert isinstance(queued_status, fal.Queued) and queued_status.position == 0
    for handle in [queued, *running]:
        status = wait_completed(handle, fal, timeout=5)
        assert status.error == "Request was cancelled"
        with pytest.raises(fal.FalClientHTTPError) as error:
            handle.get()
        assert error.value.status_code == 400


def test_fail_marker_fails_permanently(fal: Any, fal_sync: Any) -> None:
    arguments = {"prompt": unique("[[fail]] broken"), "seed": 1}

    for _ in range(2):
        handle = fal_sync.submit(FLUX, arguments)
        status = wait_completed(handle, fal)
        with pytest.raises(fal.FalClientHTTPError) as error:
            handle.get()
        assert status.error and status.error_type is None
        assert error.value.status_code == 422
        assert error.value.message[0]["loc"] == ["body"]


def test_flaky_marker_fails_first_attempt_then_succeeds(fal: Any, fal_sync: Any) -> None:
    arguments = {"prompt": unique("[[flaky]] sometimes"), "seed": 2}

    first = fal_sync.submit(FLUX, arguments)
    first_status = wait_completed(first, fal)
    with pytest.raises(fal.FalClientHTTPError) as error:
        first.get()
    retried = fal_sync.subscribe(FLUX, arguments)

    assert first_status.error_type == "runner_server_error"
    assert error.value.status_code == 503
    assert error.value.error_type == "runner_server_error"
    assert retried["seed"] == 2


def test_slow_marker_sets_duration(fal_sync: Any) -> None:
    started = time.monotonic()
    fal_sync.subscribe(FLUX, {"prompt": unique("[[slow:1]] patient"), "image_size": "square"})

    assert time.monotonic() - started >= 1.0


def test_env_vars_alone_configure_a_fresh_process(fal_emulator: Any) -> None:
    script = (
        "import json, fal_client\n"
        "out = fal_client.subscribe('fal-ai/flux-lora', {'prompt': 'env only', 'seed': 3})\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, **fal_emulator.env}

    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["seed"] == 3
    assert output["images"][0]["url"].startswith(f"{fal_emulator.base_url}/files/")

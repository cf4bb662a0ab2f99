"""The LoRA trainer endpoint, fed a zip as a data: URL."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from PIL import Image

TRAINER = "fal-ai/flux-lora-fast-training"


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def data_url(data: bytes) -> str:
    return f"data:application/zip;base64,{base64.b64encode(data).decode()}"


DATASET = zip_bytes(
    {
        "photo1.png": png_bytes((255, 0, 0)),
        "photo1.txt": b"a photo of TOK",
        "photo2.png": png_bytes((0, 0, 255)),
    }
)


def test_training_returns_a_valid_safetensors_lora_and_config(
    fal: Any, fal_sync: Any, fal_emulator: Any
) -> None:
    arguments = {
        "images_data_url": fal.encode(DATASET, "application/zip"),
        "trigger_word": f"TOK{uuid.uuid4().hex[:6]}",
        "steps": 100,
    }
    logs: list[str] = []

    output = fal_sync.subscribe(
        TRAINER,
        arguments,
        with_logs=True,
        on_queue_update=lambda update: logs.extend(
            entry["message"] for entry in getattr(update, "logs", None) or []
        ),
    )
    again = fal_sync.subscribe(TRAINER, arguments)

    lora = output["diffusers_lora_file"]
    assert lora["file_name"].endswith(".safetensors")
    weights = fal_emulator.http.get(lora["url"]).content
    assert len(weights) == lora["file_size"]
    header_length = int.from_bytes(weights[:8], "little")
    header = json.loads(weights[8 : 8 + header_length])
    assert header["__metadata__"]["trigger_word"] == arguments["trigger_word"]
    tensor_end = max(t["data_offsets"][1] for n, t in header.items() if n != "__metadata__")
    assert 8 + header_length + tensor_end == len(weights)
    assert fal_emulator.http.get(again["diffusers_lora_file"]["url"]).content == weights
    config = fal_emulator.http.get(output["config_file"]["url"]).json()
    assert (config["image_count"], config["caption_count"], config["steps"]) == (2, 1, 100)
    assert "Training step 100/100" in logs


def test_uploaded_dataset_trains_and_its_lora_feeds_inference(fal_sync: Any) -> None:
    dataset_url = fal_sync.upload(DATASET, "application/zip", file_name="dataset.zip")

    training = fal_sync.subscribe(TRAINER, {"images_data_url": dataset_url, "steps": 10})

    output = fal_sync.run(
        "fal-ai/flux-lora",
        {"prompt": "TOK", "loras": [{"path": training["diffusers_lora_file"]["url"]}]},
    )

    assert len(output["images"]) == 1


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"not a zip at all", "not a zip archive"),
        (zip_bytes({"notes.txt": b"hello", "fake.png": b"not really"}), "no readable images"),
    ],
)
def test_bad_dataset_fails_with_422(fal: Any, fal_sync: Any, archive: bytes, message: str) -> None:
    handle = fal_sync.submit(TRAINER, {"images_data_url": data_url(archive)})

    with pytest.raises(fal.FalClientHTTPError) as error:
        handle.get()

    assert error.value.status_code == 422
    [detail] = error.value.message
    assert detail["loc"] == ["body", "images_data_url"]
    assert message in detail["msg"]

"""`fal-ai/flux-lora-fast-training`: checks the dataset archive, then emits a tiny fake LoRA.

The .safetensors file is structurally valid (header length, JSON header, F32 tensors), so
code that inspects or forwards it works, and it is deterministic from the inputs.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image

from imagegen_fal_emulator.apps.base import Fields, InputError, JsonObject, OutputSink
from imagegen_fal_emulator.storage import FetchError, FileFetcher

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
LORA_RANK = 4
LORA_WIDTH = 64
LORA_LAYERS = ("to_q", "to_k", "to_v")


@dataclass(frozen=True)
class Dataset:
    digest: str
    image_count: int
    caption_count: int


@dataclass(frozen=True)
class TrainingJob:
    images_data_url: str
    trigger_word: str | None
    steps: int
    is_style: bool
    create_masks: bool
    dataset: Dataset

    @property
    def marker_text(self) -> str:
        return self.trigger_word or ""

    def progress_messages(self) -> list[str]:
        messages = [
            f"Downloaded dataset: {self.dataset.image_count} image(s), "
            f"{self.dataset.caption_count} caption(s)",
            "Preprocessing images" + ("" if self.is_style or not self.create_masks else " and masks"),
        ]
        chunk = max(1, self.steps // 4)
        messages += [f"Training step {s}/{self.steps}" for s in range(chunk, self.steps, chunk)]
        messages.append(f"Training step {self.steps}/{self.steps}")
        messages.append("Saving LoRA weights")
        return messages

    async def produce(self, sink: OutputSink) -> JsonObject:
        folder = uuid.uuid4().hex
        config = {
            "images_data_url": self.images_data_url,
            "trigger_word": self.trigger_word,
            "steps": self.steps,
            "is_style": self.is_style,
            "create_masks": self.create_masks,
            "image_count": self.dataset.image_count,
            "caption_count": self.dataset.caption_count,
            "base_model": "FLUX.1 [dev]",
            "lora_rank": LORA_RANK,
        }
        return {
            "diffusers_lora_file": sink.file_object(
                f"{folder}/pytorch_lora_weights.safetensors",
                self.safetensors(),
                "application/octet-stream",
            ),
            "config_file": sink.file_object(
                f"{folder}/config.json",
                json.dumps(config, indent=2).encode(),
                "application/json",
            ),
        }

    def safetensors(self) -> bytes:
        seed = json.dumps(
            [self.dataset.digest, self.trigger_word, self.steps, self.is_style, self.create_masks]
        )
        rng = random.Random(hashlib.sha256(seed.encode()).digest())
        header: dict[str, object] = {
            "__metadata__": {
                "format": "pt",
                "trigger_word": self.trigger_word or "",
                "steps": str(self.steps),
                "generator": "imagegen-fal-emulator",
            }
        }
        blobs = []
        offset = 0
        for layer in LORA_LAYERS:
            for part, shape in (
                ("lora_A", [LORA_RANK, LORA_WIDTH]),
                ("lora_B", [LORA_WIDTH, LORA_RANK]),
            ):
                count = shape[0] * shape[1]
                blob = struct.pack(f"<{count}f", *(rng.uniform(-0.01, 0.01) for _ in range(count)))
                name = f"transformer.single_transformer_blocks.0.attn.{layer}.{part}.weight"
                header[name] = {
                    "dtype": "F32",
                    "shape": shape,
                    "data_offsets": [offset, offset + len(blob)],
                }
                blobs.append(blob)
                offset += len(blob)
        header_bytes = json.dumps(header, separators=(",", ":")).encode()
        # The format allows space padding; 8-byte alignment keeps tensor data aligned.
        header_bytes += b" " * (-len(header_bytes) % 8)
        return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(blobs)


class LoraTrainingApp:
    endpoint_id = "fal-ai/flux-lora-fast-training"

    async def prepare(self, payload: object, fetcher: FileFetcher) -> TrainingJob:
        fields = Fields(payload)
        images_data_url = fields.string("images_data_url")
        trigger_word = fields.string("trigger_word", None)
        steps = fields.integer("steps", 1000, ge=1, le=10000)
        is_style = fields.boolean("is_style", False)
        create_masks = fields.boolean("create_masks", True)
        fields.boolean("is_input_format_already_preprocessed", False)
        fields.string("data_archive_format", None)
        fields.raise_if_invalid()
        try:
            archive = await fetcher.fetch(images_data_url)
        except FetchError as exc:
            raise InputError.single("images_data_url", str(exc)) from exc
        return TrainingJob(
            images_data_url=images_data_url,
            trigger_word=trigger_word,
            steps=steps,
            is_style=is_style,
            create_masks=create_masks,
            dataset=inspect_archive(archive),
        )


def inspect_archive(archive: bytes) -> Dataset:
    """Count decodable images and captions in a zip; raise InputError if there are no images."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            names = [n for n in zipped.namelist() if not n.startswith("__MACOSX/")]
            images = [n for n in names if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES]
            valid = [n for n in images if _is_image(zipped.read(n))]
            stems = {str(PurePosixPath(n).with_suffix("")) for n in valid}
            captions = [
                n for n in names if n.endswith(".txt") and str(PurePosixPath(n).with_suffix("")) in stems
            ]
    except zipfile.BadZipFile as exc:
        raise InputError.single("images_data_url", "images_data_url is not a zip archive") from exc
    if not valid:
        raise InputError.single("images_data_url", "the zip archive contains no readable images")
    return Dataset(hashlib.sha256(archive).hexdigest(), len(valid), len(captions))


def _is_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception:  # Pillow raises many types for corrupt data; any means "not an image".
        return False
    return True

"""`fal-ai/flux-lora`: renders deterministic placeholder images instead of running FLUX.

The picture depends only on (prompt, seed, image index, LoRAs, size), so the same
request always yields byte-identical files, and a glance shows which prompt made it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import random
import textwrap
import uuid
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from imagegen_fal_emulator.apps.base import Fields, JsonObject, OutputSink, check_int
from imagegen_fal_emulator.storage import FileFetcher

IMAGE_SIZE_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# Real fal allows up to 14142 px; rendering that here would only slow tests down.
MAX_SIDE = 4096
MAX_SEED = 2**31 - 1
NSFW_MARKER = "[[nsfw]]"
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class LoraWeight:
    path: str
    scale: float


@dataclass(frozen=True)
class FluxLoraJob:
    prompt: str
    width: int
    height: int
    seed: int
    num_images: int
    num_inference_steps: int
    output_format: str
    loras: tuple[LoraWeight, ...]
    sync_mode: bool
    safety_checker: bool

    @property
    def marker_text(self) -> str:
        return self.prompt

    def progress_messages(self) -> list[str]:
        messages = [f"Loading {len(self.loras)} LoRA weight file(s)"] if self.loras else []
        quarter = max(1, self.num_inference_steps // 4)
        steps = sorted({*range(quarter, self.num_inference_steps, quarter)})
        messages += [f"Step {s}/{self.num_inference_steps}" for s in steps]
        messages.append(f"Step {self.num_inference_steps}/{self.num_inference_steps}")
        return messages

    async def produce(self, sink: OutputSink) -> JsonObject:
        content_type = CONTENT_TYPES[self.output_format]
        # `[[nsfw]]` makes the safety checker flag the first image and blank it, as fal does.
        flagged = [
            self.safety_checker and index == 0 and NSFW_MARKER in self.prompt
            for index in range(self.num_images)
        ]
        images = []
        for index in range(self.num_images):
            render = render_blank if flagged[index] else render_image
            data = await asyncio.to_thread(
                render,
                self.prompt,
                self.seed,
                index,
                [(lora.path, lora.scale) for lora in self.loras],
                self.width,
                self.height,
                self.output_format,
            )
            if self.sync_mode:
                url = f"data:{content_type};base64,{base64.b64encode(data).decode()}"
            else:
                url, _ = sink.store(f"{uuid.uuid4().hex}.{self.output_format}", data, content_type)
            images.append(
                {
                    "url": url,
                    "width": self.width,
                    "height": self.height,
                    "content_type": content_type,
                }
            )
        return {
            "images": images,
            "seed": self.seed,
            "has_nsfw_concepts": flagged,
            "prompt": self.prompt,
            "timings": {"inference": 0.0},
        }


class FluxLoraApp:
    endpoint_id = "fal-ai/flux-lora"

    async def prepare(self, payload: object, fetcher: FileFetcher) -> FluxLoraJob:
        fields = Fields(payload)
        prompt = fields.string("prompt")
        width, height = _image_size(fields)
        seed = fields.integer("seed", None, ge=0)
        num_images = fields.integer("num_images", 1, ge=1, le=4)
        steps = fields.integer("num_inference_steps", 28, ge=1, le=50)
        fields.number("guidance_scale", 3.5, ge=0.0, le=35.0)
        safety_checker = fields.boolean("enable_safety_checker", True)
        output_format = fields.choice("output_format", "jpeg", list(CONTENT_TYPES))
        fields.choice("acceleration", "none", ["none", "regular"])
        sync_mode = fields.boolean("sync_mode", False)
        loras = _loras(fields)
        fields.raise_if_invalid()
        return FluxLoraJob(
            prompt=prompt,
            width=width,
            height=height,
            # fal picks a random seed when none is given and reports it in the output.
            seed=seed if seed is not None else random.randint(0, MAX_SEED),
            num_images=num_images,
            num_inference_steps=steps,
            output_format=output_format,
            loras=loras,
            sync_mode=sync_mode,
            safety_checker=safety_checker,
        )


def _image_size(fields: Fields) -> tuple[int, int]:
    value = fields.payload.get("image_size")
    if value is None:
        return IMAGE_SIZE_PRESETS["landscape_4_3"]
    if isinstance(value, str):
        fields.choice("image_size", "landscape_4_3", list(IMAGE_SIZE_PRESETS))
        return IMAGE_SIZE_PRESETS.get(value, IMAGE_SIZE_PRESETS["landscape_4_3"])
    if isinstance(value, dict):
        width = check_int(fields, ["image_size", "width"], value.get("width", 512), 1, MAX_SIDE, 0)
        height = check_int(fields, ["image_size", "height"], value.get("height", 512), 1, MAX_SIDE, 0)
        return width, height
    fields.error(["image_size"], "value is not a valid enum or dict", "type_error")
    return IMAGE_SIZE_PRESETS["landscape_4_3"]


def _loras(fields: Fields) -> tuple[LoraWeight, ...]:
    value = fields.payload.get("loras") or []
    if not isinstance(value, list):
        fields.error(["loras"], "value is not a valid list", "type_error.list")
        return ()
    loras = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            fields.error(["loras", index], "value is not a valid dict", "type_error.dict")
            continue
        path = item.get("path")
        if not isinstance(path, str) or not path:
            fields.error(["loras", index, "path"], "field required", "value_error.missing")
            continue
        scale = item.get("scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            fields.error(["loras", index, "scale"], "value is not a valid float", "type_error.float")
            continue
        # Weights are only recorded: they change the picture through the hash, not a model.
        loras.append(LoraWeight(path, float(scale)))
    return tuple(loras)


def render_blank(
    prompt: str,
    seed: int,
    index: int,
    loras: list[tuple[str, float]],
    width: int,
    height: int,
    output_format: str,
) -> bytes:
    """What the safety checker returns instead of a flagged image: a black one of the same size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG" if output_format == "png" else "JPEG")
    return buffer.getvalue()


# The picture is a palette image: one byte per pixel to draw, filter and compress instead of three,
# which makes it several times cheaper to encode and its PNG smaller. Palette slots:
GRADIENT_STEPS = 240
BLACK = GRADIENT_STEPS
WHITE = GRADIENT_STEPS + 1
BANNER = GRADIENT_STEPS + 2
FIRST_SHAPE = GRADIENT_STEPS + 3
SHAPE_COUNT = 6
# Pillow's built-in bitmap font draws a caption for a fraction of what a FreeType font costs; it is
# drawn small and scaled up, and knows only Latin-1.
CAPTION_FONT = ImageFont.load_default_imagefont()
GLYPH_WIDTH, GLYPH_HEIGHT = 6, 11
LINE_GAP = 3
CAPTION_MARGIN = 4


def render_image(
    prompt: str,
    seed: int,
    index: int,
    loras: list[tuple[str, float]],
    width: int,
    height: int,
    output_format: str,
) -> bytes:
    """A gradient with shapes chosen by a hash of the inputs, with the prompt written on it."""
    fingerprint = json.dumps([prompt, seed, index, loras, width, height], sort_keys=True)
    rng = random.Random(hashlib.sha256(fingerprint.encode()).digest())

    def colour() -> list[int]:
        return [rng.randrange(256), rng.randrange(256), rng.randrange(256)]

    first, last = colour(), colour()
    palette = [
        channel + (end - channel) * step // (GRADIENT_STEPS - 1)
        for step in range(GRADIENT_STEPS)
        for channel, end in zip(first, last, strict=True)
    ]
    palette += [0, 0, 0, 255, 255, 255, 24, 24, 24]
    # A one-pixel strip of gradient indices, stretched over the picture.
    vertical = rng.random() < 0.5
    length = height if vertical else width
    steps = bytes(i * GRADIENT_STEPS // length for i in range(length))
    strip = Image.frombytes("P", (1, length) if vertical else (length, 1), steps)
    image = strip.resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for shape_index in range(SHAPE_COUNT):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randint(1, max(1, width // 2))
        y1 = y0 + rng.randint(1, max(1, height // 2))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        palette += colour()
        shape((x0, y0, x1, y1), fill=FIRST_SHAPE + shape_index, outline=BLACK, width=max(1, width // 256))
    image.putpalette(palette)
    _write_caption(image, prompt, seed, index, len(loras))
    buffer = io.BytesIO()
    if output_format == "png":
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _write_caption(image: Image.Image, prompt: str, seed: int, index: int, lora_count: int) -> None:
    """The prompt and the picture's inputs, white on a dark banner across the top."""
    width, height = image.size
    scale = max(1, min(width, height) // 256)
    banner_width = -(-width // scale)
    chars_per_line = max(8, (banner_width - 2 * CAPTION_MARGIN) // GLYPH_WIDTH)
    line_height = GLYPH_HEIGHT + LINE_GAP
    latin1 = prompt.encode("latin-1", "replace").decode("latin-1")
    lines = textwrap.wrap(latin1, chars_per_line)[: max(1, height // scale // (4 * line_height))]
    lines.append(f"seed {seed} · image {index + 1} · {lora_count} LoRA(s)")
    banner_height = 2 * CAPTION_MARGIN + len(lines) * line_height - LINE_GAP
    banner = Image.new("P", (banner_width, banner_height), BANNER)
    draw = ImageDraw.Draw(banner)
    for number, line in enumerate(lines):
        top = CAPTION_MARGIN + number * line_height
        draw.text((CAPTION_MARGIN, top), line, font=CAPTION_FONT, fill=WHITE)
    if scale > 1:
        banner = banner.resize((banner_width * scale, banner_height * scale), Image.Resampling.NEAREST)
    image.paste(banner, (0, 0))

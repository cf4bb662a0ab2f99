"""Jobs: validation of requests, the state machine, and translation to and from the provider."""

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from imagegen_platform.errors import InvalidArgument

MAX_PROMPT_LENGTH = 2000
MAX_IMAGES = 4
RESOLUTION_PATTERN = re.compile(r"^(\d{2,4})x(\d{2,4})$")
# Inference steps per quality tier: hd spends more steps for finer detail.
INFERENCE_STEPS = {"standard": 28, "hd": 40}


class JobType(Enum):
    IMAGE_GENERATION = "image_generation"


class JobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class ImageGenerationRequest:
    reference_model_id: int
    prompt: str
    resolution: str
    quality: str
    num_images: int
    seed: int | None

    def validate(self, *, require_prompt: bool = True) -> None:
        """Every problem at once; an estimate may leave the prompt out, since it does not change the price."""
        problems: dict[str, str] = {}
        if self.reference_model_id <= 0:
            problems["referenceModelId"] = "a positive catalog id"
        if not self.prompt.strip():
            if require_prompt:
                problems["prompt"] = "must not be empty"
        elif len(self.prompt) > MAX_PROMPT_LENGTH:
            problems["prompt"] = f"at most {MAX_PROMPT_LENGTH} characters"
        elif "\x00" in self.prompt:
            problems["prompt"] = "must not contain NUL characters"
        if not RESOLUTION_PATTERN.match(self.resolution):
            problems["resolution"] = "WIDTHxHEIGHT, e.g. 1024x1024"
        if self.quality not in INFERENCE_STEPS:
            problems["quality"] = "one of " + ", ".join(INFERENCE_STEPS)
        if not 1 <= self.num_images <= MAX_IMAGES:
            problems["numImages"] = f"between 1 and {MAX_IMAGES}"
        if self.seed is not None and not 0 <= self.seed < 2**32:
            problems["seed"] = "between 0 and 4294967295"
        if problems:
            raise InvalidArgument("invalid_request", "the request has invalid fields", problems)

    def provider_input(self, default_parameters: dict[str, Any]) -> dict[str, Any]:
        """The fal flux-lora input: the model's defaults, overridden by what the team asked for."""
        width, height = (int(side) for side in self.resolution.split("x"))
        arguments = {
            **default_parameters,
            "prompt": self.prompt,
            "image_size": {"width": width, "height": height},
            "num_images": self.num_images,
            "num_inference_steps": INFERENCE_STEPS[self.quality],
            "output_format": "png",
            "enable_safety_checker": True,
        }
        if self.seed is not None:
            arguments["seed"] = self.seed
        return arguments


@dataclass(frozen=True)
class ProviderImage:
    url: str
    # The provider's safety checker flagged (and blanked) this image.
    nsfw: bool = False


def provider_images(payload: Any) -> list[ProviderImage]:
    """The image URLs of a flux-lora output; a malformed output is a provider error."""
    images = payload.get("images") if isinstance(payload, dict) else None
    if not isinstance(images, list) or not images:
        raise ValueError("the provider's output has no images")
    urls = [image.get("url") for image in images if isinstance(image, dict)]
    if len(urls) != len(images) or not all(isinstance(url, str) and url for url in urls):
        raise ValueError("the provider's output has an image without a URL")
    flags = payload.get("has_nsfw_concepts")
    flags = flags if isinstance(flags, list) and len(flags) == len(urls) else [False] * len(urls)
    return [ProviderImage(url, flag is True) for url, flag in zip(urls, flags, strict=True)]


def charge_for(estimate_hundredths: int, images: list[ProviderImage]) -> int:
    """The quote, less the share of images the safety checker blanked (rounded in the team's favour)."""
    safe = sum(not image.nsfw for image in images)
    return estimate_hundredths * safe // len(images)


def provider_error_message(error: str, payload: Any) -> str:
    """A readable reason from a provider's error report (its message plus the body's detail)."""
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, list):
        detail = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    parts = [part for part in (error, detail) if part]
    return ": ".join(str(part) for part in parts) or "the provider reported an error"

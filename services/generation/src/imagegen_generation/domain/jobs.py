"""Jobs: validation of requests, the state machine, and translation to and from the provider."""

import copy
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
    MODEL_CREATION = "model_creation"
    MODEL_REFINEMENT = "model_refinement"

    @property
    def is_training(self) -> bool:
        return self is not JobType.IMAGE_GENERATION


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
    # A team's custom model to generate with (its reference model is then the one it was trained
    # from) and its pinned version; 0: none, and the current version.
    custom_model_id: int = 0
    model_version: int = 0

    def validate(self, *, require_prompt: bool = True) -> None:
        """Every problem at once; an estimate may leave the prompt out, since it does not change the price."""
        problems: dict[str, str] = {}
        if self.custom_model_id < 0:
            problems["customModelId"] = "a positive custom model id"
        elif self.custom_model_id and self.reference_model_id:
            problems["customModelId"] = "give either referenceModelId or customModelId, not both"
        elif self.custom_model_id == 0 and self.reference_model_id <= 0:
            problems["referenceModelId"] = "a positive catalog id (or give customModelId)"
        if self.model_version < 0 or (self.model_version and not self.custom_model_id):
            problems["modelVersion"] = "a version of the customModelId given"
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

    def provider_input(
        self, default_parameters: dict[str, Any], lora: "LoraWeights | None" = None
    ) -> dict[str, Any]:
        """The fal flux-lora input: the model's defaults, overridden by what the team asked for.

        With a custom model's LoRA, its trigger word leads the prompt unless the prompt has it, and
        the weights' URL is left empty: it is signed when the job is submitted (see LORA_PATH)."""
        width, height = (int(side) for side in self.resolution.split("x"))
        prompt = self.prompt
        if lora is not None and lora.trigger_word and lora.trigger_word.lower() not in prompt.lower():
            prompt = f"{lora.trigger_word} {prompt}"
        arguments = {
            **default_parameters,
            "prompt": prompt,
            "image_size": {"width": width, "height": height},
            "num_images": self.num_images,
            "num_inference_steps": INFERENCE_STEPS[self.quality],
            "output_format": "png",
            "enable_safety_checker": True,
        }
        if self.seed is not None:
            arguments["seed"] = self.seed
        if lora is not None:
            arguments["loras"] = [{"path": "", "scale": 1.0}]
        return arguments


@dataclass(frozen=True)
class KeySpend:
    """The API key creating a job, and its monthly spend cap in hundredths (None: uncapped)."""

    api_key_id: str
    monthly_cap_hundredths: int | None = None


# Where a custom model's weights go in a flux-lora input.
LORA_PATH = "loras.0.path"


@dataclass(frozen=True)
class LoraWeights:
    """A ready custom model version, as generating with it needs it."""

    weights_file_id: str
    trigger_word: str


MAX_TRAINING_STEPS = 10_000


@dataclass(frozen=True)
class ModelTrainingRequest:
    """The training of one custom model version: version 1 creates the model, later ones refine it."""

    custom_model_id: int
    model_version: int
    reference_model_id: int
    trigger_word: str
    training_steps: int
    num_training_images: int
    training_zip_file_id: str
    starting_weights_file_id: str
    iteration: int
    files_owner_id: str

    @property
    def job_type(self) -> JobType:
        return JobType.MODEL_CREATION if self.model_version == 1 else JobType.MODEL_REFINEMENT

    def validate(self) -> None:
        problems: dict[str, str] = {}
        if self.custom_model_id <= 0:
            problems["customModelId"] = "a positive id"
        if self.model_version <= 0:
            problems["modelVersion"] = "from 1"
        elif self.iteration != self.model_version - 1:
            problems["iteration"] = "the refinement's number: the model version less one"
        if self.reference_model_id <= 0:
            problems["referenceModelId"] = "a positive catalog id"
        if not 1 <= self.training_steps <= MAX_TRAINING_STEPS:
            problems["trainingSteps"] = f"between 1 and {MAX_TRAINING_STEPS}"
        if self.num_training_images <= 0:
            problems["numTrainingImages"] = "at least 1"
        if not self.training_zip_file_id:
            problems["trainingZipFileId"] = "required"
        if not self.files_owner_id:
            problems["filesOwnerId"] = "required"
        if problems:
            raise InvalidArgument("invalid_request", "the training request has invalid fields", problems)

    def provider_input(self, starting_weights_parameter: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The trainer's input, and the stored files to sign into it at submit time (by path)."""
        arguments: dict[str, Any] = {
            "images_data_url": "",
            "trigger_word": self.trigger_word,
            "steps": self.training_steps,
            "create_masks": True,
        }
        files = {"images_data_url": self.training_zip_file_id}
        if starting_weights_parameter and self.starting_weights_file_id:
            arguments[starting_weights_parameter] = ""
            files[starting_weights_parameter] = self.starting_weights_file_id
        return arguments, files


def with_signed_files(provider_input: dict[str, Any], urls_by_path: dict[str, str]) -> dict[str, Any]:
    """A copy of the provider input with each dotted path (e.g. "loras.0.path") set to its URL."""
    arguments = copy.deepcopy(provider_input)
    for path, url in urls_by_path.items():
        *parents, last = path.split(".")
        node: Any = arguments
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = url
        else:
            node[last] = url
    return arguments


@dataclass(frozen=True)
class TrainedFiles:
    weights_url: str
    config_url: str | None


def provider_training_files(payload: Any) -> TrainedFiles:
    """The weights (and config) URLs of a LoRA trainer's output; no weights is a provider error."""
    weights = payload.get("diffusers_lora_file") if isinstance(payload, dict) else None
    url = weights.get("url") if isinstance(weights, dict) else None
    if not isinstance(url, str) or not url:
        raise ValueError("the trainer's output has no LoRA weights file")
    config = payload.get("config_file")
    config_url = config.get("url") if isinstance(config, dict) else None
    return TrainedFiles(url, config_url if isinstance(config_url, str) and config_url else None)


_STEP = re.compile(r"(\d+)\s*/\s*(\d+)")


def progress_from_logs(messages: list[str]) -> float | None:
    """How far a running request is, from the last "step N/M" its logs report; never 1 before it ends."""
    for message in reversed(messages):
        match = _STEP.search(message)
        if match and int(match.group(2)) > 0:
            return min(0.99, int(match.group(1)) / int(match.group(2)))
    return None


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

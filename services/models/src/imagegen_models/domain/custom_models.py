"""Custom models: a team's LoRA fine-tunes of a reference model, one version per training.

Version 1 creates the model; each refinement trains version n+1 from the current version, which
must be ready. A model's status follows from its versions, and only a ready version generates.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from imagegen_platform.errors import DomainError, ErrorKind, FailedPrecondition, InvalidArgument, NotFound

MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 1000
# Trigger words are often phrases ("ohwx person"): any printable text, without edge spaces.
MAX_TRIGGER_WORD_LENGTH = 50
MIN_TRAINING_STEPS = 100
MAX_TRAINING_STEPS = 10_000
# The trainer's own default (fal-ai/flux-lora-fast-training), for a create that names no step count.
DEFAULT_TRAINING_STEPS = 1000


class Aborted(DomainError):
    """A concurrent request is still doing this work; the caller retries the whole operation."""

    kind = ErrorKind.ABORTED


class VersionStatus(Enum):
    PENDING = "pending"
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def in_flight(self) -> bool:
        return self in (VersionStatus.PENDING, VersionStatus.TRAINING)


class ModelStatus(Enum):
    PENDING = "pending"
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


def model_status(current_version: int, first_version_status: VersionStatus) -> ModelStatus:
    """Ready once a version is current. Before that the first version's training decides: a model is
    refined only from a ready version, so until one is ready the first version is the only one."""
    if current_version > 0:
        return ModelStatus.READY
    if first_version_status is VersionStatus.PENDING:
        return ModelStatus.PENDING
    if first_version_status is VersionStatus.TRAINING:
        return ModelStatus.TRAINING
    return ModelStatus.FAILED


def status_filter(wanted: Collection[ModelStatus]) -> list[tuple[bool, VersionStatus]]:
    """Every (has a current version, first version's status) pair of a model whose status is wanted:
    a listing filters on these in SQL, so `model_status` stays the one rule."""
    return [
        (has_current, first)
        for has_current in (False, True)
        for first in VersionStatus
        if model_status(int(has_current), first) in wanted
    ]


def files_owner_id(custom_model_id: int) -> str:
    """The storage owner of every file of a model (training sets, weights, configs)."""
    return f"model-{custom_model_id}"


def check_fields(
    *,
    name: str | None = None,
    description: str | None = None,
    trigger_word: str | None = None,
    training_steps: int | None = None,
    num_training_images: int | None = None,
    current_version: int | None = None,
) -> None:
    """One InvalidArgument naming every bad field among those given (None: not in the request)."""
    problems: dict[str, str] = {}
    if name is not None and not (name.strip() and len(name) <= MAX_NAME_LENGTH):
        problems["name"] = f"between 1 and {MAX_NAME_LENGTH} characters"
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        problems["description"] = f"at most {MAX_DESCRIPTION_LENGTH} characters"
    if trigger_word is not None and not (
        0 < len(trigger_word) <= MAX_TRIGGER_WORD_LENGTH
        and trigger_word.isprintable()
        and trigger_word == trigger_word.strip()
    ):
        problems["triggerWord"] = f"1 to {MAX_TRIGGER_WORD_LENGTH} printable characters, no edge spaces"
    if training_steps is not None and not MIN_TRAINING_STEPS <= training_steps <= MAX_TRAINING_STEPS:
        problems["trainingSteps"] = f"between {MIN_TRAINING_STEPS} and {MAX_TRAINING_STEPS}"
    if num_training_images is not None and num_training_images < 1:
        problems["trainingImages"] = "at least 1 image"
    if current_version is not None and current_version < 1:
        problems["currentVersion"] = "a version number, from 1"
    if problems:
        raise InvalidArgument("invalid_request", "the request has invalid fields", problems)


@dataclass(frozen=True)
class TrainingSetRules:
    """What storage checks every training set against: the trainer needs a few sharp images, and
    beyond fifty more images add cost, not likeness."""

    min_images: int = 3
    max_images: int = 50
    min_short_side_pixels: int = 512


TRAINING_SET_RULES = TrainingSetRules()


@dataclass(frozen=True)
class TrainingSetProblem:
    # The image's position among the set's sources; -1 when the problem is the whole set's.
    index: int
    code: str
    message: str


@dataclass(frozen=True)
class TrainingSet:
    """A prepared training set: its stored images and their zip, or every problem (then nothing is stored)."""

    problems: list[TrainingSetProblem]
    image_file_ids: list[str]
    zip_file_id: str


def training_set_error(problems: list[TrainingSetProblem], first_request_index: int = 0) -> InvalidArgument:
    """The rejection of a training set, listing every problem by the request's field: an image as
    trainingImages[<its position in the request>], the whole set (or a parent version's image, which
    precedes the request's own from `first_request_index` on) as trainingImages."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        position = problem.index - first_request_index
        field = f"trainingImages[{position}]" if problem.index >= 0 and position >= 0 else "trainingImages"
        found.setdefault(field, []).append(f"{problem.code}: {problem.message}")
    return InvalidArgument(
        "invalid_training_set",
        "the training images cannot be used; nothing was charged",
        {field: "; ".join(messages) for field, messages in found.items()},
    )


@dataclass(frozen=True)
class TrainingPlan:
    """One version's training: what storage prepares and generation trains (and charges for)."""

    custom_model_id: int
    version: int
    # The version refined; 0 for the first version.
    parent_version: int
    training_steps: int
    # The parent's training images, trained on again ahead of the request's new ones.
    parent_image_file_ids: tuple[str, ...] = ()
    # The parent's weights to continue from, when the trainer accepts them; "" otherwise.
    starting_weights_file_id: str = ""

    @property
    def iteration(self) -> int:
        """The refinement's number (version 2 is the first), which prices it; 0 for a creation."""
        return self.version - 1

    @property
    def files_owner_id(self) -> str:
        return files_owner_id(self.custom_model_id)

    @property
    def idempotency_key(self) -> str:
        """Keys the version's training set and job, so a retried call prepares and charges once."""
        return f"{self.files_owner_id}/v{self.version}"


@dataclass(frozen=True)
class NewCustomModel:
    reference_model_id: int
    name: str
    description: str
    trigger_word: str
    training_steps: int

    def check(self, num_training_images: int) -> None:
        check_fields(
            name=self.name,
            description=self.description,
            trigger_word=self.trigger_word,
            training_steps=self.training_steps,
            num_training_images=num_training_images,
        )

    def first_training(self, custom_model_id: int) -> TrainingPlan:
        return TrainingPlan(custom_model_id, version=1, parent_version=0, training_steps=self.training_steps)


_STATE_PHRASES = {
    VersionStatus.PENDING: "is still waiting to train",
    VersionStatus.TRAINING: "is still training",
    VersionStatus.READY: "is ready",
    VersionStatus.FAILED: "failed",
    VersionStatus.CANCELLED: "was cancelled",
}


@dataclass(frozen=True)
class ModelVersion:
    version: int
    status: VersionStatus
    parent_version: int
    job_id: str
    training_steps: int
    training_image_file_ids: tuple[str, ...]
    training_zip_file_id: str
    weights_file_id: str
    config_file_id: str
    starting_weights_file_id: str
    estimated_credits_hundredths: int
    charged_credits_hundredths: int
    failure_reason: str
    created_at: datetime
    finished_at: datetime | None

    def unready_reason(self) -> str:
        """Why this version cannot generate (said of a version that is not ready)."""
        reason = f"version {self.version} {_STATE_PHRASES[self.status]}"
        if self.status is VersionStatus.FAILED:
            reason += f": {self.failure_reason or 'no reason was given'}"
        return reason

    def not_ready(self, message: str) -> FailedPrecondition:
        return FailedPrecondition(
            "model_not_ready", message, {"version": self.version, "status": self.status.value}
        )


@dataclass(frozen=True)
class CustomModel:
    id: int
    team_id: str
    reference_model_id: int
    name: str
    description: str
    trigger_word: str
    # The version generation uses by default; 0 until one is ready.
    current_version: int
    # Oldest first; never empty.
    versions: tuple[ModelVersion, ...]
    # Its reference model's, which prices its trainings and generations.
    complexity_hundredths: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def status(self) -> ModelStatus:
        return model_status(self.current_version, self.versions[0].status)

    def version(self, number: int) -> ModelVersion | None:
        return next((version for version in self.versions if version.version == number), None)

    def _existing_version(self, number: int) -> ModelVersion:
        found = self.version(number)
        if found is None:
            raise NotFound("model_version_not_found", f"custom model {self.id} has no version {number}")
        return found

    def resolve(self, number: int) -> ModelVersion:
        """The ready version to generate with (0: the current one); otherwise why there is none."""
        if number == 0 and self.current_version == 0:
            latest = self.versions[-1]
            raise latest.not_ready(
                f"custom model {self.id} has no ready version yet: {latest.unready_reason()}"
            )
        found = self._existing_version(number or self.current_version)
        if found.status is not VersionStatus.READY:
            raise found.not_ready(found.unready_reason())
        return found

    def check_current_version(self, number: int) -> None:
        """Only a ready version can become the one generation uses by default."""
        found = self._existing_version(number)
        if found.status is not VersionStatus.READY:
            raise FailedPrecondition(
                "model_version_not_ready",
                f"{found.unready_reason()}; only a ready version can be the current one",
                {"version": number, "status": found.status.value},
            )

    def plan_refinement(
        self, *, num_new_images: int, training_steps: int, trainer_takes_weights: bool
    ) -> TrainingPlan:
        """Version n+1 from the current version: its images plus the new ones, its steps unless
        others are asked for (0), and its weights to start from when the trainer takes them."""
        # The current version is always a ready one (see check_current_version).
        parent = self.version(self.current_version)
        if parent is None:
            latest = self.versions[-1]
            raise latest.not_ready(
                f"custom model {self.id} has no ready version to refine yet: {latest.unready_reason()}"
            )
        in_flight = next((version for version in self.versions if version.status.in_flight), None)
        if in_flight is not None:
            raise FailedPrecondition(
                "refinement_in_progress",
                f"{in_flight.unready_reason()}; refine again once it has finished",
                {"version": in_flight.version, "status": in_flight.status.value},
            )
        steps = training_steps or parent.training_steps
        if num_new_images == 0 and steps == parent.training_steps:
            raise InvalidArgument(
                "invalid_request",
                "the refinement would train the same version again",
                {
                    "trainingImages": "at least 1 new image, or trainingSteps other than "
                    f"version {parent.version}'s {parent.training_steps}"
                },
            )
        return TrainingPlan(
            custom_model_id=self.id,
            version=self.versions[-1].version + 1,
            parent_version=parent.version,
            training_steps=steps,
            parent_image_file_ids=parent.training_image_file_ids,
            starting_weights_file_id=parent.weights_file_id if trainer_takes_weights else "",
        )


@dataclass(frozen=True)
class TrainingStarted:
    """A worker handed a version's training job to the provider."""

    job_id: str
    team_id: str
    custom_model_id: int
    version: int


@dataclass(frozen=True)
class TrainingFinished:
    """A version's training job reached a terminal state: READY, FAILED or CANCELLED."""

    job_id: str
    team_id: str
    custom_model_id: int
    version: int
    status: VersionStatus
    weights_file_id: str = ""
    config_file_id: str = ""
    charged_credits_hundredths: int = 0
    failure_reason: str = ""

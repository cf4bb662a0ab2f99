"""Public JSON shapes (camelCase, credits as decimals), separate from the proto messages."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from imagegen_gateway import passwords

# Ids travel as int64 between services.
MAX_ID = 2**63 - 1
MAX_INT32 = 2**31 - 1
# Credits amounts travel as int64 hundredths.
MAX_CREDITS = Decimal(2**63 - 1) / 100


class PublicModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ImageGenerationCreate(PublicModel):
    """Generate from a catalog model (`referenceModelId`) or from one of the team's custom models
    (`customModelId`, its current ready version unless `modelVersion` pins one)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    reference_model_id: int | None = Field(default=None, gt=0, le=MAX_ID, examples=[1])
    custom_model_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    model_version: int | None = Field(default=None, gt=0, le=MAX_INT32)
    prompt: str = Field(min_length=1, max_length=2000, examples=["woman in red dress standing in park"])
    resolution: str = Field(default="1024x1024", examples=["1024x1024"])
    quality: Literal["standard", "hd"] = "standard"
    num_images: int = Field(default=1, ge=1, le=4)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    # Orders the team's own queued jobs: higher starts first.
    priority: int = Field(default=0, ge=-10, le=10)


class JobError(PublicModel):
    code: str
    message: str


ImageStatus = Literal["available", "expired", "deleted"]


class ResultImage(PublicModel):
    id: str
    # available: `url` reads it until `expiresAt`; expired (retention) or deleted: no URL.
    status: ImageStatus
    url: str | None
    expires_at: datetime | None
    # When retention removes the file (for an expired one: when it expired); null: kept with its job.
    available_until: datetime | None
    width: int
    height: int
    content_type: str
    # The provider's safety checker blanked this image; it was not charged.
    nsfw: bool = False


class ImagePublic(ResultImage):
    job_id: str
    size_bytes: int
    created_at: datetime


class JobResult(PublicModel):
    images: list[ResultImage]


class TrainingResult(PublicModel):
    """A completed training: the model version it made ready."""

    custom_model_id: int
    model_version: int


class JobInput(PublicModel):
    reference_model_id: int
    prompt: str
    resolution: str
    quality: str
    num_images: int
    seed: int | None
    # Set when generating with a custom model: the model and the version the job resolved.
    custom_model_id: int | None = None
    model_version: int | None = None


class TrainingJobInput(PublicModel):
    custom_model_id: int
    model_version: int
    reference_model_id: int
    trigger_word: str
    training_steps: int
    num_training_images: int


JobType = Literal["image_generation", "model_creation", "model_refinement"]


class JobPublic(PublicModel):
    id: str
    type: JobType
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    input: JobInput | TrainingJobInput
    estimated_credits: float
    charged_credits: float
    refunded_credits: float
    progress: float
    priority: int
    queue_position: int | None
    # While queued: when the job should start, from its place, the team's free slots and recent
    # run times (null when there is no basis for an estimate, e.g. a plan that runs nothing).
    estimated_start_at: datetime | None
    error: JobError | None
    result: JobResult | TrainingResult | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class JobPage(PublicModel):
    items: list[JobPublic]
    next_cursor: str | None


class JobCreated(PublicModel):
    job: JobPublic


class BalancePublic(PublicModel):
    plan: str
    available_credits: float
    reserved_credits: float
    bonus_credits: float
    total_allocated: float
    period_start: datetime
    next_replenishment_at: datetime
    max_concurrent_jobs: int
    low_balance_threshold: float | None
    below_low_balance_threshold: bool
    subscription_status: str | None


class LowBalanceThresholdUpdate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    # Credits, at most two decimals; null clears the threshold.
    credits: Decimal | None = Field(ge=0, le=MAX_CREDITS, decimal_places=2, examples=[100.0])


class ImageGenerationEstimate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    operation: Literal["image_generation"]
    reference_model_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    custom_model_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    model_version: int | None = Field(default=None, gt=0, le=MAX_INT32)
    resolution: str = "1024x1024"
    quality: Literal["standard", "hd"] = "standard"
    num_images: int = Field(default=1, ge=1, le=4)


class ModelCreationEstimate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    operation: Literal["model_creation"]
    reference_model_id: int = Field(gt=0, le=MAX_ID)
    training_images: list[str] = Field(min_length=1, max_length=1000)


class ModelRefinementEstimate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    operation: Literal["model_refinement"]
    custom_model_id: int = Field(gt=0, le=MAX_ID)


class EstimatePublic(PublicModel):
    operation: str
    credits: float
    pricing_version: int
    breakdown: dict[str, str]


class LedgerEntryPublic(PublicModel):
    id: str
    type: str
    credits: float
    bonus_credits: float
    available_after: float
    reserved_after: float
    reference: str
    description: str | None
    created_at: datetime


class LedgerPage(PublicModel):
    items: list[LedgerEntryPublic]
    next_cursor: str | None


class ReferenceModelPublic(PublicModel):
    id: int
    name: str
    category: str
    description: str
    tags: list[str]
    complexity_multiplier: float
    provider_endpoint: str
    training_endpoint: str
    # A signed URL of the model's preview image, valid until previewExpiresAt; null until rendered.
    preview_url: str | None
    preview_expires_at: datetime | None


class ReferenceModelPage(PublicModel):
    items: list[ReferenceModelPublic]
    next_cursor: str | None


class WebhookAccepted(PublicModel):
    received: bool = True
    duplicate: bool = False


Scope = Literal["read", "generate", "train", "billing", "admin"]
# Who did something: an API key, or a signed-in user.
ActorType = Literal["apiKey", "user"]


class ApiKeyCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["ci pipeline"])
    scopes: list[Scope] = Field(min_length=1, max_length=5, examples=[["read", "generate"]])
    # Credits a month (two decimals at most): the key's new jobs stop (402) once its spend would pass it.
    monthly_spend_cap: Decimal | None = Field(
        default=None, ge=0, le=MAX_CREDITS, decimal_places=2, examples=[500.0]
    )


class ApiKeyPublic(PublicModel):
    """A key as listed: never its secret or its hash."""

    id: str
    prefix: str
    name: str
    scopes: list[Scope]
    monthly_spend_cap: float | None
    # The key or user that made it (null for the admin CLI's first key); createdByType says which.
    created_by: str | None
    created_by_type: ActorType | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    # The secret, shown only in this response.
    key: str


class ApiKeyPage(PublicModel):
    items: list[ApiKeyPublic]
    next_cursor: str | None


# A training image: an http(s) URL storage fetches, or the id of a file uploaded through POST /api/uploads.
TrainingImage = Annotated[str, Field(min_length=1, max_length=2048)]
# Sets are checked by the service, which names every problem (fewer than 3, more than 50, ...);
# this only bounds the body.
MAX_LISTED_TRAINING_IMAGES = 200


class CustomModelCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    reference_model_id: int = Field(gt=0, le=MAX_ID, examples=[1])
    name: str = Field(max_length=1000, examples=["My Custom Model"])
    description: str = Field(default="", max_length=5000, examples=["Fashion model for e-commerce"])
    training_images: list[TrainingImage] = Field(
        max_length=MAX_LISTED_TRAINING_IMAGES, examples=[["https://example.com/1.jpg", "upload-id"]]
    )
    trigger_word: str = Field(max_length=1000, examples=["my_model"])
    training_steps: int = Field(default=1000, ge=0, le=MAX_INT32, examples=[1000])


class CustomModelRefine(PublicModel):
    """New images to add to the current version's, and/or a different number of steps."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    training_images: list[TrainingImage] = Field(default_factory=list, max_length=MAX_LISTED_TRAINING_IMAGES)
    training_steps: int | None = Field(default=None, ge=0, le=MAX_INT32)


class CustomModelUpdate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=5000)
    current_version: int | None = Field(default=None, gt=0, le=MAX_INT32)


ModelStatus = Literal["pending", "training", "ready", "failed"]
ModelVersionStatus = Literal["pending", "training", "ready", "failed", "cancelled"]


class ModelVersionPublic(PublicModel):
    version: int
    status: ModelVersionStatus
    # The version this one refines; null for version 1.
    parent_version: int | None
    job_id: str
    # The training job's progress (0 to 1).
    progress: float
    training_steps: int
    training_image_ids: list[str]
    # Whether the trainer started from the parent's weights (only trainers that accept them do).
    started_from_parent_weights: bool
    weights_file_id: str | None
    config_file_id: str | None
    estimated_credits: float
    charged_credits: float
    failure_reason: str | None
    created_at: datetime
    finished_at: datetime | None


class CustomModelPublic(PublicModel):
    id: int
    reference_model_id: int
    name: str
    description: str
    trigger_word: str
    status: ModelStatus
    # The version generation uses unless a request pins one; null until one is ready.
    current_version: int | None
    versions: list[ModelVersionPublic]
    created_at: datetime
    updated_at: datetime


class CustomModelPage(PublicModel):
    items: list[CustomModelPublic]
    next_cursor: str | None


class CustomModelCreated(PublicModel):
    custom_model: CustomModelPublic
    job: JobPublic


class UploadCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    content_type: Literal["image/png", "image/jpeg", "image/webp"]
    size_bytes: int = Field(gt=0, le=MAX_ID, examples=[524288])
    filename: str | None = Field(default=None, max_length=255, examples=["look-01.jpg"])


class UploadPublic(PublicModel):
    """Send the bytes with one `PUT` to `uploadUrl`, with exactly these headers, before `expiresAt`;
    then name the upload's `id` in a model's `trainingImages`."""

    id: str
    upload_url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_at: datetime


WebhookEventType = Literal["job.completed", "job.failed", "job.cancelled", "model.ready", "credits.low"]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=2048, examples=["https://example.com/webhooks"])]


class WebhookEndpointCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    url: WebhookUrl
    events: list[WebhookEventType] = Field(min_length=1, max_length=20, examples=[["job.completed"]])
    description: str = Field(default="", max_length=500)


class WebhookEndpointUpdate(PublicModel):
    """Fields left out (or null) stay as they are; `enabled: false` pauses deliveries."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    url: WebhookUrl | None = None
    events: list[WebhookEventType] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class WebhookEndpointPublic(PublicModel):
    """An endpoint as listed: never its secret."""

    id: str
    url: str
    description: str
    events: list[WebhookEventType]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointPublic):
    # The signing secret (whsec_...), shown only when the endpoint is made and when it is rotated.
    secret: str


class WebhookEndpointPage(PublicModel):
    items: list[WebhookEndpointPublic]
    next_cursor: str | None


class WebhookAttemptPublic(PublicModel):
    attempted_at: datetime
    # The endpoint's answer; null when none came (then `error` says why).
    status_code: int | None
    error: str | None
    duration_ms: int
    # The start of the endpoint's answer (at most 1 KiB).
    response_body: str | None


class WebhookDeliveryPublic(PublicModel):
    # The `webhook-id` header: the same on every retry and redelivery.
    id: str
    # The event's id, the same for every endpoint that received it.
    event_id: str
    event_type: WebhookEventType
    status: Literal["pending", "succeeded", "failed"]
    # The body as sent and signed: {"type", "timestamp", "data"}.
    payload: dict[str, Any]
    created_at: datetime
    # While pending: when it is tried next.
    next_attempt_at: datetime | None
    # Oldest first.
    attempts: list[WebhookAttemptPublic]


class WebhookDeliveryPage(PublicModel):
    items: list[WebhookDeliveryPublic]
    next_cursor: str | None


# Accounts for people: sign-up and sessions, a team's members and invitations.


def _normalised_email(value: object) -> object:
    # One account per address however it is typed: " Ada@Example.COM" is ada@example.com.
    return value.strip().lower() if isinstance(value, str) else value


Email = Annotated[
    str,
    BeforeValidator(_normalised_email),
    Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["ada@example.com"]),
]
Role = Literal["owner", "member"]


class UserCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    email: Email
    # At least 12 characters; the route names what is wrong with a refused one.
    password: str = Field(examples=["correct horse battery staple"])
    team_name: str = Field(min_length=1, max_length=100, examples=["Acme"])


class SessionCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    email: Email
    password: str = Field(max_length=passwords.MAX_LENGTH)


class SessionTeamUpdate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    team_id: str = Field(min_length=1, max_length=100)


class UserPublic(PublicModel):
    id: str
    email: str
    created_at: datetime


class UserTeamPublic(PublicModel):
    """A team of the signed-in user, with their role in it."""

    id: str
    name: str
    role: Role


class UserCreated(PublicModel):
    user: UserPublic
    team: UserTeamPublic


class SessionPublic(PublicModel):
    user: UserPublic
    teams: list[UserTeamPublic]
    # The team the session acts for; null while the user is in no team.
    current_team: UserTeamPublic | None
    # Moves forward with use: a session ends 14 days after its last request, or at logout.
    expires_at: datetime


class MemberPublic(PublicModel):
    user_id: str
    email: str
    role: Role
    joined_at: datetime


class MemberPage(PublicModel):
    items: list[MemberPublic]
    next_cursor: str | None


class MemberUpdate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    # Omitted: nothing changes.
    role: Role | None = None


class InvitationCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    email: Email
    role: Role = "member"


class InvitationPublic(PublicModel):
    id: str
    email: str
    role: Role
    status: Literal["pending", "accepted", "revoked", "expired"]
    invited_by: str | None
    invited_by_type: ActorType | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationCreated(InvitationPublic):
    # The one-time secret to accept it with, shown only in this response (no mail is sent).
    token: str


class InvitationPage(PublicModel):
    items: list[InvitationPublic]
    next_cursor: str | None


class InvitationAccept(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    token: str = Field(min_length=1, max_length=200)


class AuditActor(PublicModel):
    # api_key, user, or system (e.g. Stripe changing the plan).
    type: str
    id: str | None


class AuditTarget(PublicModel):
    type: str | None
    id: str | None


class AuditEventPublic(PublicModel):
    id: str
    actor: AuditActor
    # e.g. api_key.created, api_key.revoked, custom_model.deleted, plan.changed
    action: str
    target: AuditTarget
    details: dict
    request_id: str | None
    created_at: datetime


class AuditEventPage(PublicModel):
    items: list[AuditEventPublic]
    next_cursor: str | None


class KeyUsagePublic(PublicModel):
    api_key_id: str
    # The UTC day, YYYY-MM-DD.
    day: str
    reference_model_id: int
    custom_model_id: int | None
    jobs: int
    charged_credits: float
    # Held by the day's jobs still queued or running.
    reserved_credits: float


class KeyUsagePage(PublicModel):
    items: list[KeyUsagePublic]

"""Public JSON shapes (camelCase, credits as decimals), separate from the proto messages."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Ids travel as int64 between services.
MAX_ID = 2**63 - 1
# Credits amounts travel as int64 hundredths.
MAX_CREDITS = Decimal(2**63 - 1) / 100


class PublicModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ImageGenerationCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    reference_model_id: int = Field(gt=0, le=MAX_ID, examples=[1])
    prompt: str = Field(min_length=1, max_length=2000, examples=["woman in red dress standing in park"])
    resolution: str = Field(default="1024x1024", examples=["1024x1024"])
    quality: Literal["standard", "hd"] = "standard"
    num_images: int = Field(default=1, ge=1, le=4)
    seed: int | None = Field(default=None, ge=0, lt=2**32)


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


class JobInput(PublicModel):
    reference_model_id: int
    prompt: str
    resolution: str
    quality: str
    num_images: int
    seed: int | None


class JobPublic(PublicModel):
    id: str
    type: Literal["image_generation"]
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    input: JobInput
    estimated_credits: float
    charged_credits: float
    refunded_credits: float
    progress: float
    queue_position: int | None
    error: JobError | None
    result: JobResult | None
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
    reference_model_id: int = Field(gt=0, le=MAX_ID)
    resolution: str = "1024x1024"
    quality: Literal["standard", "hd"] = "standard"
    num_images: int = Field(default=1, ge=1, le=4)


class ModelCreationEstimate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    operation: Literal["model_creation"]
    reference_model_id: int = Field(gt=0, le=MAX_ID)
    training_images: list[str] = Field(min_length=1, max_length=1000)


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


class ReferenceModelPage(PublicModel):
    items: list[ReferenceModelPublic]
    next_cursor: str | None


class WebhookAccepted(PublicModel):
    received: bool = True
    duplicate: bool = False


Scope = Literal["read", "generate", "train", "billing", "admin"]


class ApiKeyCreate(PublicModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["ci pipeline"])
    scopes: list[Scope] = Field(min_length=1, max_length=5, examples=[["read", "generate"]])
    # Credits a month, at most two decimals; stored only: enforcing it is not built yet.
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
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    # The secret, shown only in this response.
    key: str


class ApiKeyPage(PublicModel):
    items: list[ApiKeyPublic]
    next_cursor: str | None

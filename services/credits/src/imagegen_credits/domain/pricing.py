"""The seed's image generation formula, driven by a versioned pricing config.

cost = baseCost x resolutionMultiplier x qualityMultiplier x modelComplexity x margin x numImages,
computed in exact decimals and rounded half-up to a hundredth of a credit.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from imagegen_platform.errors import InvalidArgument

HUNDREDTH = Decimal("0.01")
MAX_IMAGES = 4


@dataclass(frozen=True)
class ImageGenerationPricing:
    version: int
    base_cost: Decimal
    resolution_multipliers: dict[str, Decimal]
    quality_multipliers: dict[str, Decimal]
    margin: Decimal

    @classmethod
    def from_config(cls, version: int, config: dict[str, Any]) -> "ImageGenerationPricing":
        return cls(
            version=version,
            base_cost=Decimal(config["baseCost"]),
            resolution_multipliers={k: Decimal(v) for k, v in config["resolutionMultipliers"].items()},
            quality_multipliers={k: Decimal(v) for k, v in config["qualityMultipliers"].items()},
            margin=Decimal(config["margin"]),
        )


@dataclass(frozen=True)
class PriceQuote:
    amount_hundredths: int
    pricing_version: int
    breakdown: dict[str, str]


def to_hundredths(amount: Decimal) -> int:
    return int((amount / HUNDREDTH).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def quote_image_generation(
    pricing: ImageGenerationPricing,
    *,
    resolution: str,
    quality: str,
    model_complexity_hundredths: int,
    num_images: int,
) -> PriceQuote:
    problems: dict[str, str] = {}
    resolution_multiplier = pricing.resolution_multipliers.get(resolution)
    if resolution_multiplier is None:
        problems["resolution"] = "one of " + ", ".join(sorted(pricing.resolution_multipliers))
    quality_multiplier = pricing.quality_multipliers.get(quality)
    if quality_multiplier is None:
        problems["quality"] = "one of " + ", ".join(sorted(pricing.quality_multipliers))
    if not 1 <= num_images <= MAX_IMAGES:
        problems["numImages"] = f"between 1 and {MAX_IMAGES}"
    if model_complexity_hundredths <= 0:
        problems["modelComplexity"] = "positive"
    if problems or resolution_multiplier is None or quality_multiplier is None:
        raise InvalidArgument("invalid_pricing_input", "the request cannot be priced", problems)

    complexity = Decimal(model_complexity_hundredths) * HUNDREDTH
    amount = (
        pricing.base_cost
        * resolution_multiplier
        * quality_multiplier
        * complexity
        * pricing.margin
        * num_images
    )
    return PriceQuote(
        amount_hundredths=to_hundredths(amount),
        pricing_version=pricing.version,
        breakdown={
            "baseCost": str(pricing.base_cost),
            "resolutionMultiplier": str(resolution_multiplier),
            "qualityMultiplier": str(quality_multiplier),
            "modelComplexity": str(complexity),
            "margin": str(pricing.margin),
            "numImages": str(num_images),
        },
    )

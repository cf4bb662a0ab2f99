"""The seed's three price formulas, driven by versioned pricing configs.

image generation: baseCost x resolution x quality x modelComplexity x margin x numImages
model creation:   baseCost x referenceComplexity x margin + extraImages x extraImageCost
model refinement: baseCost x iterationGrowth ^ iteration x modelComplexity x margin

Computed in exact decimals and rounded half-up to a hundredth of a credit. A quote records the
config version it came from; a new version changes new quotes only.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from imagegen_platform.errors import InvalidArgument

HUNDREDTH = Decimal("0.01")
MAX_IMAGES = 4
MIN_TRAINING_IMAGES = 3
MAX_TRAINING_IMAGES = 50


class Operation(Enum):
    IMAGE_GENERATION = "image_generation"
    MODEL_CREATION = "model_creation"
    MODEL_REFINEMENT = "model_refinement"


@dataclass(frozen=True)
class PricingConfig:
    operation: Operation
    version: int
    factors: dict[str, Any]

    def decimal(self, name: str) -> Decimal:
        return Decimal(str(self.factors[name]))


@dataclass(frozen=True)
class PriceQuote:
    amount_hundredths: int
    pricing_version: int
    breakdown: dict[str, str]


def to_hundredths(amount: Decimal) -> int:
    return int((amount / HUNDREDTH).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _complexity(hundredths: int, problems: dict[str, str]) -> Decimal:
    if hundredths <= 0:
        problems["modelComplexity"] = "positive"
    return Decimal(hundredths) * HUNDREDTH


def _raise_if(problems: dict[str, str]) -> None:
    if problems:
        raise InvalidArgument("invalid_pricing_input", "the request cannot be priced", problems)


def quote_image_generation(
    config: PricingConfig, *, resolution: str, quality: str, model_complexity_hundredths: int, num_images: int
) -> PriceQuote:
    problems: dict[str, str] = {}
    resolutions = {k: Decimal(v) for k, v in config.factors["resolutionMultipliers"].items()}
    qualities = {k: Decimal(v) for k, v in config.factors["qualityMultipliers"].items()}
    if resolution not in resolutions:
        problems["resolution"] = "one of " + ", ".join(sorted(resolutions))
    if quality not in qualities:
        problems["quality"] = "one of " + ", ".join(sorted(qualities))
    if not 1 <= num_images <= MAX_IMAGES:
        problems["numImages"] = f"between 1 and {MAX_IMAGES}"
    complexity = _complexity(model_complexity_hundredths, problems)
    _raise_if(problems)
    base, margin = config.decimal("baseCost"), config.decimal("margin")
    amount = base * resolutions[resolution] * qualities[quality] * complexity * margin * num_images
    return PriceQuote(
        to_hundredths(amount),
        config.version,
        {
            "baseCost": str(base),
            "resolutionMultiplier": str(resolutions[resolution]),
            "qualityMultiplier": str(qualities[quality]),
            "modelComplexity": str(complexity),
            "margin": str(margin),
            "numImages": str(num_images),
        },
    )


def quote_model_creation(
    config: PricingConfig, *, reference_complexity_hundredths: int, num_training_images: int
) -> PriceQuote:
    problems: dict[str, str] = {}
    if not MIN_TRAINING_IMAGES <= num_training_images <= MAX_TRAINING_IMAGES:
        problems["trainingImages"] = f"between {MIN_TRAINING_IMAGES} and {MAX_TRAINING_IMAGES} images"
    complexity = _complexity(reference_complexity_hundredths, problems)
    _raise_if(problems)
    base, margin = config.decimal("baseCost"), config.decimal("margin")
    included, extra_cost = int(config.factors["includedImages"]), config.decimal("extraImageCost")
    extra_images = max(0, num_training_images - included)
    amount = base * complexity * margin + extra_images * extra_cost
    return PriceQuote(
        to_hundredths(amount),
        config.version,
        {
            "baseCost": str(base),
            "referenceComplexity": str(complexity),
            "margin": str(margin),
            "includedImages": str(included),
            "extraImages": str(extra_images),
            "extraImageCost": str(extra_cost),
        },
    )


def quote_model_refinement(
    config: PricingConfig, *, model_complexity_hundredths: int, iteration: int
) -> PriceQuote:
    """`iteration` is the refinement's number: 1 for the first refinement (version 2)."""
    problems: dict[str, str] = {}
    if iteration < 1:
        problems["iteration"] = "1 or more (1 is the first refinement)"
    complexity = _complexity(model_complexity_hundredths, problems)
    _raise_if(problems)
    base, growth, margin = (
        config.decimal("baseCost"),
        config.decimal("iterationGrowth"),
        config.decimal("margin"),
    )
    amount = base * growth**iteration * complexity * margin
    return PriceQuote(
        to_hundredths(amount),
        config.version,
        {
            "baseCost": str(base),
            "iterationGrowth": str(growth),
            "iteration": str(iteration),
            "modelComplexity": str(complexity),
            "margin": str(margin),
        },
    )

from decimal import Decimal

import pytest
from imagegen_credits.domain.pricing import (
    ImageGenerationPricing,
    quote_image_generation,
    to_hundredths,
)
from imagegen_platform.errors import InvalidArgument

# The config the first migration seeds (imagegen_credits/migrations/versions/..._0001_...).
SEEDED = ImageGenerationPricing.from_config(
    1,
    {
        "baseCost": "5",
        "resolutionMultipliers": {"512x512": "1.0", "1024x1024": "2.0", "1024x768": "1.75"},
        "qualityMultipliers": {"standard": "1.0", "hd": "1.5"},
        "margin": "1.2",
    },
)


def quote(**overrides):
    request = {
        "resolution": "1024x1024",
        "quality": "hd",
        "model_complexity_hundredths": 150,
        "num_images": 1,
    }
    return quote_image_generation(SEEDED, **{**request, **overrides})


def test_seed_worked_example_costs_27_credits():
    result = quote()
    assert result.amount_hundredths == 27_00
    assert result.pricing_version == 1
    assert result.breakdown == {
        "baseCost": "5",
        "resolutionMultiplier": "2.0",
        "qualityMultiplier": "1.5",
        "modelComplexity": "1.50",
        "margin": "1.2",
        "numImages": "1",
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"num_images": 4}, 108_00),
        ({"quality": "standard"}, 18_00),
        (
            {"resolution": "512x512", "quality": "standard", "model_complexity_hundredths": 100},
            6_00,
        ),
        # 5 x 1.75 x 1.0 x 1.37 x 1.2 = 14.385, rounded half-up to 14.39.
        (
            {"resolution": "1024x768", "quality": "standard", "model_complexity_hundredths": 137},
            14_39,
        ),
    ],
)
def test_every_factor_multiplies_the_price(overrides, expected):
    assert quote(**overrides).amount_hundredths == expected


def test_rounding_is_half_up_to_a_hundredth():
    assert to_hundredths(Decimal("14.385")) == 1439
    assert to_hundredths(Decimal("14.384")) == 1438


def test_invalid_inputs_are_all_named():
    with pytest.raises(InvalidArgument) as caught:
        quote(resolution="999x999", quality="ultra", num_images=5, model_complexity_hundredths=0)
    assert caught.value.reason == "invalid_pricing_input"
    assert set(caught.value.details) == {"resolution", "quality", "numImages", "modelComplexity"}
    assert "1024x1024" in caught.value.details["resolution"]

from decimal import Decimal

import pytest
from imagegen_credits.domain.pricing import (
    Operation,
    PricingConfig,
    quote_image_generation,
    quote_model_creation,
    quote_model_refinement,
    to_hundredths,
)
from imagegen_platform.errors import InvalidArgument

# Factors as the first migration seeds them (imagegen_credits/migrations/versions/..._0001_...).
IMAGE = PricingConfig(
    Operation.IMAGE_GENERATION,
    1,
    {
        "baseCost": "5",
        "resolutionMultipliers": {"512x512": "1.0", "1024x1024": "2.0", "1024x768": "1.75"},
        "qualityMultipliers": {"standard": "1.0", "hd": "1.5"},
        "margin": "1.2",
    },
)
CREATION = PricingConfig(
    Operation.MODEL_CREATION,
    1,
    {"baseCost": "50", "margin": "1.5", "includedImages": 5, "extraImageCost": "0.5"},
)
REFINEMENT = PricingConfig(
    Operation.MODEL_REFINEMENT, 1, {"baseCost": "30", "iterationGrowth": "1.2", "margin": "1.1"}
)


def image_quote(**overrides):
    request = {
        "resolution": "1024x1024",
        "quality": "hd",
        "model_complexity_hundredths": 150,
        "num_images": 1,
    }
    return quote_image_generation(IMAGE, **{**request, **overrides})


def test_seed_generation_example_costs_27_credits():
    result = image_quote()
    assert (result.amount_hundredths, result.pricing_version) == (27_00, 1)
    assert result.breakdown["modelComplexity"] == "1.50"


def test_seed_model_creation_example_costs_115_credits_not_114_75():
    # 50 x 1.5 x 1.5 + (10 - 5) x 0.5 = 112.50 + 2.50
    result = quote_model_creation(CREATION, reference_complexity_hundredths=150, num_training_images=10)
    assert result.amount_hundredths == 115_00
    assert result.breakdown["extraImages"] == "5"


def test_training_sets_within_the_included_images_pay_no_extra():
    assert (
        quote_model_creation(
            CREATION, reference_complexity_hundredths=100, num_training_images=3
        ).amount_hundredths
        == 75_00
    )


@pytest.mark.parametrize(("iteration", "expected"), [(1, 59_40), (2, 71_28), (3, 85_54)])
def test_refinement_grows_with_its_iteration(iteration, expected):
    # The first refinement (version 2) is iteration 1; 30 x 1.2^3 x 1.5 x 1.1 = 85.536 -> 85.54.
    result = quote_model_refinement(REFINEMENT, model_complexity_hundredths=150, iteration=iteration)
    assert result.amount_hundredths == expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"num_images": 4}, 108_00),
        ({"quality": "standard"}, 18_00),
        ({"resolution": "512x512", "quality": "standard", "model_complexity_hundredths": 100}, 6_00),
        # 5 x 1.75 x 1.0 x 1.37 x 1.2 = 14.385, rounded half-up to 14.39.
        ({"resolution": "1024x768", "quality": "standard", "model_complexity_hundredths": 137}, 14_39),
    ],
)
def test_every_factor_multiplies_the_generation_price(overrides, expected):
    assert image_quote(**overrides).amount_hundredths == expected


def test_rounding_is_half_up_to_a_hundredth():
    assert to_hundredths(Decimal("14.385")) == 1439
    assert to_hundredths(Decimal("14.384")) == 1438


def test_a_new_config_version_changes_new_quotes_only():
    doubled = PricingConfig(Operation.IMAGE_GENERATION, 2, {**IMAGE.factors, "baseCost": "10"})
    given = image_quote()
    assert (
        quote_image_generation(
            doubled, resolution="1024x1024", quality="hd", model_complexity_hundredths=150, num_images=1
        ).amount_hundredths
        == 54_00
    )
    assert (given.amount_hundredths, given.pricing_version) == (27_00, 1)


def test_invalid_inputs_are_all_named():
    with pytest.raises(InvalidArgument) as caught:
        image_quote(resolution="999x999", quality="ultra", num_images=5, model_complexity_hundredths=0)
    assert set(caught.value.details) == {"resolution", "quality", "numImages", "modelComplexity"}
    with pytest.raises(InvalidArgument) as caught:
        quote_model_creation(CREATION, reference_complexity_hundredths=150, num_training_images=2)
    assert set(caught.value.details) == {"trainingImages"}
    with pytest.raises(InvalidArgument) as caught:
        quote_model_refinement(REFINEMENT, model_complexity_hundredths=150, iteration=0)
    assert set(caught.value.details) == {"iteration"}

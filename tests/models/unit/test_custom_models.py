"""The custom model rules, without I/O: fields, training sets, statuses, refinement and resolution."""

from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO

import pytest
from imagegen_models.domain.catalog import REFERENCE_MODELS, starting_weights_parameter
from imagegen_models.domain.custom_models import (
    TRAINING_SET_RULES,
    CustomModel,
    ModelStatus,
    ModelVersion,
    NewCustomModel,
    TrainingSetProblem,
    VersionStatus,
    check_fields,
    model_status,
    status_filter,
    training_set_error,
)
from imagegen_models.domain.previews import PREVIEW_SIZE, render_preview
from imagegen_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from PIL import Image

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def new_model(**fields) -> NewCustomModel:
    values = {
        "reference_model_id": 1,
        "name": "My Custom Model",
        "description": "Fashion model for e-commerce",
        "trigger_word": "my_model",
        "training_steps": 1000,
    }
    return NewCustomModel(**{**values, **fields})


def version(number: int, status: VersionStatus, **fields) -> ModelVersion:
    values = {
        "version": number,
        "status": status,
        "parent_version": 0 if number == 1 else 1,
        "job_id": f"job-{number}",
        "training_steps": 1000,
        "training_image_file_ids": (f"v{number}-a", f"v{number}-b", f"v{number}-c"),
        "training_zip_file_id": f"zip-{number}",
        "weights_file_id": f"weights-{number}" if status is VersionStatus.READY else "",
        "config_file_id": "",
        "starting_weights_file_id": "",
        "estimated_credits_hundredths": 114_75,
        "charged_credits_hundredths": 0,
        "failure_reason": "",
        "created_at": NOW,
        "finished_at": None,
    }
    return ModelVersion(**{**values, **fields})


def model(*versions: ModelVersion, current_version: int = 0) -> CustomModel:
    return CustomModel(
        id=123,
        team_id="team-1",
        reference_model_id=1,
        name="My Custom Model",
        description="",
        trigger_word="my_model",
        current_version=current_version,
        versions=versions,
        complexity_hundredths=150,
        created_at=NOW,
        updated_at=NOW,
    )


def problems_of(call) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        call()
    assert caught.value.reason == "invalid_request"
    return caught.value.details


# --- fields ----------------------------------------------------------------------------------


def test_every_bad_field_is_named_at_once():
    bad = new_model(name=" ", description="x" * 1001, trigger_word=" my model", training_steps=99)
    assert problems_of(lambda: bad.check(num_training_images=0)) == {
        "name": "between 1 and 100 characters",
        "description": "at most 1000 characters",
        "triggerWord": "1 to 50 printable characters, no edge spaces",
        "trainingSteps": "between 100 and 10000",
        "trainingImages": "at least 1 image",
    }


def test_fields_at_their_limits_are_valid():
    new_model(name="n" * 100, description="d" * 1000, trigger_word="A-z 9" * 10, training_steps=100).check(1)
    new_model(name="n", description="", trigger_word="ohwx person [[slow:2]]", training_steps=100).check(3)
    new_model(name="n", description="", trigger_word="x", training_steps=10_000).check(50)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "n" * 101}, "name"),
        ({"trigger_word": "w" * 51}, "triggerWord"),
        ({"trigger_word": ""}, "triggerWord"),
        ({"trigger_word": "tab\tword"}, "triggerWord"),
        ({"trigger_word": "edge "}, "triggerWord"),
        ({"training_steps": 10_001}, "trainingSteps"),
        ({"training_steps": 0}, "trainingSteps"),
    ],
)
def test_one_bad_field_is_named(fields, field):
    assert list(problems_of(lambda: new_model(**fields).check(3))) == [field]


def test_an_edit_checks_only_the_fields_it_changes():
    check_fields(name=None, description=None, current_version=None)
    assert list(problems_of(lambda: check_fields(name="", current_version=0))) == ["name", "currentVersion"]


# --- training sets ---------------------------------------------------------------------------


def test_training_sets_need_3_to_50_images_of_at_least_512_pixels():
    assert (TRAINING_SET_RULES.min_images, TRAINING_SET_RULES.max_images) == (3, 50)
    assert TRAINING_SET_RULES.min_short_side_pixels == 512


def test_a_rejected_training_set_lists_every_problem_by_request_field():
    error = training_set_error(
        [
            TrainingSetProblem(1, "too_small", "the image is 300x300; the shorter side needs 512 pixels"),
            TrainingSetProblem(1, "duplicate", "the same image as trainingImages[0]"),
            TrainingSetProblem(2, "unreachable", "the URL answered 404"),
            TrainingSetProblem(-1, "too_few_images", "3 images at least"),
        ]
    )
    assert error.reason == "invalid_training_set"
    assert error.details == {
        "trainingImages[1]": "too_small: the image is 300x300; the shorter side needs 512 pixels; "
        "duplicate: the same image as trainingImages[0]",
        "trainingImages[2]": "unreachable: the URL answered 404",
        "trainingImages": "too_few_images: 3 images at least",
    }


def test_a_refinements_problems_name_its_own_images_after_the_parents():
    error = training_set_error(
        [TrainingSetProblem(3, "not_an_image", "not a PNG"), TrainingSetProblem(0, "gone", "deleted")],
        first_request_index=3,
    )
    assert error.details == {
        "trainingImages[0]": "not_an_image: not a PNG",
        "trainingImages": "gone: deleted",
    }


def test_the_first_training_is_keyed_by_the_models_first_version():
    plan = new_model().first_training(123)
    assert (plan.version, plan.parent_version, plan.iteration) == (1, 0, 0)
    assert (plan.files_owner_id, plan.idempotency_key) == ("model-123", "model-123/v1")


# --- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current_version", "first", "expected"),
    [
        (0, VersionStatus.PENDING, ModelStatus.PENDING),
        (0, VersionStatus.TRAINING, ModelStatus.TRAINING),
        (0, VersionStatus.FAILED, ModelStatus.FAILED),
        (0, VersionStatus.CANCELLED, ModelStatus.FAILED),
        (1, VersionStatus.READY, ModelStatus.READY),
        (2, VersionStatus.READY, ModelStatus.READY),
    ],
)
def test_a_models_status_follows_its_versions(current_version, first, expected):
    assert model_status(current_version, first) is expected


def test_a_ready_model_stays_ready_while_a_refinement_trains_or_fails():
    assert model(
        version(1, VersionStatus.READY), version(2, VersionStatus.TRAINING), current_version=1
    ).status is (ModelStatus.READY)
    assert model(
        version(1, VersionStatus.READY), version(2, VersionStatus.FAILED), current_version=1
    ).status is (ModelStatus.READY)


def test_the_listing_filter_agrees_with_the_status_rule():
    for wanted in ModelStatus:
        pairs = status_filter({wanted})
        assert pairs
        assert all(model_status(int(has_current), first) is wanted for has_current, first in pairs)
    assert len(status_filter(set(ModelStatus))) == 2 * len(VersionStatus)


# --- refinement ------------------------------------------------------------------------------


def test_a_refinement_trains_the_next_version_from_the_current_one():
    ready = model(
        version(1, VersionStatus.READY),
        version(2, VersionStatus.FAILED, failure_reason="trainer crashed"),
        current_version=1,
    )
    plan = ready.plan_refinement(num_new_images=2, training_steps=0, trainer_takes_weights=False)
    assert (plan.version, plan.parent_version, plan.iteration, plan.training_steps) == (3, 1, 2, 1000)
    assert plan.parent_image_file_ids == ("v1-a", "v1-b", "v1-c")
    assert plan.starting_weights_file_id == ""
    assert plan.idempotency_key == "model-123/v3"


def test_a_trainer_that_takes_starting_weights_continues_from_the_parents():
    ready = model(version(1, VersionStatus.READY), current_version=1)
    plan = ready.plan_refinement(num_new_images=0, training_steps=2000, trainer_takes_weights=True)
    assert (plan.version, plan.iteration, plan.training_steps) == (2, 1, 2000)
    assert plan.starting_weights_file_id == "weights-1"


def test_the_catalogs_trainer_takes_no_starting_weights():
    assert {model.training_endpoint for model in REFERENCE_MODELS} == {"fal-ai/flux-lora-fast-training"}
    assert starting_weights_parameter("fal-ai/flux-lora-fast-training") == ""


@pytest.mark.parametrize(
    ("versions", "current_version", "reason", "message"),
    [
        (
            (version(1, VersionStatus.TRAINING),),
            0,
            "model_not_ready",
            "custom model 123 has no ready version to refine yet: version 1 is still training",
        ),
        (
            (version(1, VersionStatus.FAILED, failure_reason="no face found"),),
            0,
            "model_not_ready",
            "custom model 123 has no ready version to refine yet: version 1 failed: no face found",
        ),
        (
            (version(1, VersionStatus.READY), version(2, VersionStatus.PENDING)),
            1,
            "refinement_in_progress",
            "version 2 is still waiting to train; refine again once it has finished",
        ),
    ],
)
def test_a_refinement_needs_a_ready_model_and_no_other_training(versions, current_version, reason, message):
    with pytest.raises(FailedPrecondition) as caught:
        model(*versions, current_version=current_version).plan_refinement(
            num_new_images=1, training_steps=0, trainer_takes_weights=False
        )
    assert (caught.value.reason, caught.value.message) == (reason, message)


def test_a_refinement_must_change_something():
    ready = model(version(1, VersionStatus.READY), current_version=1)
    problems = problems_of(
        lambda: ready.plan_refinement(num_new_images=0, training_steps=1000, trainer_takes_weights=False)
    )
    assert list(problems) == ["trainingImages"]


# --- resolution and the current version --------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (
            version(1, VersionStatus.PENDING),
            "custom model 123 has no ready version yet: version 1 is still waiting to train",
        ),
        (
            version(1, VersionStatus.TRAINING),
            "custom model 123 has no ready version yet: version 1 is still training",
        ),
        (
            version(1, VersionStatus.FAILED, failure_reason="too few faces"),
            "custom model 123 has no ready version yet: version 1 failed: too few faces",
        ),
        (
            version(1, VersionStatus.CANCELLED),
            "custom model 123 has no ready version yet: version 1 was cancelled",
        ),
    ],
)
def test_resolving_a_model_without_a_ready_version_says_why(first, message):
    with pytest.raises(FailedPrecondition) as caught:
        model(first).resolve(0)
    assert (caught.value.reason, caught.value.message) == ("model_not_ready", message)
    assert caught.value.details == {"version": 1, "status": first.status.value}


def test_resolving_picks_the_current_version_or_the_one_pinned():
    refined = model(version(1, VersionStatus.READY), version(2, VersionStatus.READY), current_version=1)
    assert refined.resolve(0).weights_file_id == "weights-1"
    assert refined.resolve(2).weights_file_id == "weights-2"


def test_resolving_a_version_that_is_not_ready_or_does_not_exist():
    training = model(version(1, VersionStatus.READY), version(2, VersionStatus.TRAINING), current_version=1)
    with pytest.raises(FailedPrecondition) as caught:
        training.resolve(2)
    assert caught.value.message == "version 2 is still training"
    with pytest.raises(NotFound) as missing:
        training.resolve(3)
    assert missing.value.reason == "model_version_not_found"


def test_only_a_ready_version_can_become_current():
    refined = model(version(1, VersionStatus.READY), version(2, VersionStatus.TRAINING), current_version=1)
    refined.check_current_version(1)
    with pytest.raises(FailedPrecondition) as caught:
        refined.check_current_version(2)
    assert caught.value.reason == "model_version_not_ready"
    assert caught.value.message == "version 2 is still training; only a ready version can be the current one"
    with pytest.raises(NotFound):
        refined.check_current_version(5)


# --- previews --------------------------------------------------------------------------------


def test_previews_are_small_pngs_rendered_the_same_every_time():
    first, other = REFERENCE_MODELS[0], REFERENCE_MODELS[-1]
    assert render_preview(first) == render_preview(first)
    assert render_preview(first) != render_preview(replace(first, name="Another Name"))
    image = Image.open(BytesIO(render_preview(other)))
    assert (image.format, image.size) == ("PNG", (PREVIEW_SIZE, PREVIEW_SIZE))

import pytest
from imagegen_generation.domain.jobs import (
    ImageGenerationRequest,
    LoraWeights,
    ModelTrainingRequest,
    charge_for,
    progress_from_logs,
    provider_error_message,
    provider_images,
    provider_training_files,
    with_signed_files,
)
from imagegen_platform.errors import InvalidArgument


def request(**overrides) -> ImageGenerationRequest:
    fields = {
        "reference_model_id": 1,
        "prompt": "woman in red dress standing in park",
        "resolution": "1024x768",
        "quality": "hd",
        "num_images": 2,
        "seed": 7,
    }
    return ImageGenerationRequest(**{**fields, **overrides})


def test_valid_request_passes():
    request().validate()


def test_every_invalid_field_is_named():
    bad = request(reference_model_id=0, prompt="  ", resolution="big", quality="ultra", num_images=9, seed=-1)
    with pytest.raises(InvalidArgument) as caught:
        bad.validate()
    assert set(caught.value.details) == {
        "referenceModelId",
        "prompt",
        "resolution",
        "quality",
        "numImages",
        "seed",
    }


def test_nul_characters_are_refused_because_postgres_cannot_store_them():
    with pytest.raises(InvalidArgument) as caught:
        request(prompt="a red\x00dress").validate()
    assert set(caught.value.details) == {"prompt"}


def test_provider_input_overrides_model_defaults_with_the_request():
    arguments = request().provider_input({"guidance_scale": 3.5, "num_images": 1, "output_format": "jpeg"})
    assert arguments == {
        "guidance_scale": 3.5,
        "prompt": "woman in red dress standing in park",
        "image_size": {"width": 1024, "height": 768},
        "num_images": 2,
        "num_inference_steps": 40,
        "output_format": "png",
        "enable_safety_checker": True,
        "seed": 7,
    }


def test_provider_input_leaves_seed_to_the_provider_when_unset():
    assert "seed" not in request(seed=None).provider_input({})


def test_provider_images_reads_urls_in_order():
    payload = {"images": [{"url": "https://a/1.png", "width": 1}, {"url": "https://a/2.png"}]}
    assert [image.url for image in provider_images(payload)] == [
        "https://a/1.png",
        "https://a/2.png",
    ]


@pytest.mark.parametrize("payload", [None, {}, {"images": []}, {"images": [{"width": 1}]}, {"images": "x"}])
def test_malformed_provider_output_is_rejected(payload):
    with pytest.raises(ValueError):
        provider_images(payload)


def test_flagged_images_are_read_and_not_charged():
    payload = {
        "images": [{"url": "https://a/1.png"}, {"url": "https://a/2.png"}],
        "has_nsfw_concepts": [True, False],
    }
    images = provider_images(payload)
    assert [image.nsfw for image in images] == [True, False]
    assert charge_for(27_01, images) == 13_50  # rounded in the team's favour
    assert charge_for(27_00, provider_images({"images": [{"url": "u"}]})) == 27_00


def test_provider_error_message_joins_error_and_detail():
    payload = {"detail": [{"loc": ["body", "prompt"], "msg": "prompt rejected"}]}
    assert (
        provider_error_message("Invalid status code: 422", payload)
        == "Invalid status code: 422: prompt rejected"
    )
    assert provider_error_message("", None) == "the provider reported an error"


def test_signed_files_land_at_their_paths_without_touching_the_stored_input():
    stored = {"prompt": "p", "loras": [{"path": "", "scale": 1.0}], "images_data_url": ""}
    signed = with_signed_files(stored, {"loras.0.path": "https://a", "images_data_url": "https://b"})
    assert signed["loras"][0]["path"] == "https://a"
    assert signed["images_data_url"] == "https://b"
    assert stored["loras"][0]["path"] == ""


def test_progress_is_the_last_step_the_logs_report_and_never_complete_while_running():
    assert progress_from_logs(["Downloaded dataset: 5 image(s)", "Training step 250/1000"]) == 0.25
    assert progress_from_logs(["Step 28/28"]) == 0.99
    assert progress_from_logs(["Preprocessing images"]) is None


def test_a_training_request_lists_every_bad_field():
    bad = ModelTrainingRequest(0, 2, 0, "w", 0, 0, "", "", 0, "")
    with pytest.raises(InvalidArgument) as error:
        bad.validate()
    assert set(error.value.details) == {
        "customModelId",
        "iteration",
        "referenceModelId",
        "trainingSteps",
        "numTrainingImages",
        "trainingZipFileId",
        "filesOwnerId",
    }


def test_a_trainer_output_without_weights_is_a_provider_error():
    with pytest.raises(ValueError, match="no LoRA weights"):
        provider_training_files({"config_file": {"url": "https://c"}})
    trained = provider_training_files({"diffusers_lora_file": {"url": "https://w"}})
    assert (trained.weights_url, trained.config_url) == ("https://w", None)


def test_a_custom_model_prompt_gets_its_trigger_word_once():
    request = ImageGenerationRequest(3, "ZXQ in a park", "512x512", "standard", 1, None, custom_model_id=7)
    arguments = request.provider_input({}, LoraWeights("w", "zxq"))
    assert arguments["prompt"] == "ZXQ in a park"
    assert arguments["loras"] == [{"path": "", "scale": 1.0}]

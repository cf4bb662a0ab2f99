"""The background parts of `serve`: catalog previews stored through storage and signed on every
catalog read, and generation's job events consumed from real NATS JetStream."""

import asyncio
import hashlib

import pytest
from imagegen.generation.v1 import events_pb2, generation_pb2
from imagegen.models.v1 import models_pb2, models_service_pb2
from imagegen.storage.v1 import storage_pb2
from imagegen_models.adapters.tables import reference_model
from imagegen_models.domain.catalog import REFERENCE_MODELS
from imagegen_models.entrypoints.events import register_training_consumers
from imagegen_models.service_layer.previews import keep_storing_previews, store_missing_previews
from imagegen_platform.events import (
    GENERATION_STREAM_CONFIG,
    JOB_FINISHED_SUBJECT,
    JOB_STARTED_SUBJECT,
    create_broker,
    ensure_stream,
)
from sqlalchemy import select, update


@pytest.fixture
async def without_previews(service):
    async with service.engine.begin() as connection:
        await connection.execute(update(reference_model).values(preview_file_id=None))
    return service


async def preview_file_ids(service) -> dict[int, str | None]:
    async with service.engine.connect() as connection:
        rows = await connection.execute(select(reference_model.c.id, reference_model.c.preview_file_id))
        return dict(rows.all())


async def test_every_reference_model_gets_its_preview_stored_once(without_previews):
    service = without_previews
    assert await store_missing_previews(service.models) == len(REFERENCE_MODELS)
    assert await store_missing_previews(service.models) == 0

    stored = await preview_file_ids(service)
    by_file_id = {
        file_id: (key, owner, content) for key, (owner, file_id, content) in service.peers.previews.items()
    }
    for model_id, file_id in stored.items():
        key, owner, content = by_file_id[file_id]
        assert owner == f"reference-model-{model_id}"
        assert key == f"{owner}/preview-{hashlib.sha256(content).hexdigest()}"
        assert content.startswith(b"\x89PNG")


async def test_the_catalog_signs_the_previews_and_names_each_models_trainer(without_previews):
    service = without_previews
    unrendered = (
        await service.stub.GetReferenceModel(
            models_service_pb2.GetReferenceModelRequest(id=1, with_preview_url=True)
        )
    ).reference_model
    assert (unrendered.preview_url, unrendered.HasField("preview_url_expires_at")) == ("", False)

    await store_missing_previews(service.models)
    model = (
        await service.stub.GetReferenceModel(
            models_service_pb2.GetReferenceModelRequest(id=1, with_preview_url=True)
        )
    ).reference_model
    assert model.preview_url == f"https://bucket/{(await preview_file_ids(service))[1]}"
    # Callers that only price or run jobs skip the storage call.
    plain = (
        await service.stub.GetReferenceModel(models_service_pb2.GetReferenceModelRequest(id=1))
    ).reference_model
    assert (plain.preview_url, plain.training_endpoint) == ("", "fal-ai/flux-lora-fast-training")
    assert model.preview_url_expires_at.ToDatetime().year == 2030
    assert model.training_endpoint == "fal-ai/flux-lora-fast-training"
    page = await service.stub.ListReferenceModels(
        models_service_pb2.ListReferenceModelsRequest(page_size=100)
    )
    assert all(model.preview_url for model in page.reference_models)


async def test_the_catalog_answers_without_previews_when_storage_fails(service, storage_down):
    await store_missing_previews(service.models)
    service.peers.storage_failure = storage_down
    page = await service.stub.ListReferenceModels(
        models_service_pb2.ListReferenceModelsRequest(page_size=100)
    )
    assert len(page.reference_models) == len(REFERENCE_MODELS)
    assert {model.preview_url for model in page.reference_models} == {""}


async def test_previews_are_stored_once_storage_answers(without_previews, storage_down):
    service = without_previews
    service.peers.storage_failure = storage_down
    storing = asyncio.create_task(keep_storing_previews(service.models, retry_seconds=0.05))
    await asyncio.sleep(0.2)
    assert not storing.done()
    service.peers.storage_failure = None
    await asyncio.wait_for(storing, timeout=10)
    assert None not in (await preview_file_ids(service)).values()


@pytest.fixture
async def consuming(service, infrastructure):
    broker = create_broker(infrastructure.nats_url)
    register_training_consumers(broker, service.models)
    await broker.connect()
    await ensure_stream(broker, GENERATION_STREAM_CONFIG)
    await broker.start()
    yield broker
    await broker.stop()


async def test_job_events_from_jetstream_move_the_version_to_ready(service, consuming, team_id):
    response = await service.stub.CreateCustomModel(
        models_service_pb2.CreateCustomModelRequest(
            team_id=team_id,
            reference_model_id=1,
            name="From events",
            training_images=[storage_pb2.TrainingImageSource(url=f"https://x/{n}.jpg") for n in range(3)],
            trigger_word="evt",
            training_steps=1000,
        )
    )
    model_id, job_id = response.custom_model.id, response.job.id
    training = generation_pb2.ModelTrainingInput(custom_model_id=model_id, model_version=1)
    creation = generation_pb2.JOB_TYPE_MODEL_CREATION
    events = [
        # An image generation's event is not the models service's business.
        (
            JOB_FINISHED_SUBJECT,
            events_pb2.JobFinished(job_id="image-job", type=generation_pb2.JOB_TYPE_IMAGE_GENERATION),
        ),
        (
            JOB_STARTED_SUBJECT,
            events_pb2.JobStarted(job_id=job_id, team_id=team_id, type=creation, model_training=training),
        ),
        (
            JOB_FINISHED_SUBJECT,
            events_pb2.JobFinished(
                job_id=job_id,
                team_id=team_id,
                type=creation,
                status=generation_pb2.JOB_STATUS_COMPLETED,
                charge_hundredths=114_75,
                model_training=training,
                training_output=generation_pb2.TrainingOutput(
                    weights_file_id="weights", config_file_id="config"
                ),
            ),
        ),
    ]
    for subject, event in events:
        await consuming.publish(event.SerializeToString(), subject, stream=GENERATION_STREAM_CONFIG.name)

    request = models_service_pb2.GetCustomModelRequest(team_id=team_id, custom_model_id=model_id)
    for _ in range(100):
        model = (await service.stub.GetCustomModel(request)).custom_model
        if model.status == models_pb2.CUSTOM_MODEL_STATUS_READY:
            break
        await asyncio.sleep(0.1)
    (version,) = model.versions
    assert (model.status, model.current_version) == (models_pb2.CUSTOM_MODEL_STATUS_READY, 1)
    assert (version.weights_file_id, version.config_file_id, version.charged_credits_hundredths) == (
        "weights",
        "config",
        114_75,
    )

"""Versions follow their training jobs: started -> training; finished -> ready, failed or cancelled.

Events may come twice or out of order (JobStarted after JobFinished); every transition is
conditional on the version's status, so such an event changes nothing. A training whose model is
gone (deleted, or rolled back after generation took the job) is stopped when it starts and its
files removed when it finishes: nobody should pay for, or keep, a model that does not exist.
"""

import logging

from imagegen_models.adapters import repository
from imagegen_models.domain.custom_models import TrainingFinished, TrainingStarted, files_owner_id
from imagegen_models.service_layer.handlers import Models

log = logging.getLogger(__name__)


async def training_started(models: Models, event: TrainingStarted) -> None:
    async with models.engine.begin() as connection:
        started = await repository.start_version(connection, event)
        live = await repository.version_is_live(connection, event.custom_model_id, event.version)
    if not live:
        # Generation refunds a cancelled job; one that already finished has nothing left to stop.
        await models.peers.cancel_job(event.team_id, event.job_id)
        log.info("training of a removed model cancelled", extra={"jobId": event.job_id})
    elif started:
        log.info("model version training", extra={"jobId": event.job_id, "version": event.version})


async def training_finished(models: Models, event: TrainingFinished) -> None:
    async with models.engine.begin() as connection:
        finished = await repository.finish_version(connection, event)
        live = await repository.version_is_live(connection, event.custom_model_id, event.version)
    if not live:
        # Weights imported after the model was deleted go with the rest of its files (repeatable).
        await models.peers.delete_owner_files(event.team_id, files_owner_id(event.custom_model_id))
    if finished:
        log.info(
            "model version finished",
            extra={"jobId": event.job_id, "version": event.version, "status": event.status.value},
        )

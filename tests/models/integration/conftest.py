"""A real ModelsService (in-process gRPC server, real Postgres) whose peers, storage and generation,
are faked in memory at the port the handlers call."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from grpc_status import rpc_status
from imagegen.generation.v1 import generation_pb2
from imagegen.models.v1 import models_service_pb2_grpc
from imagegen_models.adapters.peers import SignedUrl
from imagegen_models.domain.catalog import ReferenceModel
from imagegen_models.domain.custom_models import TrainingPlan, TrainingSet, TrainingSetProblem
from imagegen_models.entrypoints.grpc_servicer import ModelsServicer
from imagegen_models.service_layer.handlers import Models
from imagegen_platform import db
from imagegen_platform.errors import DomainError, Unavailable
from imagegen_platform.grpc_client import open_channel
from imagegen_platform.grpc_server import ErrorAndContextInterceptor, status_for


def peer_error(error: DomainError) -> grpc.aio.AioRpcError:
    """The failed call a peer answers with when it raises `error` (its status, reason and details)."""
    status = rpc_status.to_status(status_for(error))
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), status.details
    )


@dataclass(frozen=True)
class TrainingJobCall:
    team_id: str
    plan: TrainingPlan
    reference: ReferenceModel
    trigger_word: str
    training_set: TrainingSet
    key_spend: generation_pb2.KeySpend | None = None


@dataclass
class FakePeers:
    # What the next training set preparations report; empty: every set is fine.
    problems: list[TrainingSetProblem] = field(default_factory=list)
    # What CreateModelTrainingJob, CancelJob and storage's calls fail with, when set.
    job_refusal: grpc.aio.AioRpcError | None = None
    cancel_failure: grpc.aio.AioRpcError | None = None
    storage_failure: grpc.aio.AioRpcError | None = None
    estimate_hundredths: int = 114_75
    prepared: list[tuple[str, TrainingPlan, list]] = field(default_factory=list)
    training_jobs: list[TrainingJobCall] = field(default_factory=list)
    jobs: dict[str, generation_pb2.Job] = field(default_factory=dict)
    # Jobs that finished before anyone cancelled them.
    finished_jobs: set[str] = field(default_factory=set)
    cancelled: list[str] = field(default_factory=list)
    deleted_owners: list[tuple[str, str]] = field(default_factory=list)
    # Previews by idempotency key: (owner, file id, bytes).
    previews: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)

    def _storage_call(self) -> None:
        if self.storage_failure is not None:
            raise self.storage_failure

    async def prepare_training_set(self, team_id: str, plan: TrainingPlan, new_sources) -> TrainingSet:
        self._storage_call()
        new = [source.url or source.upload_id or source.file_id for source in new_sources]
        sources = [*plan.parent_image_file_ids, *new]
        self.prepared.append((team_id, plan, sources))
        if self.problems:
            return TrainingSet(list(self.problems), [], "")
        images = [
            source if source in plan.parent_image_file_ids else f"{plan.idempotency_key}/image-{n}"
            for n, source in enumerate(sources)
        ]
        return TrainingSet([], images, f"{plan.idempotency_key}/zip")

    async def create_training_job(
        self, team_id: str, plan: TrainingPlan, *, reference, trigger_word, training_set, key_spend=None
    ) -> generation_pb2.Job:
        if self.job_refusal is not None:
            raise self.job_refusal
        self.training_jobs.append(
            TrainingJobCall(team_id, plan, reference, trigger_word, training_set, key_spend)
        )
        job = generation_pb2.Job(
            id=str(uuid.uuid4()),
            team_id=team_id,
            status=generation_pb2.JOB_STATUS_QUEUED,
            estimated_credits_hundredths=self.estimate_hundredths,
        )
        self.jobs[job.id] = job
        return job

    async def get_job(self, team_id: str, job_id: str) -> generation_pb2.Job:
        return self.jobs[job_id]

    async def cancel_job(self, team_id: str, job_id: str) -> bool:
        if self.cancel_failure is not None:
            raise self.cancel_failure
        if job_id in self.finished_jobs:
            return False
        self.cancelled.append(job_id)
        return True

    async def delete_owner_files(self, team_id: str, owner_id: str) -> None:
        self._storage_call()
        self.deleted_owners.append((team_id, owner_id))

    async def put_preview(self, owner_id: str, content: bytes, idempotency_key: str) -> str:
        self._storage_call()
        stored = self.previews.setdefault(idempotency_key, (owner_id, f"preview-{uuid.uuid4()}", content))
        return stored[1]

    async def sign_previews(self, file_ids: list[str]) -> dict[str, SignedUrl]:
        self._storage_call()
        expires_at = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=1)
        return {file_id: SignedUrl(f"https://bucket/{file_id}", expires_at) for file_id in file_ids}


@dataclass
class Harness:
    stub: models_service_pb2_grpc.ModelsServiceStub
    models: Models

    @property
    def peers(self) -> FakePeers:
        return self.models.peers

    @property
    def engine(self):
        return self.models.engine


@pytest.fixture
async def service(infrastructure):
    engine = db.create_engine(infrastructure.database_url)
    models = Models(engine=engine, peers=FakePeers())
    server = grpc.aio.server(interceptors=[ErrorAndContextInterceptor()])
    models_service_pb2_grpc.add_ModelsServiceServicer_to_server(ModelsServicer(models), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    yield Harness(models_service_pb2_grpc.ModelsServiceStub(channel), models)
    await channel.close()
    await server.stop(None)
    await engine.dispose()


@pytest.fixture
def failed_call():
    """Makes the failed call a peer answers with when it raises a domain error."""
    return peer_error


@pytest.fixture
def storage_down() -> grpc.aio.AioRpcError:
    return peer_error(Unavailable("storage_unavailable", "storage is down"))

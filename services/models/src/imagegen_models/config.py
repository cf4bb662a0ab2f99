from imagegen_platform.config import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ModelsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MODELS_", extra="ignore")

    grpc_port: int = 50051
    # Training events (generation's JobStarted and JobFinished) come from here.
    nats_url: str
    # Copies a JetStream cluster keeps of the streams this service declares (3 in production).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # Training sets, previews and file removal.
    storage_addr: str
    # Training jobs.
    generation_addr: str

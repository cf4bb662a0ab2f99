from imagegen_platform.config import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class GenerationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GENERATION_", extra="ignore")

    grpc_port: int = 50052
    # The worker process serves only gRPC health checks, on its own port.
    worker_health_port: int = 50055
    # The worker's Prometheus /metrics port (metrics_port is the gRPC service's); 0 serves none.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    # How often the worker reads queue depth and age and jobs by status for its metrics.
    queue_metrics_interval_seconds: float = 5.0
    nats_url: str = "nats://127.0.0.1:4222"
    # Copies a JetStream cluster keeps of the streams this service declares (3 in production).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    models_addr: str
    credits_addr: str
    storage_addr: str
    fal_key: SecretStr
    # Public base URL of the gateway; the provider posts results to {base}/api/webhooks/fal.
    webhook_base_url: str
    # Submissions that failed transiently are retried this many times before the job fails.
    provider_max_attempts: int = 5
    # How long a worker has to start a job: a claimed job without a provider request after this
    # long belongs to a worker that died and is submitted again (also the queue's ack wait).
    worker_ack_wait_seconds: float = Field(default=60.0, gt=0)
    # Jobs a worker process submits to the provider at once, and how often its idle dispatcher
    # looks for work without being woken by an event.
    worker_submissions: int = Field(default=8, ge=1, le=64)
    worker_idle_dispatch_seconds: float = Field(default=1.0, gt=0)
    # The worker asks the provider about a running job when no webhook came for this long (a local
    # machine has no public URL for webhooks), and looks for such jobs this often.
    provider_poll_after_seconds: float = 10.0
    provider_poll_interval_seconds: float = 2.0

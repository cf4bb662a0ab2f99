"""Settings shared by the gRPC services; each service subclasses with its own env prefix."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(ge=0, le=65535)
    database_url: str
    log_level: str = "INFO"
    # Seconds a stopping server lets in-flight RPCs finish before cancelling them.
    shutdown_grace_seconds: float = 10.0
    # Port of the Prometheus /metrics endpoint of `serve`, on grpc_host; 0 serves none.
    metrics_port: int = Field(default=0, ge=0, le=65535)

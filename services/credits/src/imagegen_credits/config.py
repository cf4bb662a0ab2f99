from imagegen_platform.config import ServiceSettings
from pydantic_settings import SettingsConfigDict


class CreditsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CREDITS_", extra="ignore")

    grpc_port: int = 50053
    nats_url: str = "nats://127.0.0.1:4222"

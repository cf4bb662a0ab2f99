from imagegen_platform.config import ServiceSettings
from pydantic_settings import SettingsConfigDict


class ModelsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MODELS_", extra="ignore")

    grpc_port: int = 50051

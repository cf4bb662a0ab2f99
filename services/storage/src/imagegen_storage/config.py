from imagegen_platform.config import ServiceSettings
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict


class StorageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="STORAGE_", extra="ignore")

    grpc_port: int = 50054
    s3_bucket: str = "imagegen"
    s3_region: str = "us-east-1"
    # Unset in production (the default AWS endpoint); the local stack points it at its S3 server.
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    # How long a signed read URL works.
    url_ttl_seconds: int = 3600
    # Days a generated image is kept before retention removes it.
    generated_image_retention_days: int = 90
    # Largest file a fetch may download, and how long it may take.
    max_download_bytes: int = 50 * 1024 * 1024
    download_timeout_seconds: float = 60.0

from imagegen_platform.config import ServiceSettings
from pydantic import Field, SecretStr, model_validator
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
    # How long a signed read URL works (never past the file's own expiry).
    url_ttl_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # With all three set, read URLs are CloudFront signed URLs (canned policy) instead of S3
    # presigned ones: the distribution's domain, the public key's id, and its PEM private key.
    cloudfront_domain: str | None = None
    cloudfront_key_pair_id: str | None = None
    cloudfront_private_key: SecretStr | None = None
    # Days a generated image is kept before retention removes it, and per plan when the caller
    # names one (JSON, e.g. {"enterprise": 365}); plans not listed get the default.
    generated_image_retention_days: int = Field(default=90, ge=1)
    retention_days_by_plan: dict[str, int] = Field(default_factory=dict)
    # Days a model's preview image is kept.
    preview_retention_days: int = Field(default=90, ge=1)
    # Upload attempts on transient S3 errors, and the first backoff (doubling, with jitter).
    upload_attempts: int = Field(default=4, ge=1)
    upload_backoff_seconds: float = 0.2
    # Largest file a fetch may download (and a presigned upload may send), and how long the whole
    # download may take.
    max_download_bytes: int = 50 * 1024 * 1024
    download_timeout_seconds: float = 60.0
    # How long a presigned upload URL works, and how many days an upload no training set has claimed
    # is kept before the cleanup (and the bucket's lifecycle rule) removes it.
    upload_url_ttl_seconds: int = Field(default=15 * 60, ge=1, le=7 * 24 * 3600)
    upload_retention_days: int = Field(default=1, ge=1)
    # Web origins whose pages upload to and download from the bucket through signed URLs (the web
    # app's, JSON list): the bucket's CORS rule allows exactly these; empty leaves its CORS as it is.
    cors_allowed_origins: list[str] = Field(default_factory=list)
    # Networks a fetch may reach although they are not public (JSON list of CIDRs). Empty in
    # production; the local stack allows loopback for the fal emulator.
    fetch_allowed_networks: list[str] = Field(default_factory=list)
    # The cleanup: rows per batch, and seconds between runs (0: run once and exit, as a CronJob does).
    cleanup_batch_size: int = Field(default=500, ge=1, le=1000)
    cleanup_every_seconds: float = 0.0
    # Moves storage's clock (tests and drills only: expiry without waiting 90 days).
    clock_offset_seconds: float = 0.0

    @model_validator(mode="after")
    def _cloudfront_all_or_nothing(self) -> "StorageSettings":
        given = [self.cloudfront_domain, self.cloudfront_key_pair_id, self.cloudfront_private_key]
        if any(given) and not all(given):
            raise ValueError(
                "set STORAGE_CLOUDFRONT_DOMAIN, STORAGE_CLOUDFRONT_KEY_PAIR_ID and "
                "STORAGE_CLOUDFRONT_PRIVATE_KEY together"
            )
        return self

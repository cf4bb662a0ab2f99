from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # gRPC health checks, served like every other service's so orchestrators probe them alike.
    grpc_port: int = 50050
    database_url: str
    models_addr: str
    generation_addr: str
    credits_addr: str
    storage_addr: str
    # Where fal publishes the keys its webhooks are signed with.
    fal_jwks_url: str = "https://rest.alpha.fal.ai/.well-known/jwks.json"
    # Webhooks whose timestamp is further than this from now are refused (replay protection).
    fal_webhook_tolerance_seconds: int = 300
    # Stripe's signing secret for our webhook endpoint (whsec_...); without it Stripe webhooks get 503.
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GATEWAY_STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET")
    )
    # Deadline of every call to a service.
    rpc_timeout_seconds: float = 10.0
    # Largest request body accepted (413 above it); images are uploaded to S3, not through here.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = "INFO"

    # Outbound webhooks. The HTTP API only manages endpoints; the `deliver-webhooks` role consumes
    # events from NATS and posts them, so it alone needs nats_url (it refuses to start without it).
    nats_url: str | None = None
    # Copies a JetStream cluster keeps of the streams the role declares (as generation's and credits').
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # Fernet key (base64 of 32 bytes) encrypting endpoints' signing secrets at rest; without it the
    # endpoint routes answer 503 and `deliver-webhooks` refuses to start.
    webhook_secrets_key: SecretStr | None = None
    # Endpoints must be https and resolve to public addresses; a local stack allows http and loopback.
    webhook_allow_http: bool = False
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    # Each POST to an endpoint gives up after this long and counts as a failed attempt.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds before each retry of a failed delivery (jittered +-20%); after the last, it is failed.
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800], min_length=1
    )
    # Deliveries one process sends at once, and how often an idle sender looks for due ones.
    webhook_delivery_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_delivery_poll_seconds: float = Field(default=1.0, gt=0)
    # gRPC health and Prometheus ports of `deliver-webhooks` (0 serves no metrics).
    webhook_delivery_health_port: int = 50056
    webhook_delivery_metrics_port: int = Field(default=0, ge=0, le=65535)

from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imagegen_gateway.csrf import origin_of

# Hosts a developer's browser reaches the gateway on without TLS.
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


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
    # Requests a minute each API key (or signed-in person) and each team may make, in bursts too.
    rate_limit_per_key_per_minute: int = Field(default=600, ge=1)
    rate_limit_per_team_per_minute: int = Field(default=1200, ge=1)
    # Largest request body accepted (413 above it); images are uploaded to S3, not through here.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = "INFO"

    # Accounts for people. Where browsers reach the API (https://imagegen.example.com): session cookies
    # are `Secure` unless it is plain http, which only local use should be. Unset while serving on
    # loopback, it is that address; unset elsewhere, cookies are `Secure` and no origin is trusted.
    public_url: str | None = None
    # Origins whose pages may send cookie-authenticated writes (a JSON list); default: public_url's.
    web_origins: list[str] | None = None

    @model_validator(mode="after")
    def _browser_defaults(self) -> Self:
        if self.public_url is None and self.http_host in _LOOPBACK_HOSTS:
            self.public_url = f"http://{self.http_host}:{self.http_port}"
        if self.web_origins is None:
            self.web_origins = [self.public_url] if self.public_url else []
        origins = [origin_of(origin) for origin in self.web_origins]
        if None in origins:
            raise ValueError(f"web_origins must be http(s) origins, not {self.web_origins}")
        self.web_origins = [origin for origin in origins if origin]
        return self

    @property
    def session_cookie_secure(self) -> bool:
        return self.public_url is None or not self.public_url.startswith("http://")

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

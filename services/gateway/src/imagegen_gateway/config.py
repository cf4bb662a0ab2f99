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
    log_level: str = "INFO"

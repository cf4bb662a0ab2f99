from imagegen_platform.config import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from imagegen_credits.domain.model import Plan


def _price_setting(plan: str):
    # Stripe's price ids, by the names the deployment docs use (STRIPE_PRICE_PRO) or prefixed.
    return Field(
        default=None, validation_alias=AliasChoices(f"CREDITS_STRIPE_PRICE_{plan}", f"STRIPE_PRICE_{plan}")
    )


class CreditsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CREDITS_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50053
    nats_url: str = "nats://127.0.0.1:4222"
    # Copies a JetStream cluster keeps of the streams this service declares (3 in production).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    stripe_price_basic: str | None = _price_setting("BASIC")
    stripe_price_pro: str | None = _price_setting("PRO")
    stripe_price_enterprise: str | None = _price_setting("ENTERPRISE")
    # How often ended billing periods are rolled over and pending Stripe events retried.
    renewal_interval_seconds: float = 60.0
    stripe_poll_interval_seconds: float = 1.0

    def plans_by_price(self) -> dict[str, Plan]:
        prices = {
            self.stripe_price_basic: Plan.BASIC,
            self.stripe_price_pro: Plan.PRO,
            self.stripe_price_enterprise: Plan.ENTERPRISE,
        }
        return {price: plan for price, plan in prices.items() if price}

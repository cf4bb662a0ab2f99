"""Runtime settings of the emulator and the environment a fal-client needs to reach it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_WEBHOOK_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class EmulatorSettings:
    """Everything the emulator needs; the CLI builds one from its arguments."""

    cert_dir: Path
    host: str = "127.0.0.1"
    port: int = 8443
    # Seconds a request spends IN_PROGRESS unless its input carries [[slow:N]].
    latency: float = 2.0
    # None accepts any "Authorization: Key ..." header.
    key: str | None = None
    user_id: str = "emulator-user"
    webhook_retry_delays: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_DELAYS
    webhook_timeout: float = 10.0
    # Requests beyond this many wait IN_QUEUE, which makes queue positions and
    # cancelling a queued request observable.
    max_concurrent: int = 4


def base_url(host: str, port: int) -> str:
    return f"https://{host}:{port}"


def rest_url(host: str, port: int) -> str:
    """Value to assign to `fal_client.client.REST_URL` and `CDN_URL` to route uploads here."""
    return f"{base_url(host, port)}/rest"


def client_env(host: str, port: int, cert_dir: Path | str, key: str) -> dict[str, str]:
    """Env vars that point an unmodified fal-client (and a webhook verifier) at the emulator.

    fal-client reads them when it is first imported, so set them before that import.
    """
    return {
        "FAL_KEY": key,
        "FAL_RUN_HOST": f"{host}:{port}/run",
        "FAL_QUEUE_RUN_HOST": f"{host}:{port}/queue",
        "SSL_CERT_FILE": str(Path(cert_dir) / "bundle.pem"),
        "FAL_JWKS_URL": f"{rest_url(host, port)}/.well-known/jwks.json",
    }

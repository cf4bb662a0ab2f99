"""Command line: `python -m imagegen_fal_emulator --port 8443 --cert-dir .fal-emulator`."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from imagegen_fal_emulator.server import create_app
from imagegen_fal_emulator.settings import DEFAULT_WEBHOOK_RETRY_DELAYS, EmulatorSettings


def _delays(value: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated seconds, got {value!r}") from exc
    if any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError("delays must not be negative")
    return delays


def parse_args(argv: list[str] | None = None) -> tuple[EmulatorSettings, str]:
    parser = argparse.ArgumentParser(
        prog="python -m imagegen_fal_emulator",
        description="Local fal.ai emulator (queue, run, storage, webhooks) over TLS.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--cert-dir", type=Path, required=True, help="CA, server cert, keys")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds IN_PROGRESS")
    parser.add_argument("--key", default=None, help="required FAL_KEY (default: any)")
    parser.add_argument("--user-id", default="emulator-user", help="webhook user id")
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=DEFAULT_WEBHOOK_RETRY_DELAYS,
        help='seconds between webhook attempts, e.g. "0.5,1,2,4"',
    )
    parser.add_argument("--webhook-timeout", type=float, default=10.0)
    parser.add_argument("--max-concurrent", type=int, default=4, help="requests IN_PROGRESS")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    settings = EmulatorSettings(
        cert_dir=args.cert_dir,
        host=args.host,
        port=args.port,
        latency=args.latency,
        key=args.key,
        user_id=args.user_id,
        webhook_retry_delays=args.webhook_retry_delays,
        webhook_timeout=args.webhook_timeout,
        max_concurrent=args.max_concurrent,
    )
    return settings, args.log_level


def serve(settings: EmulatorSettings, log_level: str = "warning") -> None:
    """Run the emulator until interrupted."""
    app = create_app(settings)
    tls = app.state.emulator.tls
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(tls.server_cert),
        ssl_keyfile=str(tls.server_key),
        log_level=log_level,
        # Closing an idle TLS keep-alive connection waits up to 30 s for the peer's
        # close_notify; a dev tool should stop promptly instead.
        timeout_graceful_shutdown=2,
    )


def main(argv: list[str] | None = None) -> None:
    settings, log_level = parse_args(argv)
    serve(settings, log_level)

"""The whole system on one machine: infrastructure, the fal emulator and the five services (with
the generation worker, the gateway's webhook delivery and storage's cleanup beside them).

`make run` and the end-to-end tests both start it through LocalStack, so the tests exercise the
same wiring a developer runs.
"""

import asyncio
import importlib
import json
import os
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from imagegen_fal_emulator.settings import client_env
from imagegen_gateway.config import GatewaySettings
from imagegen_gateway.entrypoints import admin

from imagegen_devstack import checkout
from imagegen_devstack.infra import (
    ManagedProcess,
    NatsServer,
    PostgresServer,
    S3Server,
    free_port,
    tcp_is_open,
    wait_for_http,
)

DATABASE = "imagegen"
FAL_KEY = "local-id:local-secret"
# Local Stripe defaults, overridable from the environment: sign test events with this secret and
# name these prices in them (see the README's Stripe section).
STRIPE_DEFAULTS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_imagegen_local",
    "STRIPE_PRICE_BASIC": "price_local_basic",
    "STRIPE_PRICE_PRO": "price_local_pro",
    "STRIPE_PRICE_ENTERPRISE": "price_local_enterprise",
}
# Encrypts webhook endpoints' signing secrets at rest (a Fernet key); local development only.
WEBHOOK_SECRETS_KEY = "aW1hZ2VnZW4tbG9jYWwtd2ViaG9vay1zZWNyZXRzISE="
# Services migrate in this order; each owns one schema.
MIGRATING_SERVICES = ("credits", "models", "storage", "generation", "gateway")


@dataclass(frozen=True)
class StackPorts:
    gateway: int = 8080
    gateway_health: int = 50050
    models: int = 50051
    generation: int = 50052
    credits: int = 50053
    storage: int = 50054
    generation_worker: int = 50055
    # gRPC health of the gateway's deliver-webhooks process.
    webhook_delivery: int = 50056
    postgres: int = 15432
    nats: int = 14222
    nats_monitor: int = 18222
    s3: int = 19000
    fal: int = 18443
    # The stand-in for Stripe's hosted Checkout that the web app's upgrade buttons lead to.
    stripe_checkout: int = 18444
    # Prometheus /metrics of each gRPC process (the gateway serves its own on its HTTP port).
    models_metrics: int = 19101
    generation_metrics: int = 19102
    credits_metrics: int = 19103
    storage_metrics: int = 19104
    generation_worker_metrics: int = 19105
    webhook_delivery_metrics: int = 19106

    @classmethod
    def free(cls) -> "StackPorts":
        return cls(**{name: free_port() for name in cls.__dataclass_fields__})


@dataclass
class StackOptions:
    # Seconds the emulated provider spends on each request.
    fal_latency: float = 2.0
    # Use these instead of starting our own Postgres or NATS.
    external_database_url: str | None = None
    external_nats_url: str | None = None
    # fsync off and friends: for throwaway test databases only.
    fast_postgres: bool = False
    log_level: str = "INFO"
    extra_env: dict[str, str] = field(default_factory=dict)


def migrate_all(database_url: str) -> None:
    """Every service migrates its own schema, as its `migrate` command does."""
    for service in MIGRATING_SERVICES:
        importlib.import_module(f"imagegen_{service}.__main__").migrate(database_url)


class LocalStack:
    def __init__(self, state_dir: Path, ports: StackPorts, options: StackOptions | None = None) -> None:
        self.state_dir = state_dir
        self.ports = ports
        self.options = options or StackOptions()
        self.logs_dir = state_dir / "logs"
        self.cert_dir = state_dir / "fal-certs"
        self.postgres: PostgresServer | None = None
        self.nats: NatsServer | None = None
        self.s3 = S3Server(ports.s3, log_path=self.logs_dir / "s3.log")
        self.processes: list[ManagedProcess] = []
        # How each process was started, so it can be started again.
        self._commands: dict[str, tuple[list[str], dict[str, str]]] = {}

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def metrics_urls(self) -> dict[str, str]:
        """Every process's Prometheus endpoint, by process name."""
        ports = self.ports
        return {
            "gateway": f"{self.gateway_url}/metrics",
            **{
                name: f"http://127.0.0.1:{getattr(ports, name.replace('-', '_') + '_metrics')}/metrics"
                for name in (
                    "models",
                    "generation",
                    "generation-worker",
                    "credits",
                    "storage",
                    "webhook-delivery",
                )
            },
        }

    @property
    def database_url(self) -> str:
        if self.options.external_database_url:
            return self.options.external_database_url
        assert self.postgres is not None
        return self.postgres.dsn(DATABASE)

    @property
    def nats_url(self) -> str:
        if self.options.external_nats_url:
            return self.options.external_nats_url
        assert self.nats is not None
        return self.nats.url

    def env(self) -> dict[str, str]:
        """Configuration of every service; each reads only its own prefix."""
        ports = self.ports
        fal = client_env("127.0.0.1", ports.fal, self.cert_dir, FAL_KEY)
        addr = {
            name: f"127.0.0.1:{getattr(ports, name)}"
            for name in ("models", "generation", "credits", "storage")
        }
        env = {
            # fal-client reads FAL_*; httpx everywhere trusts SSL_CERT_FILE, which adds the emulator's CA.
            "FAL_KEY": fal["FAL_KEY"],
            "FAL_RUN_HOST": fal["FAL_RUN_HOST"],
            "FAL_QUEUE_RUN_HOST": fal["FAL_QUEUE_RUN_HOST"],
            "SSL_CERT_FILE": fal["SSL_CERT_FILE"],
            "NO_PROXY": "127.0.0.1,localhost",
            "GATEWAY_HTTP_PORT": str(ports.gateway),
            "GATEWAY_GRPC_PORT": str(ports.gateway_health),
            "GATEWAY_DATABASE_URL": self.database_url,
            "GATEWAY_MODELS_ADDR": addr["models"],
            "GATEWAY_GENERATION_ADDR": addr["generation"],
            "GATEWAY_CREDITS_ADDR": addr["credits"],
            "GATEWAY_STORAGE_ADDR": addr["storage"],
            "GATEWAY_FAL_JWKS_URL": fal["FAL_JWKS_URL"],
            # The web app: images and uploads come from the local S3, upgrades go to the stand-in.
            "GATEWAY_WEB_MEDIA_ORIGINS": json.dumps([self.s3.endpoint_url]),
            "GATEWAY_WEB_CHECKOUT_LINKS": json.dumps(checkout.links(ports.stripe_checkout)),
            "STORAGE_CORS_ALLOWED_ORIGINS": json.dumps([self.gateway_url]),
            # deliver-webhooks: events from NATS, to endpoints a developer runs on this machine.
            "GATEWAY_NATS_URL": self.nats_url,
            "GATEWAY_WEBHOOK_SECRETS_KEY": WEBHOOK_SECRETS_KEY,
            "GATEWAY_WEBHOOK_ALLOW_HTTP": "true",
            "GATEWAY_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8", "::1/128"]',
            "GATEWAY_WEBHOOK_DELIVERY_HEALTH_PORT": str(ports.webhook_delivery),
            "GATEWAY_WEBHOOK_DELIVERY_METRICS_PORT": str(ports.webhook_delivery_metrics),
            "MODELS_GRPC_PORT": str(ports.models),
            "MODELS_DATABASE_URL": self.database_url,
            "MODELS_NATS_URL": self.nats_url,
            "MODELS_STORAGE_ADDR": addr["storage"],
            "MODELS_GENERATION_ADDR": addr["generation"],
            "CREDITS_GRPC_PORT": str(ports.credits),
            "CREDITS_DATABASE_URL": self.database_url,
            "CREDITS_NATS_URL": self.nats_url,
            "STORAGE_GRPC_PORT": str(ports.storage),
            "STORAGE_DATABASE_URL": self.database_url,
            "STORAGE_S3_ENDPOINT_URL": self.s3.endpoint_url,
            "STORAGE_AWS_ACCESS_KEY_ID": "local",
            "STORAGE_AWS_SECRET_ACCESS_KEY": "local-secret",
            # The emulator's result files are on loopback, which production storage refuses to fetch.
            "STORAGE_FETCH_ALLOWED_NETWORKS": '["127.0.0.0/8", "::1/128"]',
            # `storage cleanup` runs beside the services and removes expired files every minute.
            "STORAGE_CLEANUP_EVERY_SECONDS": "60",
            "GENERATION_GRPC_PORT": str(ports.generation),
            "GENERATION_WORKER_HEALTH_PORT": str(ports.generation_worker),
            "GENERATION_DATABASE_URL": self.database_url,
            "GENERATION_NATS_URL": self.nats_url,
            "GENERATION_MODELS_ADDR": addr["models"],
            "GENERATION_CREDITS_ADDR": addr["credits"],
            "GENERATION_STORAGE_ADDR": addr["storage"],
            "GENERATION_FAL_KEY": FAL_KEY,
            "GENERATION_WEBHOOK_BASE_URL": self.gateway_url,
            "MODELS_METRICS_PORT": str(ports.models_metrics),
            "GENERATION_METRICS_PORT": str(ports.generation_metrics),
            "GENERATION_WORKER_METRICS_PORT": str(ports.generation_worker_metrics),
            "CREDITS_METRICS_PORT": str(ports.credits_metrics),
            "STORAGE_METRICS_PORT": str(ports.storage_metrics),
        }
        env.update({name: os.environ.get(name, default) for name, default in STRIPE_DEFAULTS.items()})
        for prefix in ("GATEWAY", "MODELS", "CREDITS", "STORAGE", "GENERATION"):
            env[f"{prefix}_LOG_LEVEL"] = self.options.log_level
        return {**env, **self.options.extra_env}

    def _process_env(self) -> dict[str, str]:
        return {**os.environ, **self.env()}

    def start(self) -> None:
        try:
            self._start_infrastructure()
            migrate_all(self.database_url)
            self._start_services()
        except BaseException:
            self.stop()
            raise

    def _start_infrastructure(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if not self.options.external_database_url:
            self.postgres = PostgresServer(
                self.state_dir / "postgres", self.ports.postgres, fast=self.options.fast_postgres
            )
            self.postgres.start()
            self.postgres.create_database(DATABASE)
        if not self.options.external_nats_url:
            self.nats = NatsServer(
                self.state_dir / "nats",
                self.ports.nats,
                self.ports.nats_monitor,
                log_path=self.logs_dir / "nats.log",
            )
            self.nats.start()
        self.s3.start()
        emulator = self._spawn(
            "fal-emulator",
            [
                "-m",
                "imagegen_fal_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports.fal),
                "--cert-dir",
                str(self.cert_dir),
                "--latency",
                str(self.options.fal_latency),
                "--key",
                FAL_KEY,
            ],
        )
        emulator.wait_ready(lambda: tcp_is_open("127.0.0.1", self.ports.fal), timeout=30)
        wait_for_http(
            f"https://127.0.0.1:{self.ports.fal}/health",
            timeout=10,
            verify=ssl.create_default_context(cafile=self.cert_dir / "ca.pem"),
        )

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(
            name,
            [sys.executable, *args],
            self.logs_dir / f"{name}.log",
            env={**self._process_env(), **(env or {})},
        )
        process.start()
        self.processes.append(process)
        self._commands[name] = (args, env or {})
        return process

    def process(self, name: str) -> ManagedProcess:
        return next(process for process in reversed(self.processes) if process.name == name)

    def restart(self, name: str) -> ManagedProcess:
        """Start a process again as it was first started (same ports), after it stopped or was killed."""
        old = self.process(name)
        old.stop()
        self.processes.remove(old)
        args, env = self._commands[name]
        return self._spawn(name, args, env)

    def start_worker(self, name: str) -> ManagedProcess:
        """One more generation worker, as another replica would be (its own health and metrics ports)."""
        health = free_port()
        worker = self._spawn(
            name,
            ["-m", "imagegen_generation", "worker"],
            {
                "GENERATION_WORKER_HEALTH_PORT": str(health),
                "GENERATION_WORKER_METRICS_PORT": str(free_port()),
            },
        )
        worker.wait_ready(lambda: tcp_is_open("127.0.0.1", health), timeout=60)
        return worker

    def _start_services(self) -> None:
        services = [
            ("models", ["-m", "imagegen_models", "serve"], self.ports.models),
            ("credits", ["-m", "imagegen_credits", "serve"], self.ports.credits),
            ("storage", ["-m", "imagegen_storage", "serve"], self.ports.storage),
            ("generation", ["-m", "imagegen_generation", "serve"], self.ports.generation),
            (
                "generation-worker",
                ["-m", "imagegen_generation", "worker"],
                self.ports.generation_worker,
            ),
            ("gateway", ["-m", "imagegen_gateway", "serve"], self.ports.gateway),
            (
                "webhook-delivery",
                ["-m", "imagegen_gateway", "deliver-webhooks"],
                self.ports.webhook_delivery,
            ),
        ]
        started = [(self._spawn(name, args), port) for name, args, port in services]
        for process, port in started:
            process.wait_ready(lambda port=port: tcp_is_open("127.0.0.1", port), timeout=60)
        # Retention's second layer (the first is the bucket's lifecycle rule); it listens on nothing.
        self._spawn("storage-cleanup", ["-m", "imagegen_storage", "cleanup"])
        self._spawn(
            "stripe-checkout",
            [
                "-m",
                "imagegen_devstack.checkout",
                "--port",
                str(self.ports.stripe_checkout),
                "--gateway",
                self.gateway_url,
            ],
        )

    def create_team(self, name: str, plan: str) -> dict[str, str]:
        """What `imagegen-admin create-team` does, in this process (a thread with its own event loop,
        so callers inside a running loop can use it too)."""
        env = self.env()
        settings = GatewaySettings(
            database_url=env["GATEWAY_DATABASE_URL"],
            models_addr=env["GATEWAY_MODELS_ADDR"],
            generation_addr=env["GATEWAY_GENERATION_ADDR"],
            credits_addr=env["GATEWAY_CREDITS_ADDR"],
            storage_addr=env["GATEWAY_STORAGE_ADDR"],
        )
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(asyncio.run, admin.create_team(settings, name, plan)).result()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        self.s3.stop()
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()


def create_team(env: dict[str, str], name: str, plan: str) -> dict[str, str]:
    """Runs the admin CLI with a stack's configuration; returns {"teamId", "apiKey"}."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagegen_gateway.entrypoints.admin",
            "create-team",
            "--name",
            name,
            "--plan",
            plan,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"creating team {name} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])

"""`python -m imagegen_devstack run` (make run) and `python -m imagegen_devstack team` (make team).

`run` keeps everything under one state folder (.local/ by default): Postgres data, JetStream
store, logs, the emulator's certificates, the demo team and the running stack's configuration,
which `team` reads to reach it. IMAGEGEN_DATABASE_URL / IMAGEGEN_NATS_URL point it at a Postgres
or NATS that already runs instead of starting its own.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from imagegen_devstack.stack import LocalStack, StackOptions, StackPorts, create_team

RUNNING_FILE = "running.json"
DEMO_TEAM_FILE = "demo-team.json"


def _demo_team(stack: LocalStack, state_dir: Path) -> dict[str, str]:
    """The demo team of an earlier run if its key still works (the data persists), else a new one."""
    saved = state_dir / DEMO_TEAM_FILE
    if saved.exists():
        team = json.loads(saved.read_text())
        response = httpx.get(
            f"{stack.gateway_url}/api/credits/balance",
            headers={"Authorization": f"Bearer {team['apiKey']}"},
            timeout=10,
        )
        if response.status_code == 200:
            return team
    team = stack.create_team("demo", "pro")
    saved.write_text(json.dumps(team))
    return team


def run(state_dir: Path, ports: StackPorts, latency: float) -> None:
    options = StackOptions(
        fal_latency=latency,
        external_database_url=os.environ.get("IMAGEGEN_DATABASE_URL"),
        external_nats_url=os.environ.get("IMAGEGEN_NATS_URL"),
    )
    stack = LocalStack(state_dir, ports, options)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"starting imagegen (state and logs in {state_dir}) ...", flush=True)
    stack.start()
    try:
        (state_dir / RUNNING_FILE).write_text(json.dumps({"env": stack.env()}))
        team = _demo_team(stack, state_dir)
        print(
            f"\nimagegen is up.\n"
            f"  web app:   {stack.gateway_url}/  (sign up there, or use the team below)\n"
            f"  gateway:   {stack.gateway_url}  (API docs at {stack.gateway_url}/docs)\n"
            f"  demo team: {team['teamId']} on the pro plan\n"
            f"  API key:   {team['apiKey']}\n"
            f"  logs:      {stack.logs_dir}\n\n"
            f"Try:\n  export KEY={team['apiKey']}\n"
            f'  curl -H "Authorization: Bearer $KEY" {stack.gateway_url}/api/credits/balance\n\n'
            "Ctrl-C stops everything.",
            flush=True,
        )
        while not stopping.wait(1.0):
            for process in stack.processes:
                if not process.is_running:
                    print(
                        f"{process.name} exited; see {process.log_path}",
                        file=sys.stderr,
                        flush=True,
                    )
                    stopping.set()
    finally:
        print("\nstopping imagegen ...", flush=True)
        (state_dir / RUNNING_FILE).unlink(missing_ok=True)
        stack.stop()


def running_env(state_dir: Path) -> dict[str, str]:
    """The configuration of the system `make run` started, to reach it from another command."""
    running = state_dir / RUNNING_FILE
    if not running.exists():
        sys.exit("imagegen is not running: start it with `make run` first")
    return {**os.environ, **json.loads(running.read_text())["env"]}


def team(state_dir: Path, name: str, plan: str) -> None:
    print(json.dumps(create_team(running_env(state_dir), name, plan)))


def check_ledger(state_dir: Path) -> None:
    command = [sys.executable, "-m", "imagegen_credits", "check-ledger"]
    sys.exit(subprocess.run(command, env=running_env(state_dir)).returncode)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m imagegen_devstack")
    parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the whole system until Ctrl-C")
    run_parser.add_argument("--gateway-port", type=int, default=StackPorts.gateway)
    run_parser.add_argument("--fal-latency", type=float, default=2.0)
    team_parser = commands.add_parser("team", help="create a team on the running system")
    team_parser.add_argument("--name", required=True)
    team_parser.add_argument("--plan", choices=["free", "basic", "pro", "enterprise"], default="free")
    commands.add_parser("check-ledger", help="check every balance against the ledger on the running system")
    args = parser.parse_args()
    state_dir = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        run(state_dir, StackPorts(gateway=args.gateway_port), args.fal_latency)
    elif args.command == "team":
        team(state_dir, args.name, args.plan)
    else:
        check_ledger(state_dir)


if __name__ == "__main__":
    main()

"""`imagegen-admin create-team --name NAME --plan PLAN`: a team, its credit account and an API key.

Prints one line of JSON, {"teamId": ..., "apiKey": ...}; the key is shown only this once.
The key has every scope (read, generate, train, billing, admin), so it can make the team's other
keys through `POST /api/keys`.
"""

import argparse
import asyncio
import json

from imagegen.credits.v1 import credits_service_pb2_grpc
from imagegen_platform import db
from imagegen_platform.grpc_client import open_channel

from imagegen_gateway.adapters import api_keys, teams
from imagegen_gateway.config import GatewaySettings


async def create_team(settings: GatewaySettings, name: str, plan: str) -> dict[str, str]:
    engine = db.create_engine(settings.database_url, pool_size=1)
    channel = open_channel(settings.credits_addr, settings.rpc_timeout_seconds)
    try:
        credits = credits_service_pb2_grpc.CreditsServiceStub(channel)
        team_id = await teams.create_team(engine, credits, name, plan)
        key = await api_keys.create_key(engine, team_id, "admin", api_keys.SCOPES)
        return {"teamId": team_id, "apiKey": key.secret}
    finally:
        await channel.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="imagegen-admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-team", help="create a team with a plan and print an API key")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", choices=sorted(teams.PLANS), default="free")
    args = parser.parse_args()
    result = asyncio.run(create_team(GatewaySettings(), args.name, args.plan))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

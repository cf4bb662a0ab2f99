"""gRPC stubs of the services the gateway calls, on channels opened once per process."""

from dataclasses import dataclass

import grpc
from imagegen.credits.v1 import credits_service_pb2_grpc
from imagegen.generation.v1 import generation_service_pb2_grpc
from imagegen.models.v1 import models_service_pb2_grpc
from imagegen.storage.v1 import storage_service_pb2_grpc
from imagegen_platform.grpc_client import open_channel

from imagegen_gateway.config import GatewaySettings


@dataclass
class Services:
    models: models_service_pb2_grpc.ModelsServiceStub
    generation: generation_service_pb2_grpc.GenerationServiceStub
    credits: credits_service_pb2_grpc.CreditsServiceStub
    storage: storage_service_pb2_grpc.StorageServiceStub
    channels: list[grpc.aio.Channel]

    @classmethod
    def connect(cls, settings: GatewaySettings) -> "Services":
        timeout = settings.rpc_timeout_seconds
        models, generation, credits, storage = (
            open_channel(address, timeout)
            for address in (
                settings.models_addr,
                settings.generation_addr,
                settings.credits_addr,
                settings.storage_addr,
            )
        )
        return cls(
            models=models_service_pb2_grpc.ModelsServiceStub(models),
            generation=generation_service_pb2_grpc.GenerationServiceStub(generation),
            credits=credits_service_pb2_grpc.CreditsServiceStub(credits),
            storage=storage_service_pb2_grpc.StorageServiceStub(storage),
            channels=[models, generation, credits, storage],
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()

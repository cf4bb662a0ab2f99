"""GenerationService over gRPC: translates between wire messages and the handlers."""

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from imagegen.generation.v1 import (
    generation_pb2,
    generation_service_pb2,
    generation_service_pb2_grpc,
)
from imagegen_platform.errors import InvalidArgument

from imagegen_generation.domain.jobs import (
    ImageGenerationRequest,
    JobStatus,
    JobType,
    KeySpend,
    ModelTrainingRequest,
)
from imagegen_generation.service_layer import deliveries, handlers
from imagegen_generation.service_layer.handlers import JobView

# The longest range one usage query may cover.
MAX_USAGE_DAYS = 366
_STATUS = {status: getattr(generation_pb2, f"JOB_STATUS_{status.name}") for status in JobStatus}


def _timestamp(value) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def job_message(view: JobView) -> generation_pb2.Job:
    row = view.row
    job_type = JobType(row.type)
    request = row.input
    message = generation_pb2.Job(
        id=row.id,
        team_id=row.team_id,
        type=handlers.TYPE_TO_WIRE[job_type],
        status=_STATUS[JobStatus(row.status)],
        estimated_credits_hundredths=row.estimated_credits_hundredths,
        charged_credits_hundredths=row.charged_credits_hundredths,
        refunded_credits_hundredths=row.refunded_credits_hundredths,
        progress=row.progress,
        images=[
            generation_pb2.JobImage(
                file_id=image.file_id,
                width=image.width,
                height=image.height,
                content_type=image.content_type,
                nsfw=image.nsfw,
            )
            for image in view.images
        ],
        created_at=_timestamp(row.created_at),
        started_at=_timestamp(row.started_at),
        finished_at=_timestamp(row.finished_at),
        queue_position=view.queue_position or 0,
        estimated_start_at=_timestamp(view.estimated_start_at),
        attempts=row.attempts,
        priority=row.priority,
    )
    if job_type.is_training:
        message.model_training.CopyFrom(handlers.training_message(request))
        if row.output:
            message.training_output.CopyFrom(generation_pb2.TrainingOutput(**row.output))
    else:
        # The stored input is the request's fields by their wire names (an unset seed is None).
        message.image_generation.CopyFrom(generation_pb2.ImageGenerationInput(**request))
    if row.error_code:
        message.error.CopyFrom(generation_pb2.JobError(code=row.error_code, message=row.error_message or ""))
    return message


def image_request(given: generation_pb2.ImageGenerationInput) -> ImageGenerationRequest:
    return ImageGenerationRequest(
        reference_model_id=given.reference_model_id,
        prompt=given.prompt,
        resolution=given.resolution,
        quality=given.quality,
        num_images=given.num_images,
        seed=given.seed if given.HasField("seed") else None,
        custom_model_id=given.custom_model_id,
        model_version=given.model_version,
    )


def training_request(given: generation_pb2.ModelTrainingInput) -> ModelTrainingRequest:
    return ModelTrainingRequest(
        custom_model_id=given.custom_model_id,
        model_version=given.model_version,
        reference_model_id=given.reference_model_id,
        trigger_word=given.trigger_word,
        training_steps=given.training_steps,
        num_training_images=given.num_training_images,
        training_zip_file_id=given.training_zip_file_id,
        starting_weights_file_id=given.starting_weights_file_id,
        iteration=given.iteration,
        files_owner_id=given.files_owner_id,
    )


def key_spend(request) -> KeySpend | None:
    if not request.HasField("key_spend") or not request.key_spend.api_key_id:
        return None
    given = request.key_spend
    cap = given.monthly_cap_hundredths if given.HasField("monthly_cap_hundredths") else None
    return KeySpend(given.api_key_id, cap)


_TYPE_FROM_WIRE = {wire: job_type for job_type, wire in handlers.TYPE_TO_WIRE.items()}


class GenerationServicer(generation_service_pb2_grpc.GenerationServiceServicer):
    def __init__(self, generation: handlers.Generation) -> None:
        self.generation = generation
        # Deliveries being recorded after their answer; held so they are not garbage-collected.
        self._recording: set[asyncio.Task] = set()

    async def CreateImageGenerationJob(self, request, context: grpc.aio.ServicerContext):
        """Quote, reserve and queue an image generation."""
        view = await handlers.create_image_job(
            self.generation,
            request.team_id,
            image_request(request.input),
            request.idempotency_key or None,
            request.priority,
            key_spend(request),
        )
        return generation_service_pb2.CreateImageGenerationJobResponse(job=job_message(view))

    async def CreateModelTrainingJob(self, request, context: grpc.aio.ServicerContext):
        """Quote, reserve and queue the training of a model version."""
        view = await handlers.create_training_job(
            self.generation,
            request.team_id,
            training_request(request.input),
            complexity_hundredths=request.complexity_hundredths,
            training_endpoint=request.training_endpoint,
            starting_weights_parameter=request.starting_weights_parameter,
            idempotency_key=request.idempotency_key or None,
            priority=request.priority,
            key_spend=key_spend(request),
        )
        return generation_service_pb2.CreateModelTrainingJobResponse(job=job_message(view))

    async def EstimateCost(self, request, context: grpc.aio.ServicerContext):
        """Price an operation as creating its job would, without creating anything."""
        match request.WhichOneof("operation"):
            case "image_generation":
                priced = await handlers.price_image_job(
                    self.generation,
                    request.team_id,
                    image_request(request.image_generation),
                    require_prompt=False,
                )
                quote = priced.quote
            case "model_creation":
                quote = await handlers.quote_model_creation(
                    self.generation,
                    request.model_creation.reference_model_id,
                    request.model_creation.num_training_images,
                )
            case "model_refinement":
                quote = await handlers.quote_model_refinement(
                    self.generation,
                    request.model_refinement.team_id or request.team_id,
                    request.model_refinement.custom_model_id,
                )
            case _:
                raise InvalidArgument("invalid_operation", "name the operation to estimate")
        return generation_service_pb2.EstimateCostResponse(
            amount_hundredths=quote.amount_hundredths,
            pricing_version=quote.pricing_version,
            breakdown=quote.breakdown,
        )

    async def GetJob(self, request, context: grpc.aio.ServicerContext):
        """Return one of a team's jobs."""
        view = await handlers.get_job(self.generation.engine, request.team_id, request.job_id)
        return generation_service_pb2.GetJobResponse(job=job_message(view))

    async def ListJobs(self, request, context: grpc.aio.ServicerContext):
        """Page through a team's jobs, newest first."""
        if not 0 <= request.page_size <= 100:
            raise InvalidArgument("invalid_page_size", "limit must be between 1 and 100")
        statuses = {wire: status for status, wire in _STATUS.items()}
        if any(status not in statuses for status in request.statuses) or any(
            kind not in _TYPE_FROM_WIRE for kind in request.types
        ):
            raise InvalidArgument("invalid_filter", "unknown job status or type")
        views, cursor = await handlers.list_jobs(
            self.generation.engine,
            request.team_id,
            handlers.JobFilter(
                statuses=[statuses[status] for status in request.statuses],
                types=[_TYPE_FROM_WIRE[kind] for kind in request.types],
                reference_model_id=request.reference_model_id
                if request.HasField("reference_model_id")
                else None,
                custom_model_id=request.custom_model_id if request.HasField("custom_model_id") else None,
                created_after=request.created_after.ToDatetime(tzinfo=UTC)
                if request.HasField("created_after")
                else None,
                created_before=(
                    request.created_before.ToDatetime(tzinfo=UTC)
                    if request.HasField("created_before")
                    else None
                ),
            ),
            request.page_size or 20,
            request.page_token or None,
        )
        return generation_service_pb2.ListJobsResponse(
            jobs=[job_message(view) for view in views], next_page_token=cursor or ""
        )

    async def ListKeyUsage(self, request, context: grpc.aio.ServicerContext):
        """Sum the team's jobs by API key, UTC day and model (the last 30 days unless a range is given)."""
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else datetime.now(UTC)
        since = (
            request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else until - timedelta(days=30)
        )
        if since >= until or until - since > timedelta(days=MAX_USAGE_DAYS):
            raise InvalidArgument(
                "invalid_range", f"since must be before until, at most {MAX_USAGE_DAYS} days apart"
            )
        rows = await handlers.key_usage(
            self.generation.engine, request.team_id, request.api_key_id or None, since, until
        )
        return generation_service_pb2.ListKeyUsageResponse(
            usages=[
                generation_service_pb2.KeyUsage(
                    api_key_id=row.api_key_id,
                    day=row.day,
                    reference_model_id=row.reference_model_id,
                    custom_model_id=row.custom_model_id,
                    jobs=row.jobs,
                    charged_hundredths=row.charged_hundredths,
                    reserved_hundredths=row.reserved_hundredths,
                )
                for row in rows
            ]
        )

    async def CancelJob(self, request, context: grpc.aio.ServicerContext):
        """Cancel a queued or running job and release its credits; repeats return the cancelled job."""
        view = await handlers.cancel_job(self.generation, request.team_id, request.job_id)
        return generation_service_pb2.CancelJobResponse(job=job_message(view))

    async def RecordProviderDelivery(self, request, context: grpc.aio.ServicerContext):
        """Store a provider's verified terminal report once, and record it for its job right after
        answering (the worker retries what this process could not finish)."""
        if (
            request.outcome == generation_service_pb2.PROVIDER_OUTCOME_UNSPECIFIED
            or not request.provider_request_id
        ):
            raise InvalidArgument("invalid_provider_report", "provider_request_id and outcome are required")
        delivery = await deliveries.store(
            self.generation,
            request.provider_request_id,
            request.outcome == generation_service_pb2.PROVIDER_OUTCOME_OK,
            request.payload_json,
            request.error,
        )
        if delivery is not None:
            # The task inherits this call's context, so its spans and logs stay in the job's trace.
            task = asyncio.create_task(deliveries.record(self.generation, delivery))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
        return generation_service_pb2.RecordProviderDeliveryResponse(duplicate=delivery is None)

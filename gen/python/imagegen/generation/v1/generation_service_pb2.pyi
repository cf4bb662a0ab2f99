import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from imagegen.generation.v1 import generation_pb2 as _generation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProviderOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROVIDER_OUTCOME_UNSPECIFIED: _ClassVar[ProviderOutcome]
    PROVIDER_OUTCOME_OK: _ClassVar[ProviderOutcome]
    PROVIDER_OUTCOME_ERROR: _ClassVar[ProviderOutcome]
PROVIDER_OUTCOME_UNSPECIFIED: ProviderOutcome
PROVIDER_OUTCOME_OK: ProviderOutcome
PROVIDER_OUTCOME_ERROR: ProviderOutcome

class CreateImageGenerationJobRequest(_message.Message):
    __slots__ = ("team_id", "input", "idempotency_key", "priority", "key_spend")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEND_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    input: _generation_pb2.ImageGenerationInput
    idempotency_key: str
    priority: int
    key_spend: _generation_pb2.KeySpend
    def __init__(self, team_id: _Optional[str] = ..., input: _Optional[_Union[_generation_pb2.ImageGenerationInput, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., priority: _Optional[int] = ..., key_spend: _Optional[_Union[_generation_pb2.KeySpend, _Mapping]] = ...) -> None: ...

class CreateImageGenerationJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _generation_pb2.Job
    def __init__(self, job: _Optional[_Union[_generation_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("team_id", "job_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    job_id: str
    def __init__(self, team_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _generation_pb2.Job
    def __init__(self, job: _Optional[_Union[_generation_pb2.Job, _Mapping]] = ...) -> None: ...

class RecordProviderDeliveryRequest(_message.Message):
    __slots__ = ("provider_request_id", "outcome", "payload_json", "error")
    PROVIDER_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    provider_request_id: str
    outcome: ProviderOutcome
    payload_json: bytes
    error: str
    def __init__(self, provider_request_id: _Optional[str] = ..., outcome: _Optional[_Union[ProviderOutcome, str]] = ..., payload_json: _Optional[bytes] = ..., error: _Optional[str] = ...) -> None: ...

class RecordProviderDeliveryResponse(_message.Message):
    __slots__ = ("duplicate",)
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    duplicate: bool
    def __init__(self, duplicate: _Optional[bool] = ...) -> None: ...

class CreateModelTrainingJobRequest(_message.Message):
    __slots__ = ("team_id", "input", "complexity_hundredths", "training_endpoint", "starting_weights_parameter", "idempotency_key", "priority", "key_spend")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    STARTING_WEIGHTS_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEND_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    input: _generation_pb2.ModelTrainingInput
    complexity_hundredths: int
    training_endpoint: str
    starting_weights_parameter: str
    idempotency_key: str
    priority: int
    key_spend: _generation_pb2.KeySpend
    def __init__(self, team_id: _Optional[str] = ..., input: _Optional[_Union[_generation_pb2.ModelTrainingInput, _Mapping]] = ..., complexity_hundredths: _Optional[int] = ..., training_endpoint: _Optional[str] = ..., starting_weights_parameter: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., priority: _Optional[int] = ..., key_spend: _Optional[_Union[_generation_pb2.KeySpend, _Mapping]] = ...) -> None: ...

class CreateModelTrainingJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _generation_pb2.Job
    def __init__(self, job: _Optional[_Union[_generation_pb2.Job, _Mapping]] = ...) -> None: ...

class ModelCreationEstimateInput(_message.Message):
    __slots__ = ("reference_model_id", "num_training_images")
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_TRAINING_IMAGES_FIELD_NUMBER: _ClassVar[int]
    reference_model_id: int
    num_training_images: int
    def __init__(self, reference_model_id: _Optional[int] = ..., num_training_images: _Optional[int] = ...) -> None: ...

class ModelRefinementEstimateInput(_message.Message):
    __slots__ = ("team_id", "custom_model_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    custom_model_id: int
    def __init__(self, team_id: _Optional[str] = ..., custom_model_id: _Optional[int] = ...) -> None: ...

class EstimateCostRequest(_message.Message):
    __slots__ = ("image_generation", "model_creation", "model_refinement", "team_id")
    IMAGE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_CREATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_REFINEMENT_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    image_generation: _generation_pb2.ImageGenerationInput
    model_creation: ModelCreationEstimateInput
    model_refinement: ModelRefinementEstimateInput
    team_id: str
    def __init__(self, image_generation: _Optional[_Union[_generation_pb2.ImageGenerationInput, _Mapping]] = ..., model_creation: _Optional[_Union[ModelCreationEstimateInput, _Mapping]] = ..., model_refinement: _Optional[_Union[ModelRefinementEstimateInput, _Mapping]] = ..., team_id: _Optional[str] = ...) -> None: ...

class EstimateCostResponse(_message.Message):
    __slots__ = ("amount_hundredths", "pricing_version", "breakdown")
    class BreakdownEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AMOUNT_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    PRICING_VERSION_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    amount_hundredths: int
    pricing_version: int
    breakdown: _containers.ScalarMap[str, str]
    def __init__(self, amount_hundredths: _Optional[int] = ..., pricing_version: _Optional[int] = ..., breakdown: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("team_id", "statuses", "types", "reference_model_id", "custom_model_id", "created_after", "created_before", "page_size", "page_token")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    statuses: _containers.RepeatedScalarFieldContainer[_generation_pb2.JobStatus]
    types: _containers.RepeatedScalarFieldContainer[_generation_pb2.JobType]
    reference_model_id: int
    custom_model_id: int
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, team_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_generation_pb2.JobStatus, str]]] = ..., types: _Optional[_Iterable[_Union[_generation_pb2.JobType, str]]] = ..., reference_model_id: _Optional[int] = ..., custom_model_id: _Optional[int] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_generation_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_generation_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("team_id", "job_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    job_id: str
    def __init__(self, team_id: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _generation_pb2.Job
    def __init__(self, job: _Optional[_Union[_generation_pb2.Job, _Mapping]] = ...) -> None: ...

class ListKeyUsageRequest(_message.Message):
    __slots__ = ("team_id", "api_key_id", "since", "until")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    api_key_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, team_id: _Optional[str] = ..., api_key_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KeyUsage(_message.Message):
    __slots__ = ("api_key_id", "day", "reference_model_id", "custom_model_id", "jobs", "charged_hundredths", "reserved_hundredths")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    day: str
    reference_model_id: int
    custom_model_id: int
    jobs: int
    charged_hundredths: int
    reserved_hundredths: int
    def __init__(self, api_key_id: _Optional[str] = ..., day: _Optional[str] = ..., reference_model_id: _Optional[int] = ..., custom_model_id: _Optional[int] = ..., jobs: _Optional[int] = ..., charged_hundredths: _Optional[int] = ..., reserved_hundredths: _Optional[int] = ...) -> None: ...

class ListKeyUsageResponse(_message.Message):
    __slots__ = ("usages",)
    USAGES_FIELD_NUMBER: _ClassVar[int]
    usages: _containers.RepeatedCompositeFieldContainer[KeyUsage]
    def __init__(self, usages: _Optional[_Iterable[_Union[KeyUsage, _Mapping]]] = ...) -> None: ...

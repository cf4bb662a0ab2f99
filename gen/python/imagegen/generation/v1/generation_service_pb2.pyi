from imagegen.generation.v1 import generation_pb2 as _generation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
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
    __slots__ = ("team_id", "input")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    input: _generation_pb2.ImageGenerationInput
    def __init__(self, team_id: _Optional[str] = ..., input: _Optional[_Union[_generation_pb2.ImageGenerationInput, _Mapping]] = ...) -> None: ...

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

class CompleteProviderRequestRequest(_message.Message):
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

class CompleteProviderRequestResponse(_message.Message):
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

class EstimateCostRequest(_message.Message):
    __slots__ = ("image_generation", "model_creation")
    IMAGE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_CREATION_FIELD_NUMBER: _ClassVar[int]
    image_generation: _generation_pb2.ImageGenerationInput
    model_creation: ModelCreationEstimateInput
    def __init__(self, image_generation: _Optional[_Union[_generation_pb2.ImageGenerationInput, _Mapping]] = ..., model_creation: _Optional[_Union[ModelCreationEstimateInput, _Mapping]] = ...) -> None: ...

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

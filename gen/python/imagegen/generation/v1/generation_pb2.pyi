import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_TYPE_UNSPECIFIED: _ClassVar[JobType]
    JOB_TYPE_IMAGE_GENERATION: _ClassVar[JobType]
    JOB_TYPE_MODEL_CREATION: _ClassVar[JobType]
    JOB_TYPE_MODEL_REFINEMENT: _ClassVar[JobType]

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_COMPLETED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]
JOB_TYPE_UNSPECIFIED: JobType
JOB_TYPE_IMAGE_GENERATION: JobType
JOB_TYPE_MODEL_CREATION: JobType
JOB_TYPE_MODEL_REFINEMENT: JobType
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_COMPLETED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELLED: JobStatus

class ImageGenerationInput(_message.Message):
    __slots__ = ("reference_model_id", "prompt", "resolution", "quality", "num_images", "seed", "custom_model_id", "model_version")
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    reference_model_id: int
    prompt: str
    resolution: str
    quality: str
    num_images: int
    seed: int
    custom_model_id: int
    model_version: int
    def __init__(self, reference_model_id: _Optional[int] = ..., prompt: _Optional[str] = ..., resolution: _Optional[str] = ..., quality: _Optional[str] = ..., num_images: _Optional[int] = ..., seed: _Optional[int] = ..., custom_model_id: _Optional[int] = ..., model_version: _Optional[int] = ...) -> None: ...

class ModelTrainingInput(_message.Message):
    __slots__ = ("custom_model_id", "model_version", "reference_model_id", "trigger_word", "training_steps", "num_training_images", "training_zip_file_id", "starting_weights_file_id", "iteration", "files_owner_id")
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WORD_FIELD_NUMBER: _ClassVar[int]
    TRAINING_STEPS_FIELD_NUMBER: _ClassVar[int]
    NUM_TRAINING_IMAGES_FIELD_NUMBER: _ClassVar[int]
    TRAINING_ZIP_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTING_WEIGHTS_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    FILES_OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    custom_model_id: int
    model_version: int
    reference_model_id: int
    trigger_word: str
    training_steps: int
    num_training_images: int
    training_zip_file_id: str
    starting_weights_file_id: str
    iteration: int
    files_owner_id: str
    def __init__(self, custom_model_id: _Optional[int] = ..., model_version: _Optional[int] = ..., reference_model_id: _Optional[int] = ..., trigger_word: _Optional[str] = ..., training_steps: _Optional[int] = ..., num_training_images: _Optional[int] = ..., training_zip_file_id: _Optional[str] = ..., starting_weights_file_id: _Optional[str] = ..., iteration: _Optional[int] = ..., files_owner_id: _Optional[str] = ...) -> None: ...

class TrainingOutput(_message.Message):
    __slots__ = ("weights_file_id", "config_file_id")
    WEIGHTS_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    weights_file_id: str
    config_file_id: str
    def __init__(self, weights_file_id: _Optional[str] = ..., config_file_id: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class JobImage(_message.Message):
    __slots__ = ("file_id", "width", "height", "content_type", "nsfw")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    NSFW_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    width: int
    height: int
    content_type: str
    nsfw: bool
    def __init__(self, file_id: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., content_type: _Optional[str] = ..., nsfw: _Optional[bool] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "team_id", "type", "status", "image_generation", "estimated_credits_hundredths", "charged_credits_hundredths", "refunded_credits_hundredths", "progress", "error", "images", "created_at", "started_at", "finished_at", "queue_position", "attempts", "model_training", "training_output", "estimated_start_at", "priority")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_CREDITS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_CREDITS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_CREDITS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_TRAINING_FIELD_NUMBER: _ClassVar[int]
    TRAINING_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_START_AT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    team_id: str
    type: JobType
    status: JobStatus
    image_generation: ImageGenerationInput
    estimated_credits_hundredths: int
    charged_credits_hundredths: int
    refunded_credits_hundredths: int
    progress: float
    error: JobError
    images: _containers.RepeatedCompositeFieldContainer[JobImage]
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    queue_position: int
    attempts: int
    model_training: ModelTrainingInput
    training_output: TrainingOutput
    estimated_start_at: _timestamp_pb2.Timestamp
    priority: int
    def __init__(self, id: _Optional[str] = ..., team_id: _Optional[str] = ..., type: _Optional[_Union[JobType, str]] = ..., status: _Optional[_Union[JobStatus, str]] = ..., image_generation: _Optional[_Union[ImageGenerationInput, _Mapping]] = ..., estimated_credits_hundredths: _Optional[int] = ..., charged_credits_hundredths: _Optional[int] = ..., refunded_credits_hundredths: _Optional[int] = ..., progress: _Optional[float] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., images: _Optional[_Iterable[_Union[JobImage, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., queue_position: _Optional[int] = ..., attempts: _Optional[int] = ..., model_training: _Optional[_Union[ModelTrainingInput, _Mapping]] = ..., training_output: _Optional[_Union[TrainingOutput, _Mapping]] = ..., estimated_start_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., priority: _Optional[int] = ...) -> None: ...

class KeySpend(_message.Message):
    __slots__ = ("api_key_id", "monthly_cap_hundredths")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_CAP_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    monthly_cap_hundredths: int
    def __init__(self, api_key_id: _Optional[str] = ..., monthly_cap_hundredths: _Optional[int] = ...) -> None: ...

import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomModelStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOM_MODEL_STATUS_UNSPECIFIED: _ClassVar[CustomModelStatus]
    CUSTOM_MODEL_STATUS_PENDING: _ClassVar[CustomModelStatus]
    CUSTOM_MODEL_STATUS_TRAINING: _ClassVar[CustomModelStatus]
    CUSTOM_MODEL_STATUS_READY: _ClassVar[CustomModelStatus]
    CUSTOM_MODEL_STATUS_FAILED: _ClassVar[CustomModelStatus]

class ModelVersionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_VERSION_STATUS_UNSPECIFIED: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_PENDING: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_TRAINING: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_READY: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_FAILED: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_CANCELLED: _ClassVar[ModelVersionStatus]
CUSTOM_MODEL_STATUS_UNSPECIFIED: CustomModelStatus
CUSTOM_MODEL_STATUS_PENDING: CustomModelStatus
CUSTOM_MODEL_STATUS_TRAINING: CustomModelStatus
CUSTOM_MODEL_STATUS_READY: CustomModelStatus
CUSTOM_MODEL_STATUS_FAILED: CustomModelStatus
MODEL_VERSION_STATUS_UNSPECIFIED: ModelVersionStatus
MODEL_VERSION_STATUS_PENDING: ModelVersionStatus
MODEL_VERSION_STATUS_TRAINING: ModelVersionStatus
MODEL_VERSION_STATUS_READY: ModelVersionStatus
MODEL_VERSION_STATUS_FAILED: ModelVersionStatus
MODEL_VERSION_STATUS_CANCELLED: ModelVersionStatus

class ReferenceModel(_message.Message):
    __slots__ = ("id", "name", "category", "description", "tags", "complexity_hundredths", "provider_endpoint", "default_parameters", "preview_url", "preview_url_expires_at", "training_endpoint")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_URL_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_URL_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TRAINING_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    category: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    complexity_hundredths: int
    provider_endpoint: str
    default_parameters: _struct_pb2.Struct
    preview_url: str
    preview_url_expires_at: _timestamp_pb2.Timestamp
    training_endpoint: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., complexity_hundredths: _Optional[int] = ..., provider_endpoint: _Optional[str] = ..., default_parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., preview_url: _Optional[str] = ..., preview_url_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., training_endpoint: _Optional[str] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("version", "status", "parent_version", "job_id", "training_steps", "training_image_file_ids", "training_zip_file_id", "weights_file_id", "config_file_id", "starting_weights_file_id", "estimated_credits_hundredths", "charged_credits_hundredths", "failure_reason", "created_at", "finished_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TRAINING_STEPS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_IMAGE_FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_ZIP_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTING_WEIGHTS_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_CREDITS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_CREDITS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    status: ModelVersionStatus
    parent_version: int
    job_id: str
    training_steps: int
    training_image_file_ids: _containers.RepeatedScalarFieldContainer[str]
    training_zip_file_id: str
    weights_file_id: str
    config_file_id: str
    starting_weights_file_id: str
    estimated_credits_hundredths: int
    charged_credits_hundredths: int
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., status: _Optional[_Union[ModelVersionStatus, str]] = ..., parent_version: _Optional[int] = ..., job_id: _Optional[str] = ..., training_steps: _Optional[int] = ..., training_image_file_ids: _Optional[_Iterable[str]] = ..., training_zip_file_id: _Optional[str] = ..., weights_file_id: _Optional[str] = ..., config_file_id: _Optional[str] = ..., starting_weights_file_id: _Optional[str] = ..., estimated_credits_hundredths: _Optional[int] = ..., charged_credits_hundredths: _Optional[int] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomModel(_message.Message):
    __slots__ = ("id", "team_id", "reference_model_id", "name", "description", "trigger_word", "status", "current_version", "versions", "created_at", "updated_at", "complexity_hundredths")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WORD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    id: int
    team_id: str
    reference_model_id: int
    name: str
    description: str
    trigger_word: str
    status: CustomModelStatus
    current_version: int
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    complexity_hundredths: int
    def __init__(self, id: _Optional[int] = ..., team_id: _Optional[str] = ..., reference_model_id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., trigger_word: _Optional[str] = ..., status: _Optional[_Union[CustomModelStatus, str]] = ..., current_version: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complexity_hundredths: _Optional[int] = ...) -> None: ...

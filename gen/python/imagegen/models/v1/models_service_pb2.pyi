from imagegen.generation.v1 import generation_pb2 as _generation_pb2
from imagegen.models.v1 import models_pb2 as _models_pb2
from imagegen.storage.v1 import storage_pb2 as _storage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetReferenceModelRequest(_message.Message):
    __slots__ = ("id", "with_preview_url")
    ID_FIELD_NUMBER: _ClassVar[int]
    WITH_PREVIEW_URL_FIELD_NUMBER: _ClassVar[int]
    id: int
    with_preview_url: bool
    def __init__(self, id: _Optional[int] = ..., with_preview_url: _Optional[bool] = ...) -> None: ...

class GetReferenceModelResponse(_message.Message):
    __slots__ = ("reference_model",)
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    reference_model: _models_pb2.ReferenceModel
    def __init__(self, reference_model: _Optional[_Union[_models_pb2.ReferenceModel, _Mapping]] = ...) -> None: ...

class ListReferenceModelsRequest(_message.Message):
    __slots__ = ("category", "page_size", "page_token", "query")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    category: str
    page_size: int
    page_token: str
    query: str
    def __init__(self, category: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class ListReferenceModelsResponse(_message.Message):
    __slots__ = ("reference_models", "next_page_token")
    REFERENCE_MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reference_models: _containers.RepeatedCompositeFieldContainer[_models_pb2.ReferenceModel]
    next_page_token: str
    def __init__(self, reference_models: _Optional[_Iterable[_Union[_models_pb2.ReferenceModel, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateCustomModelRequest(_message.Message):
    __slots__ = ("team_id", "reference_model_id", "name", "description", "training_images", "trigger_word", "training_steps", "idempotency_key", "key_spend")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TRAINING_IMAGES_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WORD_FIELD_NUMBER: _ClassVar[int]
    TRAINING_STEPS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEND_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    reference_model_id: int
    name: str
    description: str
    training_images: _containers.RepeatedCompositeFieldContainer[_storage_pb2.TrainingImageSource]
    trigger_word: str
    training_steps: int
    idempotency_key: str
    key_spend: _generation_pb2.KeySpend
    def __init__(self, team_id: _Optional[str] = ..., reference_model_id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., training_images: _Optional[_Iterable[_Union[_storage_pb2.TrainingImageSource, _Mapping]]] = ..., trigger_word: _Optional[str] = ..., training_steps: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., key_spend: _Optional[_Union[_generation_pb2.KeySpend, _Mapping]] = ...) -> None: ...

class CreateCustomModelResponse(_message.Message):
    __slots__ = ("custom_model", "job")
    CUSTOM_MODEL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    custom_model: _models_pb2.CustomModel
    job: _generation_pb2.Job
    def __init__(self, custom_model: _Optional[_Union[_models_pb2.CustomModel, _Mapping]] = ..., job: _Optional[_Union[_generation_pb2.Job, _Mapping]] = ...) -> None: ...

class RefineCustomModelRequest(_message.Message):
    __slots__ = ("team_id", "custom_model_id", "training_images", "training_steps", "idempotency_key", "key_spend")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TRAINING_IMAGES_FIELD_NUMBER: _ClassVar[int]
    TRAINING_STEPS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_SPEND_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    custom_model_id: int
    training_images: _containers.RepeatedCompositeFieldContainer[_storage_pb2.TrainingImageSource]
    training_steps: int
    idempotency_key: str
    key_spend: _generation_pb2.KeySpend
    def __init__(self, team_id: _Optional[str] = ..., custom_model_id: _Optional[int] = ..., training_images: _Optional[_Iterable[_Union[_storage_pb2.TrainingImageSource, _Mapping]]] = ..., training_steps: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., key_spend: _Optional[_Union[_generation_pb2.KeySpend, _Mapping]] = ...) -> None: ...

class RefineCustomModelResponse(_message.Message):
    __slots__ = ("custom_model", "job")
    CUSTOM_MODEL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    custom_model: _models_pb2.CustomModel
    job: _generation_pb2.Job
    def __init__(self, custom_model: _Optional[_Union[_models_pb2.CustomModel, _Mapping]] = ..., job: _Optional[_Union[_generation_pb2.Job, _Mapping]] = ...) -> None: ...

class GetCustomModelRequest(_message.Message):
    __slots__ = ("team_id", "custom_model_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    custom_model_id: int
    def __init__(self, team_id: _Optional[str] = ..., custom_model_id: _Optional[int] = ...) -> None: ...

class GetCustomModelResponse(_message.Message):
    __slots__ = ("custom_model",)
    CUSTOM_MODEL_FIELD_NUMBER: _ClassVar[int]
    custom_model: _models_pb2.CustomModel
    def __init__(self, custom_model: _Optional[_Union[_models_pb2.CustomModel, _Mapping]] = ...) -> None: ...

class ListCustomModelsRequest(_message.Message):
    __slots__ = ("team_id", "statuses", "page_size", "page_token")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    statuses: _containers.RepeatedScalarFieldContainer[_models_pb2.CustomModelStatus]
    page_size: int
    page_token: str
    def __init__(self, team_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_models_pb2.CustomModelStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCustomModelsResponse(_message.Message):
    __slots__ = ("custom_models", "next_page_token")
    CUSTOM_MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    custom_models: _containers.RepeatedCompositeFieldContainer[_models_pb2.CustomModel]
    next_page_token: str
    def __init__(self, custom_models: _Optional[_Iterable[_Union[_models_pb2.CustomModel, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCustomModelRequest(_message.Message):
    __slots__ = ("team_id", "custom_model_id", "name", "description", "current_version")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    custom_model_id: int
    name: str
    description: str
    current_version: int
    def __init__(self, team_id: _Optional[str] = ..., custom_model_id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., current_version: _Optional[int] = ...) -> None: ...

class UpdateCustomModelResponse(_message.Message):
    __slots__ = ("custom_model",)
    CUSTOM_MODEL_FIELD_NUMBER: _ClassVar[int]
    custom_model: _models_pb2.CustomModel
    def __init__(self, custom_model: _Optional[_Union[_models_pb2.CustomModel, _Mapping]] = ...) -> None: ...

class DeleteCustomModelRequest(_message.Message):
    __slots__ = ("team_id", "custom_model_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    custom_model_id: int
    def __init__(self, team_id: _Optional[str] = ..., custom_model_id: _Optional[int] = ...) -> None: ...

class DeleteCustomModelResponse(_message.Message):
    __slots__ = ("cancelled_job_ids",)
    CANCELLED_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    cancelled_job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cancelled_job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ResolveModelVersionRequest(_message.Message):
    __slots__ = ("team_id", "custom_model_id", "version")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    custom_model_id: int
    version: int
    def __init__(self, team_id: _Optional[str] = ..., custom_model_id: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class ResolveModelVersionResponse(_message.Message):
    __slots__ = ("reference_model", "version", "weights_file_id", "trigger_word")
    REFERENCE_MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FILE_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WORD_FIELD_NUMBER: _ClassVar[int]
    reference_model: _models_pb2.ReferenceModel
    version: int
    weights_file_id: str
    trigger_word: str
    def __init__(self, reference_model: _Optional[_Union[_models_pb2.ReferenceModel, _Mapping]] = ..., version: _Optional[int] = ..., weights_file_id: _Optional[str] = ..., trigger_word: _Optional[str] = ...) -> None: ...

from imagegen.models.v1 import models_pb2 as _models_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetReferenceModelRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

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

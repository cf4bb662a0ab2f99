from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReferenceModel(_message.Message):
    __slots__ = ("id", "name", "category", "description", "tags", "complexity_hundredths", "provider_endpoint", "default_parameters")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    category: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    complexity_hundredths: int
    provider_endpoint: str
    default_parameters: _struct_pb2.Struct
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., complexity_hundredths: _Optional[int] = ..., provider_endpoint: _Optional[str] = ..., default_parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

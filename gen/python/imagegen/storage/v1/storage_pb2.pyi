import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_KIND_UNSPECIFIED: _ClassVar[FileKind]
    FILE_KIND_GENERATED_IMAGE: _ClassVar[FileKind]
    FILE_KIND_TRAINING_ZIP: _ClassVar[FileKind]
    FILE_KIND_TRAINING_IMAGE: _ClassVar[FileKind]
    FILE_KIND_LORA_WEIGHTS: _ClassVar[FileKind]
    FILE_KIND_PREVIEW: _ClassVar[FileKind]
    FILE_KIND_MODEL_CONFIG: _ClassVar[FileKind]

class FileState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_STATE_UNSPECIFIED: _ClassVar[FileState]
    FILE_STATE_STORED: _ClassVar[FileState]
    FILE_STATE_EXPIRED: _ClassVar[FileState]
    FILE_STATE_DELETED: _ClassVar[FileState]
    FILE_STATE_AWAITING_UPLOAD: _ClassVar[FileState]
FILE_KIND_UNSPECIFIED: FileKind
FILE_KIND_GENERATED_IMAGE: FileKind
FILE_KIND_TRAINING_ZIP: FileKind
FILE_KIND_TRAINING_IMAGE: FileKind
FILE_KIND_LORA_WEIGHTS: FileKind
FILE_KIND_PREVIEW: FileKind
FILE_KIND_MODEL_CONFIG: FileKind
FILE_STATE_UNSPECIFIED: FileState
FILE_STATE_STORED: FileState
FILE_STATE_EXPIRED: FileState
FILE_STATE_DELETED: FileState
FILE_STATE_AWAITING_UPLOAD: FileState

class StoredFile(_message.Message):
    __slots__ = ("id", "team_id", "kind", "owner_id", "content_type", "size_bytes", "sha256_hex", "width", "height", "created_at", "expires_at", "state", "removed_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_HEX_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    team_id: str
    kind: FileKind
    owner_id: str
    content_type: str
    size_bytes: int
    sha256_hex: str
    width: int
    height: int
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    state: FileState
    removed_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., team_id: _Optional[str] = ..., kind: _Optional[_Union[FileKind, str]] = ..., owner_id: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256_hex: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[FileState, str]] = ..., removed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignedUrl(_message.Message):
    __slots__ = ("file_id", "url", "expires_at", "state", "file_expires_at")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FILE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    url: str
    expires_at: _timestamp_pb2.Timestamp
    state: FileState
    file_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, file_id: _Optional[str] = ..., url: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[FileState, str]] = ..., file_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TrainingImageSource(_message.Message):
    __slots__ = ("url", "upload_id", "file_id")
    URL_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    url: str
    upload_id: str
    file_id: str
    def __init__(self, url: _Optional[str] = ..., upload_id: _Optional[str] = ..., file_id: _Optional[str] = ...) -> None: ...

class TrainingSetProblem(_message.Message):
    __slots__ = ("index", "code", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    code: str
    message: str
    def __init__(self, index: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TrainingSetRules(_message.Message):
    __slots__ = ("min_images", "max_images", "min_short_side_pixels")
    MIN_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MIN_SHORT_SIDE_PIXELS_FIELD_NUMBER: _ClassVar[int]
    min_images: int
    max_images: int
    min_short_side_pixels: int
    def __init__(self, min_images: _Optional[int] = ..., max_images: _Optional[int] = ..., min_short_side_pixels: _Optional[int] = ...) -> None: ...

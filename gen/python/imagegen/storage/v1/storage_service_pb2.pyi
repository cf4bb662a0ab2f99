import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from imagegen.storage.v1 import storage_pb2 as _storage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportFileRequest(_message.Message):
    __slots__ = ("team_id", "kind", "owner_id", "source_url", "idempotency_key", "plan")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    kind: _storage_pb2.FileKind
    owner_id: str
    source_url: str
    idempotency_key: str
    plan: str
    def __init__(self, team_id: _Optional[str] = ..., kind: _Optional[_Union[_storage_pb2.FileKind, str]] = ..., owner_id: _Optional[str] = ..., source_url: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., plan: _Optional[str] = ...) -> None: ...

class ImportFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.StoredFile
    def __init__(self, file: _Optional[_Union[_storage_pb2.StoredFile, _Mapping]] = ...) -> None: ...

class SignFileUrlsRequest(_message.Message):
    __slots__ = ("team_id", "file_ids")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    file_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, team_id: _Optional[str] = ..., file_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SignFileUrlsResponse(_message.Message):
    __slots__ = ("signed_urls",)
    SIGNED_URLS_FIELD_NUMBER: _ClassVar[int]
    signed_urls: _containers.RepeatedCompositeFieldContainer[_storage_pb2.SignedUrl]
    def __init__(self, signed_urls: _Optional[_Iterable[_Union[_storage_pb2.SignedUrl, _Mapping]]] = ...) -> None: ...

class GetFileRequest(_message.Message):
    __slots__ = ("team_id", "file_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    file_id: str
    def __init__(self, team_id: _Optional[str] = ..., file_id: _Optional[str] = ...) -> None: ...

class GetFileResponse(_message.Message):
    __slots__ = ("file", "signed_url")
    FILE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_URL_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.StoredFile
    signed_url: _storage_pb2.SignedUrl
    def __init__(self, file: _Optional[_Union[_storage_pb2.StoredFile, _Mapping]] = ..., signed_url: _Optional[_Union[_storage_pb2.SignedUrl, _Mapping]] = ...) -> None: ...

class DeleteOwnerFilesRequest(_message.Message):
    __slots__ = ("team_id", "owner_id")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    owner_id: str
    def __init__(self, team_id: _Optional[str] = ..., owner_id: _Optional[str] = ...) -> None: ...

class DeleteOwnerFilesResponse(_message.Message):
    __slots__ = ("marked",)
    MARKED_FIELD_NUMBER: _ClassVar[int]
    marked: int
    def __init__(self, marked: _Optional[int] = ...) -> None: ...

class CreateUploadRequest(_message.Message):
    __slots__ = ("team_id", "content_type", "size_bytes", "filename")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    content_type: str
    size_bytes: int
    filename: str
    def __init__(self, team_id: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., filename: _Optional[str] = ...) -> None: ...

class CreateUploadResponse(_message.Message):
    __slots__ = ("file", "upload_url", "upload_expires_at", "upload_headers")
    class UploadHeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FILE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_HEADERS_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.StoredFile
    upload_url: str
    upload_expires_at: _timestamp_pb2.Timestamp
    upload_headers: _containers.ScalarMap[str, str]
    def __init__(self, file: _Optional[_Union[_storage_pb2.StoredFile, _Mapping]] = ..., upload_url: _Optional[str] = ..., upload_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., upload_headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PrepareTrainingSetRequest(_message.Message):
    __slots__ = ("team_id", "owner_id", "sources", "rules", "idempotency_key")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    owner_id: str
    sources: _containers.RepeatedCompositeFieldContainer[_storage_pb2.TrainingImageSource]
    rules: _storage_pb2.TrainingSetRules
    idempotency_key: str
    def __init__(self, team_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_storage_pb2.TrainingImageSource, _Mapping]]] = ..., rules: _Optional[_Union[_storage_pb2.TrainingSetRules, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class PrepareTrainingSetResponse(_message.Message):
    __slots__ = ("problems", "images", "zip")
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    ZIP_FIELD_NUMBER: _ClassVar[int]
    problems: _containers.RepeatedCompositeFieldContainer[_storage_pb2.TrainingSetProblem]
    images: _containers.RepeatedCompositeFieldContainer[_storage_pb2.StoredFile]
    zip: _storage_pb2.StoredFile
    def __init__(self, problems: _Optional[_Iterable[_Union[_storage_pb2.TrainingSetProblem, _Mapping]]] = ..., images: _Optional[_Iterable[_Union[_storage_pb2.StoredFile, _Mapping]]] = ..., zip: _Optional[_Union[_storage_pb2.StoredFile, _Mapping]] = ...) -> None: ...

class PutFileRequest(_message.Message):
    __slots__ = ("team_id", "kind", "owner_id", "content", "idempotency_key")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    kind: _storage_pb2.FileKind
    owner_id: str
    content: bytes
    idempotency_key: str
    def __init__(self, team_id: _Optional[str] = ..., kind: _Optional[_Union[_storage_pb2.FileKind, str]] = ..., owner_id: _Optional[str] = ..., content: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class PutFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: _storage_pb2.StoredFile
    def __init__(self, file: _Optional[_Union[_storage_pb2.StoredFile, _Mapping]] = ...) -> None: ...

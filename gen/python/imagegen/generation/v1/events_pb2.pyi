from imagegen.generation.v1 import generation_pb2 as _generation_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobQueued(_message.Message):
    __slots__ = ("job_id", "team_id", "type")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    team_id: str
    type: _generation_pb2.JobType
    def __init__(self, job_id: _Optional[str] = ..., team_id: _Optional[str] = ..., type: _Optional[_Union[_generation_pb2.JobType, str]] = ...) -> None: ...

class JobFinished(_message.Message):
    __slots__ = ("job_id", "team_id", "status", "charge_hundredths")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHARGE_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    team_id: str
    status: _generation_pb2.JobStatus
    charge_hundredths: int
    def __init__(self, job_id: _Optional[str] = ..., team_id: _Optional[str] = ..., status: _Optional[_Union[_generation_pb2.JobStatus, str]] = ..., charge_hundredths: _Optional[int] = ...) -> None: ...

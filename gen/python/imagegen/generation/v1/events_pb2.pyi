from imagegen.generation.v1 import generation_pb2 as _generation_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
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
    __slots__ = ("job_id", "team_id", "status", "charge_hundredths", "type", "model_training", "training_output", "error")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHARGE_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_TRAINING_FIELD_NUMBER: _ClassVar[int]
    TRAINING_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    team_id: str
    status: _generation_pb2.JobStatus
    charge_hundredths: int
    type: _generation_pb2.JobType
    model_training: _generation_pb2.ModelTrainingInput
    training_output: _generation_pb2.TrainingOutput
    error: _generation_pb2.JobError
    def __init__(self, job_id: _Optional[str] = ..., team_id: _Optional[str] = ..., status: _Optional[_Union[_generation_pb2.JobStatus, str]] = ..., charge_hundredths: _Optional[int] = ..., type: _Optional[_Union[_generation_pb2.JobType, str]] = ..., model_training: _Optional[_Union[_generation_pb2.ModelTrainingInput, _Mapping]] = ..., training_output: _Optional[_Union[_generation_pb2.TrainingOutput, _Mapping]] = ..., error: _Optional[_Union[_generation_pb2.JobError, _Mapping]] = ...) -> None: ...

class JobStarted(_message.Message):
    __slots__ = ("job_id", "team_id", "type", "model_training")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_TRAINING_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    team_id: str
    type: _generation_pb2.JobType
    model_training: _generation_pb2.ModelTrainingInput
    def __init__(self, job_id: _Optional[str] = ..., team_id: _Optional[str] = ..., type: _Optional[_Union[_generation_pb2.JobType, str]] = ..., model_training: _Optional[_Union[_generation_pb2.ModelTrainingInput, _Mapping]] = ...) -> None: ...

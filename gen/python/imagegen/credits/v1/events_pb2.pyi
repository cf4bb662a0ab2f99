from imagegen.credits.v1 import credits_pb2 as _credits_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LowBalanceCrossed(_message.Message):
    __slots__ = ("team_id", "available_hundredths", "threshold_hundredths")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    available_hundredths: int
    threshold_hundredths: int
    def __init__(self, team_id: _Optional[str] = ..., available_hundredths: _Optional[int] = ..., threshold_hundredths: _Optional[int] = ...) -> None: ...

class PlanChanged(_message.Message):
    __slots__ = ("team_id", "previous_plan", "plan", "subscription_status")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_PLAN_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    previous_plan: _credits_pb2.Plan
    plan: _credits_pb2.Plan
    subscription_status: str
    def __init__(self, team_id: _Optional[str] = ..., previous_plan: _Optional[_Union[_credits_pb2.Plan, str]] = ..., plan: _Optional[_Union[_credits_pb2.Plan, str]] = ..., subscription_status: _Optional[str] = ...) -> None: ...

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

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

from imagegen.credits.v1 import credits_pb2 as _credits_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAccountRequest(_message.Message):
    __slots__ = ("team_id", "plan")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    plan: _credits_pb2.Plan
    def __init__(self, team_id: _Optional[str] = ..., plan: _Optional[_Union[_credits_pb2.Plan, str]] = ...) -> None: ...

class CreateAccountResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: _credits_pb2.Balance
    def __init__(self, balance: _Optional[_Union[_credits_pb2.Balance, _Mapping]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("team_id",)
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    def __init__(self, team_id: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: _credits_pb2.Balance
    def __init__(self, balance: _Optional[_Union[_credits_pb2.Balance, _Mapping]] = ...) -> None: ...

class QuoteImageGenerationRequest(_message.Message):
    __slots__ = ("resolution", "quality", "model_complexity_hundredths", "num_images")
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    resolution: str
    quality: str
    model_complexity_hundredths: int
    num_images: int
    def __init__(self, resolution: _Optional[str] = ..., quality: _Optional[str] = ..., model_complexity_hundredths: _Optional[int] = ..., num_images: _Optional[int] = ...) -> None: ...

class QuoteImageGenerationResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: _credits_pb2.Quote
    def __init__(self, quote: _Optional[_Union[_credits_pb2.Quote, _Mapping]] = ...) -> None: ...

class ReserveCreditsRequest(_message.Message):
    __slots__ = ("team_id", "amount_hundredths", "idempotency_key")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    amount_hundredths: int
    idempotency_key: str
    def __init__(self, team_id: _Optional[str] = ..., amount_hundredths: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ReserveCreditsResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: _credits_pb2.Balance
    def __init__(self, balance: _Optional[_Union[_credits_pb2.Balance, _Mapping]] = ...) -> None: ...

class CaptureCreditsRequest(_message.Message):
    __slots__ = ("idempotency_key", "amount_hundredths")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    amount_hundredths: int
    def __init__(self, idempotency_key: _Optional[str] = ..., amount_hundredths: _Optional[int] = ...) -> None: ...

class CaptureCreditsResponse(_message.Message):
    __slots__ = ("captured_hundredths", "released_hundredths")
    CAPTURED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    RELEASED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    captured_hundredths: int
    released_hundredths: int
    def __init__(self, captured_hundredths: _Optional[int] = ..., released_hundredths: _Optional[int] = ...) -> None: ...

class ReleaseCreditsRequest(_message.Message):
    __slots__ = ("idempotency_key",)
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    def __init__(self, idempotency_key: _Optional[str] = ...) -> None: ...

class ReleaseCreditsResponse(_message.Message):
    __slots__ = ("released_hundredths",)
    RELEASED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    released_hundredths: int
    def __init__(self, released_hundredths: _Optional[int] = ...) -> None: ...

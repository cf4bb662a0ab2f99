import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from imagegen.credits.v1 import credits_pb2 as _credits_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
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

class QuoteModelCreationRequest(_message.Message):
    __slots__ = ("reference_complexity_hundredths", "num_training_images")
    REFERENCE_COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    NUM_TRAINING_IMAGES_FIELD_NUMBER: _ClassVar[int]
    reference_complexity_hundredths: int
    num_training_images: int
    def __init__(self, reference_complexity_hundredths: _Optional[int] = ..., num_training_images: _Optional[int] = ...) -> None: ...

class QuoteModelCreationResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: _credits_pb2.Quote
    def __init__(self, quote: _Optional[_Union[_credits_pb2.Quote, _Mapping]] = ...) -> None: ...

class QuoteModelRefinementRequest(_message.Message):
    __slots__ = ("model_complexity_hundredths", "iteration")
    MODEL_COMPLEXITY_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    model_complexity_hundredths: int
    iteration: int
    def __init__(self, model_complexity_hundredths: _Optional[int] = ..., iteration: _Optional[int] = ...) -> None: ...

class QuoteModelRefinementResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: _credits_pb2.Quote
    def __init__(self, quote: _Optional[_Union[_credits_pb2.Quote, _Mapping]] = ...) -> None: ...

class ListLedgerEntriesRequest(_message.Message):
    __slots__ = ("team_id", "kinds", "since", "until", "page_size", "page_token")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    kinds: _containers.RepeatedScalarFieldContainer[_credits_pb2.LedgerEntryKind]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, team_id: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[_credits_pb2.LedgerEntryKind, str]]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLedgerEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_credits_pb2.LedgerEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_credits_pb2.LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetLowBalanceThresholdRequest(_message.Message):
    __slots__ = ("team_id", "threshold_hundredths")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    threshold_hundredths: int
    def __init__(self, team_id: _Optional[str] = ..., threshold_hundredths: _Optional[int] = ...) -> None: ...

class SetLowBalanceThresholdResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: _credits_pb2.Balance
    def __init__(self, balance: _Optional[_Union[_credits_pb2.Balance, _Mapping]] = ...) -> None: ...

class RecordStripeEventRequest(_message.Message):
    __slots__ = ("event_id", "type", "payload_json")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    payload_json: bytes
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., payload_json: _Optional[bytes] = ...) -> None: ...

class RecordStripeEventResponse(_message.Message):
    __slots__ = ("duplicate",)
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    duplicate: bool
    def __init__(self, duplicate: _Optional[bool] = ...) -> None: ...

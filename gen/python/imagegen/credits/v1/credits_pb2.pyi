import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Plan(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_UNSPECIFIED: _ClassVar[Plan]
    PLAN_FREE: _ClassVar[Plan]
    PLAN_BASIC: _ClassVar[Plan]
    PLAN_PRO: _ClassVar[Plan]
    PLAN_ENTERPRISE: _ClassVar[Plan]

class LedgerEntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_ENTRY_KIND_UNSPECIFIED: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_ALLOCATION: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_BONUS: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_RESERVE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_CAPTURE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_RELEASE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_EXPIRY: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_ADJUSTMENT: _ClassVar[LedgerEntryKind]
PLAN_UNSPECIFIED: Plan
PLAN_FREE: Plan
PLAN_BASIC: Plan
PLAN_PRO: Plan
PLAN_ENTERPRISE: Plan
LEDGER_ENTRY_KIND_UNSPECIFIED: LedgerEntryKind
LEDGER_ENTRY_KIND_ALLOCATION: LedgerEntryKind
LEDGER_ENTRY_KIND_BONUS: LedgerEntryKind
LEDGER_ENTRY_KIND_RESERVE: LedgerEntryKind
LEDGER_ENTRY_KIND_CAPTURE: LedgerEntryKind
LEDGER_ENTRY_KIND_RELEASE: LedgerEntryKind
LEDGER_ENTRY_KIND_EXPIRY: LedgerEntryKind
LEDGER_ENTRY_KIND_ADJUSTMENT: LedgerEntryKind

class Balance(_message.Message):
    __slots__ = ("team_id", "plan", "available_hundredths", "reserved_hundredths", "bonus_hundredths", "total_allocated_hundredths", "next_replenishment_at", "max_concurrent_jobs", "period_start", "low_balance_threshold_hundredths", "below_low_balance", "subscription_status")
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    BONUS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ALLOCATED_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    NEXT_REPLENISHMENT_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_JOBS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    LOW_BALANCE_THRESHOLD_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    BELOW_LOW_BALANCE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    team_id: str
    plan: Plan
    available_hundredths: int
    reserved_hundredths: int
    bonus_hundredths: int
    total_allocated_hundredths: int
    next_replenishment_at: _timestamp_pb2.Timestamp
    max_concurrent_jobs: int
    period_start: _timestamp_pb2.Timestamp
    low_balance_threshold_hundredths: int
    below_low_balance: bool
    subscription_status: str
    def __init__(self, team_id: _Optional[str] = ..., plan: _Optional[_Union[Plan, str]] = ..., available_hundredths: _Optional[int] = ..., reserved_hundredths: _Optional[int] = ..., bonus_hundredths: _Optional[int] = ..., total_allocated_hundredths: _Optional[int] = ..., next_replenishment_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_concurrent_jobs: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., low_balance_threshold_hundredths: _Optional[int] = ..., below_low_balance: _Optional[bool] = ..., subscription_status: _Optional[str] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("id", "kind", "amount_hundredths", "bonus_hundredths", "available_after_hundredths", "reserved_after_hundredths", "idempotency_key", "description", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    BONUS_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_AFTER_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_AFTER_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: LedgerEntryKind
    amount_hundredths: int
    bonus_hundredths: int
    available_after_hundredths: int
    reserved_after_hundredths: int
    idempotency_key: str
    description: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[LedgerEntryKind, str]] = ..., amount_hundredths: _Optional[int] = ..., bonus_hundredths: _Optional[int] = ..., available_after_hundredths: _Optional[int] = ..., reserved_after_hundredths: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., description: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("amount_hundredths", "pricing_version", "breakdown")
    class BreakdownEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AMOUNT_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    PRICING_VERSION_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    amount_hundredths: int
    pricing_version: int
    breakdown: _containers.ScalarMap[str, str]
    def __init__(self, amount_hundredths: _Optional[int] = ..., pricing_version: _Optional[int] = ..., breakdown: _Optional[_Mapping[str, str]] = ...) -> None: ...

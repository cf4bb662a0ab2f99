"""What every emulated model endpoint provides, plus pydantic-v1-shaped input validation.

fal endpoints answer bad input with FastAPI/pydantic v1 errors
(`{"loc": ["body", field], "msg": ..., "type": ...}`); the helpers here produce that shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from imagegen_fal_emulator.storage import FileFetcher, FileStore, StoredFile

JsonObject = dict[str, Any]


class InputError(Exception):
    """Invalid model input; becomes HTTP 422 with a list `detail`."""

    def __init__(self, detail: list[JsonObject]) -> None:
        super().__init__(detail)
        self.detail = detail

    @classmethod
    def single(cls, field: str, msg: str, type_: str = "value_error") -> InputError:
        return cls([{"loc": ["body", field], "msg": msg, "type": type_}])


@dataclass(frozen=True)
class OutputSink:
    """Where a finished job stores its files and how their public URLs start."""

    files: FileStore
    origin: str

    def store(self, key: str, content: bytes, content_type: str) -> tuple[str, StoredFile]:
        stored = self.files.put(key, content, content_type)
        return f"{self.origin}/files/{key}", stored

    def file_object(self, key: str, content: bytes, content_type: str) -> JsonObject:
        """fal's `File` output shape."""
        url, stored = self.store(key, content, content_type)
        return {
            "url": url,
            "content_type": content_type,
            "file_name": stored.file_name,
            "file_size": len(content),
        }


class Job(Protocol):
    @property
    def marker_text(self) -> str:
        """Text searched for the [[fail]] / [[flaky]] / [[slow:N]] markers."""
        ...

    def progress_messages(self) -> list[str]: ...

    async def produce(self, sink: OutputSink) -> JsonObject: ...


class App(Protocol):
    endpoint_id: str

    async def prepare(self, payload: object, fetcher: FileFetcher) -> Job:
        """Validate input (and fetch file inputs); raise InputError when it is unusable."""
        ...


_MISSING = object()


class Fields:
    """Reads fields of a JSON body, collecting every error before raising, like pydantic."""

    def __init__(self, payload: object) -> None:
        if not isinstance(payload, dict):
            raise InputError(
                [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
            )
        self.payload: JsonObject = payload
        self.errors: list[JsonObject] = []

    def error(self, loc: Sequence[str | int], msg: str, type_: str) -> None:
        self.errors.append({"loc": ["body", *loc], "msg": msg, "type": type_})

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise InputError(self.errors)

    def _get(self, name: str, default: Any) -> Any:
        value = self.payload.get(name, _MISSING)
        if value is _MISSING or (value is None and default is not _MISSING):
            if default is _MISSING:
                self.error([name], "field required", "value_error.missing")
            return default
        return value

    def string(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if value is not default and not isinstance(value, str):
            self.error([name], "str type expected", "type_error.str")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            self.error([name], "value could not be parsed to a boolean", "type_error.bool")
            return default
        return value

    def integer(self, name: str, default: Any, ge: int | None = None, le: int | None = None) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        return check_int(self, [name], value, ge, le, default)

    def number(self, name: str, default: float, ge: float, le: float) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error([name], "value is not a valid float", "type_error.float")
            return default
        checked: float = check_range(self, [name], float(value), ge, le, default)
        return checked

    def choice(self, name: str, default: str, allowed: Sequence[str]) -> str:
        value = self._get(name, default)
        if value not in allowed:
            permitted = ", ".join(repr(a) for a in allowed)
            self.error(
                [name],
                f"value is not a valid enumeration member; permitted: {permitted}",
                "type_error.enum",
            )
            return default
        return str(value)


def check_int(
    fields: Fields,
    loc: Sequence[str | int],
    value: object,
    ge: int | None,
    le: int | None,
    default: Any,
) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        fields.error(loc, "value is not a valid integer", "type_error.integer")
        return default
    return check_range(fields, loc, value, ge, le, default)


def check_range(
    fields: Fields,
    loc: Sequence[str | int],
    value: Any,
    ge: float | None,
    le: float | None,
    default: Any,
) -> Any:
    if ge is not None and value < ge:
        fields.error(loc, f"ensure this value is greater than or equal to {ge}", "value_error.number.not_ge")
        return default
    if le is not None and value > le:
        fields.error(loc, f"ensure this value is less than or equal to {le}", "value_error.number.not_le")
        return default
    return value

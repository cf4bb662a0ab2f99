"""Stored files: what a file is, where it lives in the bucket, and how long it is kept."""

import io
import json
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from imagegen_platform.errors import InvalidArgument
from PIL import Image, UnidentifiedImageError


class FileKind(Enum):
    GENERATED_IMAGE = "generated_image"
    TRAINING_ZIP = "training_zip"
    TRAINING_IMAGE = "training_image"
    LORA_WEIGHTS = "lora_weights"
    PREVIEW = "preview"


IMAGE_KINDS = {FileKind.GENERATED_IMAGE, FileKind.TRAINING_IMAGE, FileKind.PREVIEW}


class FileState(Enum):
    STORED = "stored"
    # Retention removed it (or its expiry has passed and the cleanup has not run yet).
    EXPIRED = "expired"
    # Its job or model was deleted.
    DELETED = "deleted"


# Pillow's format name to the media type we store and serve.
IMAGE_TYPES = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int


def inspect_image(data: bytes) -> ImageInfo:
    """Identify an image by its bytes, never by what the sender claims."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            detected = IMAGE_TYPES.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError):
        detected = None
    if detected is None:
        raise InvalidArgument("not_an_image", "the file is not a PNG, JPEG or WebP image")
    content_type, extension = detected
    return ImageInfo(content_type, extension, width, height)


@dataclass(frozen=True)
class FileInfo:
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None


def inspect_file(kind: FileKind, data: bytes) -> FileInfo:
    """What the bytes are, checked against what the kind must be."""
    if kind in IMAGE_KINDS:
        image = inspect_image(data)
        return FileInfo(image.content_type, image.extension, image.width, image.height)
    if kind is FileKind.TRAINING_ZIP:
        if not data.startswith(b"PK\x03\x04"):
            raise InvalidArgument("not_a_zip", "the file is not a zip archive")
        return FileInfo("application/zip", "zip")
    if not _is_safetensors(data):
        raise InvalidArgument("not_safetensors", "LoRA weights must be a safetensors file")
    return FileInfo("application/octet-stream", "safetensors")


def _is_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte little-endian header length, then that many bytes of JSON."""
    if len(data) < 10:
        return False
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        return False
    try:
        return isinstance(json.loads(data[8 : 8 + length]), dict)
    except ValueError:
        return False


def object_key(team_id: str, kind: FileKind, owner_id: str, file_id: str, extension: str) -> str:
    """Every team's objects live under its own prefix."""
    return f"teams/{team_id}/{kind.value}/{owner_id}/{file_id}.{extension}"


def expiry(created_at: datetime, retention_days: int | None) -> datetime | None:
    """None: the file is kept as long as its job or model."""
    return None if retention_days is None else created_at + timedelta(days=retention_days)


def state_at(
    state: FileState, expires_at: datetime | None, delete_requested: bool, now: datetime
) -> FileState:
    """What a reader sees: a file past its expiry reads as expired before the cleanup removes it."""
    if state is not FileState.STORED:
        return state
    if delete_requested:
        return FileState.DELETED
    if expires_at is not None and expires_at <= now:
        return FileState.EXPIRED
    return FileState.STORED

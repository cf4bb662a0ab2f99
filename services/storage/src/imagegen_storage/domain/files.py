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
    # The JSON training config a trainer wrote beside a model's weights.
    MODEL_CONFIG = "model_config"


IMAGE_KINDS = {FileKind.GENERATED_IMAGE, FileKind.TRAINING_IMAGE, FileKind.PREVIEW}


class FileState(Enum):
    STORED = "stored"
    # Retention removed it (or its expiry has passed and the cleanup has not run yet).
    EXPIRED = "expired"
    # Its job or model was deleted.
    DELETED = "deleted"
    # A presigned upload was handed out; its bytes are neither checked nor claimed by a model yet.
    AWAITING_UPLOAD = "awaiting_upload"


# States whose object is in the bucket (the cleanup removes it when due); the others are final.
LIVE_STATES = (FileState.STORED, FileState.AWAITING_UPLOAD)


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


NOT_AN_IMAGE = "the file is not a PNG, JPEG or WebP image"


def identify_image(data: bytes) -> ImageInfo | None:
    """Identify an image by its bytes, never by what the sender claims; None when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            detected = IMAGE_TYPES.get(image.format or "")
            width, height = image.size
    # A decompression bomb (absurd pixel dimensions) is no image we would ever use either.
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        return None
    if detected is None:
        return None
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
        image = identify_image(data)
        if image is None:
            raise InvalidArgument("not_an_image", NOT_AN_IMAGE)
        return FileInfo(image.content_type, image.extension, image.width, image.height)
    if kind is FileKind.TRAINING_ZIP:
        if not data.startswith(b"PK\x03\x04"):
            raise InvalidArgument("not_a_zip", "the file is not a zip archive")
        return FileInfo("application/zip", "zip")
    if kind is FileKind.MODEL_CONFIG:
        if not _is_json_object(data):
            raise InvalidArgument("not_a_json_object", "a model config must be a JSON object")
        return FileInfo("application/json", "json")
    if not _is_safetensors(data):
        raise InvalidArgument("not_safetensors", "LoRA weights must be a safetensors file")
    return FileInfo("application/octet-stream", "safetensors")


def _is_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte little-endian header length, then that many bytes of JSON."""
    if len(data) < 10:
        return False
    (length,) = struct.unpack("<Q", data[:8])
    return length <= len(data) - 8 and _is_json_object(data[8 : 8 + length])


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    # RecursionError: nesting deeper than the parser goes is no config of ours either.
    except (ValueError, RecursionError):
        return False


def object_key(team_id: str, kind: FileKind, owner_id: str, file_id: str, extension: str) -> str:
    """Every team's objects live under its own prefix."""
    return f"teams/{team_id}/{kind.value}/{owner_id}/{file_id}.{extension}"


def upload_key(team_id: str, file_id: str, extension: str) -> str:
    """Where a presigned upload lands: under the team's prefix, but apart from claimed files, because
    nobody owns it yet (a training set claiming it stores its checked bytes under the owner)."""
    return f"teams/{team_id}/uploads/{file_id}.{extension}"


UPLOAD_CONTENT_TYPES = {content_type: extension for content_type, extension in IMAGE_TYPES.values()}
MAX_FILENAME_LENGTH = 255


def check_upload(content_type: str, size_bytes: int, filename: str, max_bytes: int) -> str:
    """The extension of an upload the team announced; every field that is wrong is named at once."""
    problems = {}
    if content_type not in UPLOAD_CONTENT_TYPES:
        problems["content_type"] = f"must be one of {', '.join(UPLOAD_CONTENT_TYPES)}"
    if not 1 <= size_bytes <= max_bytes:
        problems["size_bytes"] = f"must be between 1 and {max_bytes}"
    if len(filename) > MAX_FILENAME_LENGTH:
        problems["filename"] = f"must be at most {MAX_FILENAME_LENGTH} characters"
    if problems:
        raise InvalidArgument("invalid_upload", "the upload cannot be accepted", problems)
    return UPLOAD_CONTENT_TYPES[content_type]


def expiry(created_at: datetime, retention_days: int | None) -> datetime | None:
    """None: the file is kept as long as its job or model."""
    return None if retention_days is None else created_at + timedelta(days=retention_days)


def state_at(
    state: FileState, expires_at: datetime | None, delete_requested: bool, now: datetime
) -> FileState:
    """What a reader sees: a file past its expiry reads as expired before the cleanup removes it."""
    if state not in LIVE_STATES:
        return state
    if delete_requested:
        return FileState.DELETED
    if expires_at is not None and expires_at <= now:
        return FileState.EXPIRED
    return state

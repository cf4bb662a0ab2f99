"""Stored files: what a file is, where it lives in the bucket, and how long it is kept."""

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from imagegen_platform.errors import InvalidArgument
from PIL import Image, UnidentifiedImageError


class FileKind(Enum):
    GENERATED_IMAGE = "generated_image"


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


def object_key(team_id: str, kind: FileKind, owner_id: str, file_id: str, extension: str) -> str:
    """Every team's objects live under its own prefix."""
    return f"teams/{team_id}/{kind.value}/{owner_id}/{file_id}.{extension}"


def expiry(created_at: datetime, retention_days: int) -> datetime:
    return created_at + timedelta(days=retention_days)

"""Training sets: where each image comes from, the checks a set must pass, and the zip a trainer reads."""

import hashlib
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import IO

from imagegen_platform.errors import DomainError, ErrorKind

from imagegen_storage.domain.files import NOT_AN_IMAGE, ImageInfo, identify_image

# The index of a problem that is the whole set's, not one image's.
WHOLE_SET = -1


class SourceKind(Enum):
    URL = "url"
    UPLOAD = "upload_id"
    FILE = "file_id"


@dataclass(frozen=True)
class ImageSource:
    """One image of a set: a URL to fetch, an upload of the team, or a file the model already has."""

    kind: SourceKind
    reference: str


@dataclass(frozen=True)
class TrainingSetRules:
    min_images: int
    max_images: int
    min_short_side_pixels: int

    def violations(self) -> dict[str, str]:
        """What is wrong with the rules themselves: the caller's mistake, not the team's."""
        violations = {}
        if self.min_images < 1:
            violations["min_images"] = "must be at least 1"
        if self.max_images < self.min_images:
            violations["max_images"] = "must be at least min_images"
        if self.min_short_side_pixels < 0:
            violations["min_short_side_pixels"] = "must not be negative"
        return violations


@dataclass(frozen=True)
class TrainingSetProblem:
    """One reason the set cannot be used; `code` is stable (see TrainingSetProblem in the proto)."""

    index: int
    code: str
    message: str


@dataclass(frozen=True)
class CheckedImage:
    """The bytes of one source that could be read: their checksum, and what image they are."""

    index: int
    size_bytes: int
    sha256_hex: str
    # None when the bytes are not a PNG, JPEG or WebP image.
    image: ImageInfo | None


class TrainingSetChanged(DomainError):
    """An upload changed hands between the checks and the store; the caller retries the whole call,
    which then reports the problem (or succeeds)."""

    kind = ErrorKind.ABORTED


def check_image(index: int, data: bytes) -> CheckedImage:
    image = identify_image(data)
    return CheckedImage(index, len(data), hashlib.sha256(data).hexdigest(), image)


def training_set_problems(
    rules: TrainingSetRules,
    source_count: int,
    images: Sequence[CheckedImage],
    unreadable: Sequence[TrainingSetProblem],
) -> list[TrainingSetProblem]:
    """Every problem of the set, whole-set problems first and then by index; none means it can be used.

    `images` are the sources that could be read, `unreadable` the problems of those that could not.
    Every check runs on every image, so the team fixes the whole set in one go."""
    problems = list(unreadable)
    if source_count < rules.min_images:
        problems.append(
            TrainingSetProblem(
                WHOLE_SET, "too_few_images", f"{source_count} images; at least {rules.min_images} are needed"
            )
        )
    if source_count > rules.max_images:
        problems.append(
            TrainingSetProblem(
                WHOLE_SET, "too_many_images", f"{source_count} images; at most {rules.max_images} are allowed"
            )
        )
    first_index_by_sha256: dict[str, int] = {}
    for checked in sorted(images, key=lambda checked: checked.index):
        if checked.image is None:
            problems.append(TrainingSetProblem(checked.index, "not_an_image", NOT_AN_IMAGE))
        elif min(checked.image.width, checked.image.height) < rules.min_short_side_pixels:
            problems.append(
                TrainingSetProblem(
                    checked.index,
                    "too_small",
                    f"the image is {checked.image.width}x{checked.image.height} pixels; its shorter side "
                    f"must be at least {rules.min_short_side_pixels}",
                )
            )
        earlier = first_index_by_sha256.setdefault(checked.sha256_hex, checked.index)
        if earlier != checked.index:
            problems.append(
                TrainingSetProblem(checked.index, "duplicate", f"the same image as source {earlier}")
            )
    # Stable: an image's own problems keep the order they were found in.
    return sorted(problems, key=lambda problem: problem.index)


class TrainingZip:
    """The zip a trainer reads: entries 000.png, 001.jpg, ... in source order, stored as they are
    (images are compressed already) and dated 1980-01-01, so the same images make the same zip."""

    def __init__(self, target: IO[bytes]) -> None:
        self._archive = zipfile.ZipFile(target, "w")
        self._count = 0

    def add(self, extension: str, image: IO[bytes]) -> None:
        entry = zipfile.ZipInfo(f"{self._count:03d}.{extension}", date_time=(1980, 1, 1, 0, 0, 0))
        entry.compress_type = zipfile.ZIP_STORED
        image.seek(0)
        with self._archive.open(entry, "w") as out:
            shutil.copyfileobj(image, out)
        self._count += 1

    def __enter__(self) -> "TrainingZip":
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Writes the central directory; the target then holds the whole zip.
        self._archive.close()

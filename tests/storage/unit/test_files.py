"""What a file must be for its kind, announced uploads, and what readers see, without any server."""

from datetime import UTC, datetime, timedelta

import pytest
from imagegen_platform.errors import InvalidArgument
from imagegen_storage.domain.files import FileKind, FileState, check_upload, inspect_file, state_at

MiB = 1024 * 1024


def test_a_model_config_is_a_json_object():
    info = inspect_file(FileKind.MODEL_CONFIG, b'{"steps": 1000, "trigger_word": "ohwx"}')
    assert (info.content_type, info.extension) == ("application/json", "json")


@pytest.mark.parametrize("data", [b"[1, 2]", b"not json", b"\xff\xfe", b"[" * 100_000])
def test_anything_else_is_not_a_model_config(data):
    with pytest.raises(InvalidArgument) as caught:
        inspect_file(FileKind.MODEL_CONFIG, data)
    assert caught.value.reason == "not_a_json_object"


@pytest.mark.parametrize(
    ("content_type", "extension"), [("image/png", "png"), ("image/jpeg", "jpg"), ("image/webp", "webp")]
)
def test_an_upload_may_be_a_png_jpeg_or_webp_image(content_type, extension):
    assert check_upload(content_type, 1, "photo", 50 * MiB) == extension


def test_every_wrong_field_of_an_upload_is_named_at_once():
    with pytest.raises(InvalidArgument) as caught:
        check_upload("image/gif", 50 * MiB + 1, "x" * 256, 50 * MiB)
    assert caught.value.reason == "invalid_upload"
    assert set(caught.value.details) == {"content_type", "size_bytes", "filename"}


@pytest.mark.parametrize("size_bytes", [0, -1])
def test_an_upload_has_at_least_one_byte(size_bytes):
    with pytest.raises(InvalidArgument) as caught:
        check_upload("image/png", size_bytes, "", 50 * MiB)
    assert set(caught.value.details) == {"size_bytes"}


def test_an_upload_awaiting_its_bytes_reads_as_expired_after_its_expiry():
    now = datetime.now(UTC)
    expires_at = now + timedelta(days=1)
    assert state_at(FileState.AWAITING_UPLOAD, expires_at, False, now) is FileState.AWAITING_UPLOAD
    later = now + timedelta(days=2)
    assert state_at(FileState.AWAITING_UPLOAD, expires_at, False, later) is FileState.EXPIRED

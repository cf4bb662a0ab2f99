"""Test images for storage's unit and integration tests."""

import io
import os

import pytest
from PIL import Image


def png_bytes(
    width: int, height: int, color: tuple[int, int, int] = (200, 30, 40), noise: bool = False
) -> bytes:
    """A PNG; noise makes it incompressible, so its size is about width x height x 3."""
    image = (
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        if noise
        else Image.new("RGB", (width, height), color)
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def png():
    """Makes PNGs: png(width, height, color=..., noise=...); different colours make different files."""
    return png_bytes

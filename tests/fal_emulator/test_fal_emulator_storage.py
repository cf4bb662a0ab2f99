"""Uploads through fal-client (CDN path and storage fallback) and the multipart protocol."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def test_upload_file_returns_a_url_the_emulator_serves(
    fal_sync: Any, fal_emulator: Any, tmp_path: Path
) -> None:
    path = tmp_path / "dataset.zip"
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)

    url = fal_sync.upload_file(path)

    response = fal_emulator.http.get(url)
    assert url.startswith(f"{fal_emulator.base_url}/files/") and url.endswith("/dataset.zip")
    assert response.content == path.read_bytes()
    assert response.headers["content-type"] == "application/zip"


def test_storage_fallback_initiate_and_put(fal_sync: Any, fal_emulator: Any) -> None:
    url = fal_sync.upload(b"caption text", "text/plain", file_name="a.txt", repository="fal")

    response = fal_emulator.http.get(url)
    assert response.content == b"caption text"
    assert response.headers["content-type"].startswith("text/plain")


def test_multipart_upload_protocol(fal_emulator: Any) -> None:
    http = fal_emulator.http
    token = http.post(
        f"{fal_emulator.base_url}/rest/storage/auth/token?storage_type=fal-cdn-v3",
        json={},
        headers={"Authorization": f"Key {fal_emulator.env['FAL_KEY']}"},
    ).json()
    auth = {"Authorization": f"{token['token_type']} {token['token']}"}
    assert token["expires_at"].endswith("+00:00")
    started = http.post(
        f"{token['base_url']}/files/upload/multipart",
        headers={**auth, "Content-Type": "application/octet-stream", "X-Fal-File-Name": "big.bin"},
    ).json()
    parts = [b"a" * 1000, b"b" * 10]

    etags = []
    for number, chunk in enumerate(parts, start=1):
        response = http.put(
            f"{started['access_url']}/multipart/{started['uploadId']}/{number}",
            content=chunk,
            headers=auth,
        )
        etags.append({"partNumber": number, "etag": response.headers["etag"]})
    completed = http.post(
        f"{started['access_url']}/multipart/{started['uploadId']}/complete",
        json={"parts": etags},
        headers=auth,
    )

    assert completed.status_code == 200
    assert etags[0]["etag"] == f'"{hashlib.md5(parts[0]).hexdigest()}"'
    assert http.get(started["access_url"]).content == b"".join(parts)


def test_upload_without_valid_token_is_rejected(fal_emulator: Any) -> None:
    response = fal_emulator.http.post(
        f"{fal_emulator.base_url}/files/upload",
        content=b"x",
        headers={"Authorization": "Bearer made-up"},
    )

    assert response.status_code == 401

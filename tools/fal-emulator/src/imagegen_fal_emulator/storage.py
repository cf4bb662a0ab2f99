"""In-memory file store behind /files, and fetching of file inputs (http(s) and data: URLs)."""

from __future__ import annotations

import base64
import re
import ssl
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import httpx


@dataclass(frozen=True)
class StoredFile:
    content: bytes
    content_type: str
    file_name: str


@dataclass
class MultipartUpload:
    key: str
    content_type: str
    parts: dict[int, bytes] = field(default_factory=dict)


def safe_file_name(name: str | None, default: str = "upload.bin") -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name or "").lstrip(".")
    return cleaned or default


class FileStore:
    """Files live only as long as the process: like fal's CDN, but forgetful on restart."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        # Keys handed out by /storage/upload/initiate that still wait for their PUT.
        self._pending: dict[str, str] = {}
        self._multipart: dict[str, MultipartUpload] = {}

    def put(self, key: str, content: bytes, content_type: str) -> StoredFile:
        stored = StoredFile(content, content_type, key.rsplit("/", 1)[-1])
        self._files[key] = stored
        return stored

    def get(self, key: str) -> StoredFile | None:
        return self._files.get(key)

    @staticmethod
    def new_key(file_name: str) -> str:
        return f"{uuid.uuid4().hex}/{safe_file_name(file_name)}"

    def reserve(self, file_name: str, content_type: str) -> str:
        key = self.new_key(file_name)
        self._pending[key] = content_type
        return key

    def complete_reserved(self, key: str, content: bytes) -> bool:
        content_type = self._pending.pop(key, None)
        if content_type is None:
            return False
        self.put(key, content, content_type)
        return True

    def start_multipart(self, file_name: str, content_type: str) -> tuple[str, str]:
        upload_id = uuid.uuid4().hex
        key = self.new_key(file_name)
        self._multipart[upload_id] = MultipartUpload(key, content_type)
        return key, upload_id

    def add_part(self, key: str, upload_id: str, number: int, content: bytes) -> bool:
        upload = self._multipart.get(upload_id)
        if upload is None or upload.key != key:
            return False
        upload.parts[number] = content
        return True

    def finish_multipart(self, key: str, upload_id: str, part_numbers: list[int]) -> bool:
        upload = self._multipart.get(upload_id)
        if upload is None or upload.key != key:
            return False
        if sorted(part_numbers) != sorted(upload.parts):
            return False
        del self._multipart[upload_id]
        content = b"".join(upload.parts[n] for n in sorted(upload.parts))
        self.put(key, content, upload.content_type)
        return True


class FetchError(Exception):
    """A file input could not be read; apps turn it into a 422 on the field."""


def decode_data_url(url: str) -> bytes:
    header, sep, data = url.partition(",")
    if not sep:
        raise FetchError("malformed data: URL")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise FetchError(f"malformed base64 in data: URL ({exc})") from exc
    return unquote_to_bytes(data)


class FileFetcher:
    """Reads file inputs; trusts the same CA bundle clients get, so emulator URLs work too."""

    def __init__(self, ca_bundle: str, timeout: float = 30.0) -> None:
        self._ssl = ssl.create_default_context(cafile=ca_bundle)
        self._timeout = timeout

    async def fetch(self, url: str) -> bytes:
        if url.startswith("data:"):
            return decode_data_url(url)
        if not url.startswith(("http://", "https://")):
            raise FetchError(f"unsupported URL scheme in {url[:40]!r}")
        try:
            async with httpx.AsyncClient(
                verify=self._ssl, timeout=self._timeout, follow_redirects=True
            ) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise FetchError(f"could not download {url}: {exc}") from exc
        if response.status_code != 200:
            raise FetchError(f"could not download {url}: HTTP {response.status_code}")
        return response.content

"""Our bucket, through boto3 (run in threads: boto3 is synchronous)."""

import asyncio
import base64
import hashlib
import io
import logging
import random
import time
from typing import IO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from imagegen_platform.errors import InvalidArgument, Unavailable

from imagegen_storage.config import StorageSettings

log = logging.getLogger(__name__)

# Objects carry their retention as a tag; one lifecycle rule per retention expires them in S3 even
# if our cleanup never runs. Rules we own are recognised by their id prefix.
RETENTION_TAG = "imagegen-retention-days"
RULE_PREFIX = "imagegen-"
# Errors worth another attempt: the request may succeed if sent again.
_TRANSIENT_CODES = {
    "BadDigest",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
}


def _transient(error: Exception) -> bool:
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        response = error.response
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return False


def _retention_tagging(retention_days: int) -> str:
    return f"{RETENTION_TAG}={retention_days}"


def _checksums(body: IO[bytes]):
    """SHA-256 and MD5 of a whole body, read once in chunks."""
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    body.seek(0)
    while chunk := body.read(1024 * 1024):
        sha256.update(chunk)
        md5.update(chunk)
    return sha256, md5


def lifecycle_rules(retention_days: set[int]) -> list[dict]:
    """Our lifecycle rules: expire each retention tag's objects, and abandoned multipart uploads."""
    rules: list[dict] = [
        {
            "ID": f"{RULE_PREFIX}retention-{days}d",
            "Filter": {"Tag": {"Key": RETENTION_TAG, "Value": str(days)}},
            "Status": "Enabled",
            "Expiration": {"Days": days},
        }
        for days in sorted(retention_days)
    ]
    rules.append(
        {
            "ID": f"{RULE_PREFIX}abort-incomplete-uploads",
            "Filter": {"Prefix": "teams/"},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    )
    return rules


class S3BlobStore:
    def __init__(self, settings: StorageSettings) -> None:
        secret = settings.aws_secret_access_key
        self.bucket = settings.s3_bucket
        self.client = boto3.client(
            "s3",
            region_name=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, signature_version="s3v4"),
        )
        self.upload_attempts = settings.upload_attempts
        self.upload_backoff_seconds = settings.upload_backoff_seconds

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    def _apply_lifecycle(self, retention_days: set[int]) -> bool:
        """Make our rules the bucket's, keeping anyone else's; no write when nothing changed."""
        try:
            current = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            current = []
        others = [rule for rule in current if not rule.get("ID", "").startswith(RULE_PREFIX)]
        ours = sorted(
            (rule for rule in current if rule.get("ID", "").startswith(RULE_PREFIX)),
            key=lambda rule: rule["ID"],
        )
        wanted = lifecycle_rules(retention_days)
        if ours == sorted(wanted, key=lambda rule: rule["ID"]):
            return False
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": others + wanted}
        )
        return True

    async def apply_lifecycle(self, retention_days: set[int]) -> bool:
        return await asyncio.to_thread(self._apply_lifecycle, retention_days)

    def _apply_cors(self, origins: list[str]) -> None:
        # The web app PUTs presigned uploads (preflighted: they send x-amz-tagging) and GETs images
        # through signed URLs to save them as files.
        self.client.put_bucket_cors(
            Bucket=self.bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": origins,
                        "AllowedMethods": ["GET", "PUT"],
                        "AllowedHeaders": ["content-type", "x-amz-tagging"],
                        "MaxAgeSeconds": 3600,
                    }
                ]
            },
        )

    async def apply_cors(self, origins: list[str]) -> None:
        await asyncio.to_thread(self._apply_cors, origins)

    def _put_verified(
        self,
        key: str,
        body: IO[bytes],
        content_type: str,
        metadata: dict[str, str],
        retention_days: int | None,
    ) -> None:
        """Upload with checksums S3 checks on arrival, then compare the checksum the PUT's answer
        reports (no read back): a file counts as stored only once S3 holds exactly these bytes.
        Transient errors retry with exponential backoff and jitter. The body is streamed, so a large
        file (a training zip) need not be held in memory."""
        sha256, md5 = _checksums(body)
        # Bytes already in memory go as bytes: botocore sends any file object with
        # `Expect: 100-continue`, which waits a round trip before the body.
        payload = body.getvalue() if isinstance(body, io.BytesIO) else body
        extra = {"Tagging": _retention_tagging(retention_days)} if retention_days else {}
        for attempt in range(1, self.upload_attempts + 1):
            try:
                body.seek(0)
                stored = self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=payload,
                    ContentType=content_type,
                    Metadata=metadata,
                    ContentMD5=base64.b64encode(md5.digest()).decode(),
                    ChecksumSHA256=base64.b64encode(sha256.digest()).decode(),
                    **extra,
                )
                if self._matches(stored, sha256.digest(), md5.hexdigest()):
                    return
                log.warning("stored object did not verify", extra={"key": key, "attempt": attempt})
            except (BotoCoreError, ClientError) as error:
                if not _transient(error) or attempt == self.upload_attempts:
                    raise Unavailable("storage_unavailable", "the file could not be stored") from None
                log.warning("upload failed, retrying", extra={"key": key, "attempt": attempt})
            if attempt < self.upload_attempts:
                delay = self.upload_backoff_seconds * 2 ** (attempt - 1)
                time.sleep(delay + random.uniform(0, delay))
        raise Unavailable("storage_unverified", "the stored file did not match what was uploaded")

    @staticmethod
    def _matches(stored: dict, sha256: bytes, md5_hex: str) -> bool:
        """The strongest checksum S3 reports for what it stored: SHA-256 when it keeps one, else the
        ETag, which is the MD5 of a single-part upload (not under SSE-KMS, where S3 keeps SHA-256).
        Equal checksums mean equal bytes, so equal sizes too."""
        if stored.get("ChecksumSHA256"):
            return base64.b64decode(stored["ChecksumSHA256"]) == sha256
        etag = stored.get("ETag", "").strip('"')
        return "-" in etag or etag == md5_hex

    async def put_verified(
        self,
        key: str,
        body: IO[bytes],
        content_type: str,
        metadata: dict[str, str],
        retention_days: int | None = None,
    ) -> None:
        await asyncio.to_thread(self._put_verified, key, body, content_type, metadata, retention_days)

    def _read(self, key: str, max_bytes: int) -> bytes | None:
        """An object's bytes; None when there is no such object."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise Unavailable("storage_unavailable", "the file could not be read") from None
        except BotoCoreError:
            raise Unavailable("storage_unavailable", "the file could not be read") from None
        with response["Body"] as stream:
            if response["ContentLength"] > max_bytes:
                raise InvalidArgument("file_too_large", f"the file is over {max_bytes} bytes")
            return stream.read()

    async def read(self, key: str, max_bytes: int) -> bytes | None:
        return await asyncio.to_thread(self._read, key, max_bytes)

    def _delete(self, keys: list[str]) -> None:
        """Delete objects; a key that is already gone counts as deleted (S3 says so too)."""
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )
            if response.get("Errors"):
                first = response["Errors"][0]
                raise Unavailable("storage_unavailable", f"could not delete {first['Key']}: {first['Code']}")

    async def delete(self, keys: list[str]) -> None:
        if keys:
            await asyncio.to_thread(self._delete, keys)

    def sign_upload(
        self, key: str, content_type: str, size_bytes: int, retention_days: int, ttl_seconds: int
    ) -> tuple[str, dict[str, str]]:
        """A presigned PUT and the headers it must be sent with. Content-Type, Content-Length and the
        retention tag are signed, so S3 refuses any other type or size, and the object carries the tag
        its lifecycle rule expires it by (in case nobody ever claims it). Local computation only."""
        tagging = _retention_tagging(retention_days)
        url = self.client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size_bytes,
                "Tagging": tagging,
            },
            ExpiresIn=ttl_seconds,
        )
        # Content-Length is not listed: every HTTP client sends it (browsers refuse to set it).
        return url, {"Content-Type": content_type, "x-amz-tagging": tagging}

    def sign(self, key: str, ttl_seconds: int) -> str:
        """An S3 presigned GET. Signing is local computation, no request: cheap enough to run inline."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )

"""Our bucket, through boto3 (run in threads: boto3 is synchronous)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from imagegen_platform.errors import Unavailable

from imagegen_storage.config import StorageSettings

UPLOAD_ATTEMPTS = 4


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

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    def _put_verified(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        """Upload, then read back the size: a file counts as stored only once S3 has all of it."""
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ContentType=content_type,
                    Metadata=metadata,
                )
                head = self.client.head_object(Bucket=self.bucket, Key=key)
                if head["ContentLength"] == len(data):
                    return
            except (BotoCoreError, ClientError):
                if attempt == UPLOAD_ATTEMPTS:
                    raise Unavailable("storage_unavailable", "the file could not be stored") from None
            time.sleep(0.2 * 2**attempt)
        raise Unavailable("storage_unverified", "the stored file did not match what was uploaded")

    async def put_verified(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None:
        await asyncio.to_thread(self._put_verified, key, data, content_type, metadata)

    def presigned_get(self, key: str, ttl_seconds: int) -> tuple[str, datetime]:
        # Signing is local computation, no request: cheap enough to run inline.
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
        return url, datetime.now(UTC) + timedelta(seconds=ttl_seconds)

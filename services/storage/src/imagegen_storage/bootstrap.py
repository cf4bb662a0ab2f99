"""Composition root: builds the storage use cases' dependencies from settings."""

from imagegen_platform import db

from imagegen_storage.adapters.fetcher import HttpFetcher
from imagegen_storage.adapters.s3 import S3BlobStore
from imagegen_storage.config import StorageSettings
from imagegen_storage.domain.files import FileKind
from imagegen_storage.service_layer.handlers import Storage


def build_storage(settings: StorageSettings) -> Storage:
    return Storage(
        engine=db.create_engine(settings.database_url),
        blobs=S3BlobStore(settings),
        fetcher=HttpFetcher(settings.max_download_bytes, settings.download_timeout_seconds),
        url_ttl_seconds=settings.url_ttl_seconds,
        retention_days={FileKind.GENERATED_IMAGE: settings.generated_image_retention_days},
    )

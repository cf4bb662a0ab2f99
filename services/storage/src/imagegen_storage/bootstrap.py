"""Composition root: builds the storage use cases' dependencies from settings."""

from datetime import UTC, datetime, timedelta

from imagegen_platform import db

from imagegen_storage.adapters.cloudfront import CloudFrontUrlSigner
from imagegen_storage.adapters.fetcher import HttpFetcher
from imagegen_storage.adapters.s3 import S3BlobStore
from imagegen_storage.config import StorageSettings
from imagegen_storage.domain.files import FileKind
from imagegen_storage.service_layer.handlers import Retention, Storage, UrlSigner


def build_storage(settings: StorageSettings) -> Storage:
    blobs = S3BlobStore(settings)
    signer: UrlSigner = blobs
    if settings.cloudfront_domain and settings.cloudfront_key_pair_id and settings.cloudfront_private_key:
        signer = CloudFrontUrlSigner(
            settings.cloudfront_domain,
            settings.cloudfront_key_pair_id,
            settings.cloudfront_private_key.get_secret_value(),
        )
    offset = timedelta(seconds=settings.clock_offset_seconds)
    return Storage(
        engine=db.create_engine(settings.database_url),
        blobs=blobs,
        fetcher=HttpFetcher(
            settings.max_download_bytes,
            settings.download_timeout_seconds,
            settings.fetch_allowed_networks,
        ),
        signer=signer,
        url_ttl_seconds=settings.url_ttl_seconds,
        max_file_bytes=settings.max_download_bytes,
        upload_url_ttl_seconds=settings.upload_url_ttl_seconds,
        retention=Retention(
            days_by_kind={
                FileKind.GENERATED_IMAGE: settings.generated_image_retention_days,
                FileKind.PREVIEW: settings.preview_retention_days,
                # Training data, weights and configs live as long as their model (DeleteOwnerFiles).
                FileKind.TRAINING_ZIP: None,
                FileKind.TRAINING_IMAGE: None,
                FileKind.LORA_WEIGHTS: None,
                FileKind.MODEL_CONFIG: None,
            },
            unclaimed_upload_days=settings.upload_retention_days,
            generated_image_days_by_plan=settings.retention_days_by_plan,
        ),
        clock=lambda: datetime.now(UTC) + offset,
    )

"""CloudFront signed URLs (canned policy): the distribution serves the bucket, and only URLs
signed with our key pair's private key are let through until their expiry."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class CloudFrontUrlSigner:
    def __init__(self, domain: str, key_pair_id: str, private_key_pem: str) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the CloudFront private key must be an RSA key")
        self._key = key
        self.base_url = f"https://{domain.removeprefix('https://').rstrip('/')}"
        self._signer = CloudFrontSigner(key_pair_id, self._rsa_sha1)

    def _rsa_sha1(self, message: bytes) -> bytes:
        # CloudFront's canned policy signature: RSA PKCS#1 v1.5 over SHA-1, as AWS specifies.
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA1())

    def sign(self, key: str, ttl_seconds: int) -> str:
        url = f"{self.base_url}/{quote(key, safe='/')}"
        expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
        return self._signer.generate_presigned_url(url, date_less_than=expires)
